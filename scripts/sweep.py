"""The paper's sweeps: every step of one sweep, run here (in order, or N at a time over GPUs) or on SLURM.

    python scripts/sweep.py finetune --out ./result --lm bert-base-uncased [--cr_datasets mrpc,rte]
    python scripts/sweep.py task_emb --out ./result --surrogate t5-base --jobs 4 --gpus 0,1,2,3
    python scripts/sweep.py llm --out ./result --llms llama-13b,mixtral --launcher slurm \\
        --slurm_args "--partition=gpu --gres=gpu:1 --time=24:00:00"
    python scripts/sweep.py eval --out ./result

Sweeps: finetune (the transfer scores), task_emb (DTEs, TextEmb, the fine-tuned models' MTEs),
llm (x', LLM inference, y', LLM + prompt MTEs, the prompt-selection baselines), eval (the three tables
and the plots), all (the four as one graph: each step waits exactly for what it reads, e.g. a
transfer for its source's fine-tune, an MTE for its model, the tables for everything). A step is done
when its outputs are finished (their record, written last, is there: data_utils/artifacts/completion.py)
by its own command, after everything it reads; then it is skipped, so a sweep run again does only what
is missing and finishes what a kill interrupted. A step whose outputs are finished but by another
command (other flags, --extra or --te_extra) or before something it reads changed is stale: the sweep
says so and runs it again, with --overwrite True where its script needs that to replace them.
--list prints per stage the steps done, pending and stale and the stages they wait for (--list tsv: each
pending step, its state, what it waits for, its command); --dry_run prints the commands (or, with
--launcher slurm, the sbatch commands) and runs nothing; --status names every step not done (failed,
held back, queued on SLURM, running, stale, unfinished, not run) with why and its log. --seeds 1,2,3: every
fine-tune, transfer, embedding, x', LLM run and baseline once per seed, given --seed N, in <out>/seedN/ (one
seed, 42, by default); the tables and plots, in <out>/eval/, read every seed. Output layout:
data_utils/artifacts/paths.py; every step's log: <out>/logs/<step>.log. Lists are comma-separated; the
defaults are the original scripts' (--grid paper: the pool of the paper's transferability table, whose reported
numbers the tables then show beside ours: docs/reproducing.md).

Exit status: 0 every step ran (or was submitted) and succeeded; a step's own status (one after
another) or 1 (--jobs) when one failed, the step and its log named; 2 a bad option. --status, and
--launcher slurm --wait once SLURM holds none of the sweep's tasks: 0 every step done, 1 a step
failed or is held back by one, 3 some are still queued, running or not run.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's packages

from configs.datasets import NUM_PROMPTS  # noqa: E402
from configs.hparams import DEFAULT_SEED  # noqa: E402
from configs.models import BITS  # noqa: E402
from llm_inference.options import BACKENDS  # noqa: E402
from data_utils import cli  # noqa: E402
from sweeps import launch, paper  # noqa: E402
from sweeps.options import (EMB_TYPES, GRIDS, PAPER_LLM_SETS, PAPER_LLMS, SweepError, names,  # noqa: E402
                            options_from)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("sweep", choices=(*paper.SWEEPS, "all"), help="which sweep; all: every one as one graph")
    p.add_argument("--out", default="./result", help="result folder (default ./result)")
    p.add_argument("--lm", default="bert-base-uncased", help="LM fine-tuned on the CR/QA sources")
    p.add_argument("--surrogate", default="t5-base", help="surrogate model T of every task embedding")
    p.add_argument("--llms", default=PAPER_LLMS, help="LLMs: aliases, hub ids, folders or .gguf files")
    p.add_argument("--bit", type=int, default=8, choices=BITS, help="LLM weights (default 8)")
    p.add_argument("--backend", choices=BACKENDS, default="transformers",
                   help="LLM inference backend: transformers, or llamacpp for .gguf files (with --bit 32)")
    p.add_argument("--grid", choices=GRIDS, default="default",
                   help="the transfer pool: default (the original scripts' 15 CR and 10 QA sets) or paper (the paper's "
                        "11 CR and 11 QA sets, boolq as QA; with the default models its tables show the paper's "
                        "numbers beside ours)")
    p.add_argument("--cr_datasets", default=None,
                   help="CR transfer pool (default: --grid's); registry names or declaration files (.yaml, .yml, "
                        ".json: docs/your_data.md)")
    p.add_argument("--qa_datasets", default=None, help="QA transfer pool (default: --grid's)")
    p.add_argument("--llm_datasets", default=PAPER_LLM_SETS, help="LLM evaluation sets")
    p.add_argument("--prompts", default=None, help=f"prompt numbers (default 0-{NUM_PROMPTS - 1}; 10-12 are CoT)")
    p.add_argument("--emb_types", default=",".join(EMB_TYPES), help="task embedding families (default prefix,fim)")
    p.add_argument("--seeds", default=str(DEFAULT_SEED),
                   help=f"seeds: each one's steps run with --seed N into OUT/seedN/ (a step of a seed other than "
                        f"{DEFAULT_SEED} is named <step>_sN); the tables read every seed; adding one reuses the "
                        f"others' steps (default {DEFAULT_SEED}, the scripts' --seed)")
    p.add_argument("--data_dir", default=None,
                   help="read every dataset from DIR/<dataset>/ instead of the hub (default: the hub)")
    p.add_argument("--pool", default=None, help="the unsupervised pool x' is drawn from (JSONL) instead of the hub's "
                                              "(default: the hub's CrossFit datasets)")
    p.add_argument("--extra", default="", help="flags appended to the sweep's steps (llm: its LLM steps; eval: "
                                               "its transfer and prompt tables); they win (default: none)")
    p.add_argument("--te_extra", default="",
                   help="llm sweep: flags appended to its run_task_emb.py steps (default: none)")
    p.add_argument("--list", nargs="?", const="summary", choices=("summary", "tsv"), default=None,
                   help="print per stage its steps, how many are done, pending and stale and the stages they wait "
                        "for, and the total; --list tsv: every pending step, its state, what it waits for and its "
                        "command; run nothing (default: run the sweep)")
    p.add_argument("--dry_run", action="store_true", help="print what would run or be submitted; run nothing")
    p.add_argument("--status", action="store_true",
                   help="print every step not done with its state (failed, held back, queued, running, stale, "
                        "unfinished, not run), why and its log; exit 0 when all are done, 1 when one failed, 3 "
                        "while some are to run")
    p.add_argument("--wait", type=float, nargs="?", const=60.0, default=None, metavar="SECONDS",
                   help="--launcher slurm: after submitting, wait until SLURM holds none of the sweep's tasks "
                        "(asking every SECONDS, default 60), then report as --status does and exit with its status")
    p.add_argument("--jobs", type=int, default=1,
                   help="steps run at once on this machine, each with cores/N CPU threads unless OMP_NUM_THREADS is "
                        "set (default 1: in order)")
    p.add_argument("--gpus", default="", help="GPU ids for --jobs: each running model step gets one of its own "
                                              "(default: none, CUDA_VISIBLE_DEVICES as it is)")
    p.add_argument("--launcher", choices=("local", "slurm"), default="local", help="run here or submit to SLURM")
    p.add_argument("--slurm_args", default="", help="sbatch options for every job array, e.g. "
                                                    "\"--partition=gpu --gres=gpu:1 --time=24:00:00\" (default: none)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = options_from(args, Path.cwd())
        if args.wait is not None and (args.launcher != "slurm" or args.wait <= 0):
            raise SweepError("--wait SECONDS (> 0) is for --launcher slurm: a local sweep waits for its steps anyway")
    except SweepError as err:
        print(f"sweep.py: {err}", file=sys.stderr)
        return 2
    notes: list[str] = []
    graph = paper.build(args.sweep, options, notes)
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    if args.status:
        return launch.report_status(graph, options.out)
    states = graph.states()
    pending = graph.to_run(states)
    if len(pending) < len(graph.steps):
        print(f"# {len(graph.steps) - len(pending)} of {len(graph.steps)} steps done already", file=sys.stderr)
    if args.list:
        sys.stdout.write((launch.job_list if args.list == "tsv" else launch.stage_summary)(graph, pending, states))
        return 0
    launch.say_stale(pending, states, lambda line: print(line, file=sys.stderr))
    if args.launcher == "slurm":
        if pending:
            launch.submit_slurm(graph, pending, options.out, shlex.split(args.slurm_args), args.dry_run)
        if args.wait is None or args.dry_run:
            return 0
        launch.wait_for_slurm(graph, options.out, args.wait)
        return launch.report_status(graph, options.out)
    if args.dry_run:
        for step in pending:
            print(step.command())
        return 0
    return launch.run_local(graph, pending, args.jobs, names(args.gpus), options.out / "logs")


if __name__ == "__main__":
    sys.exit(main())
