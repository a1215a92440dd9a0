"""How much training a model task embedding needs to land in its task's place in the unified space.

For the fine-tuned models of a finished demo run (`scripts/demo.py --out RUN [--seeds 1,2,3]`), learns
the FUTE MTE of every model of every seed again at each budget of a grid (x' per pool source, epochs,
learning rate), each under its seed, and ranks each seed's MTEs among that seed's FUTE DTEs of the
same method, as `run_eval.py space` does. Prints one line per (method, budget):

    method  x'/src  x'  epochs  lr  steps  disp  | raw: own  family [95%]  random | e-e0: ... | s

- steps: optimiser steps of one MTE; disp: mean ||e - e0|| / ||e0|| of the prefix MTEs;
- own, family: the MRR of the own task's DTE and of the first DTE of the model's task family (each
  dataset's family, configs/datasets.yaml), means over MTEs and seeds; family with its 95% cluster
  bootstrap interval over MTEs (docs/statistics.md); random: the family MRR a random order of the DTEs
  gives (task_emb/space_controls.py); raw: cosines of the embeddings; e-e0: of their displacements
  from the shared initialisation;
- s: wall seconds of the budget's MTEs over every seed (y' included; kept with them, so a rerun shows
  them too).

A budget is *found* when, in either view, the lower bound of the family MRR's interval is above the
random family MRR: the MTEs find their family more often than a random order would, beyond the spread
over tasks and seeds.

A FIM MTE fine-tunes the surrogate on y' before reading the Fisher information off it: its
budget is x' and epochs at the learning rate of --fim_learning_rate (default: the method's).

    python benchmarks/mte_budget.py --run demo_output --pool data/samples/unsup_pool.jsonl \
        --x_per_source 24,96 --epochs 2,4 --learning_rates 1e-3,1e-2 --families prefix,fim

Budgets run per learning rate, cheapest first (x' x epochs); --stop_when_found ends a learning
rate's series at its first found budget. Each budget's MTEs are written under
--out/<method>/<budget>/seed<k>/ and reused by a second run; the rows go to --out/budgets.json as
they come.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from collections import Counter
from pathlib import Path

import environment  # noqa: F401  (first: puts the repository on sys.path, sets HF_HUB_OFFLINE)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from configs.methods import method_of  # noqa: E402
from data_utils import cli  # noqa: E402
from data_utils.artifacts.embeddings import load_embeddings  # noqa: E402
from data_utils.artifacts.paths import ResultLayout  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from data_utils.unsup_pool import read_local_pool  # noqa: E402
from mte_budget_grid import HEADER, budget_row, budgets, format_row, run_budget  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="a finished demo output folder (fine-tuned models and FUTE DTEs)")
    p.add_argument("--pool", required=True, help="x' pool (JSONL), as the demo's --pool")
    p.add_argument("--out", default=None, help="where the MTEs go (default: RUN/mte_budget)")
    p.add_argument("--tasks", type=cli.csv_list, default=None,
                   help="fine-tuned CR tasks (default: every task with a checkpoint and a FUTE DTE in RUN)")
    p.add_argument("--families", type=cli.csv_list, default=["prefix", "fim"], help="prefix, fim or both")
    p.add_argument("--x_per_source", type=cli.csv_list, default=["24", "96"], help="x' per pool source")
    p.add_argument("--epochs", type=cli.csv_list, default=["2", "4"], help="epochs of an MTE")
    p.add_argument("--learning_rates", type=cli.csv_list, default=["1e-3", "1e-2"],
                   help="learning rates of a prefix MTE")
    p.add_argument("--fim_learning_rate", default=None, help="learning rate of a FIM MTE (default: the method's)")
    p.add_argument("--surrogate", default=None,
                   help="the surrogate T (default: the one the run's DTEs name in their records)")
    p.add_argument("--batch_size", type=cli.positive_int, default=16, help="effective batch of an MTE (the demo's)")
    p.add_argument("--seeds", type=cli.csv_list, default=None,
                   help="comma-separated seeds of RUN whose models get MTEs (default: every seed<k> folder in RUN)")
    p.add_argument("--stop_when_found", type=cli.str2bool, default=False,
                   help="end a learning rate's series at its first budget whose family MRR's interval lies above "
                        "a random order's")
    p.add_argument("--threads", type=cli.positive_int, default=None, help="torch CPU threads")
    return p.parse_args(argv)


def seeds_of_run(run: Path, asked: list[str] | None) -> list[int]:
    """The seeds to learn MTEs under: `asked`, else every seed<k> folder of `run`."""
    found = sorted(int(p.name[4:]) for p in run.glob("seed*") if p.name[4:].isdigit())
    seeds = [int(seed) for seed in asked] if asked else found
    missing = sorted(set(seeds) - set(found))
    if not seeds or missing:
        raise FuteError(f"{run} has no seed folder for {', '.join(map(str, missing)) or 'any seed'}; run "
                        f"scripts/demo.py --out {run} --seeds ... first")
    return seeds


def check_pool_holds(pool: str, x_per_source: list[str]) -> None:
    """Every budget's x' per source is drawn from `pool`: a budget past its largest source would learn from the
    same x' as a smaller one, and be read as a bigger budget."""
    counts = Counter(example.source for example in read_local_pool(pool)[0])
    most = max(counts.values())
    beyond = [x for x in x_per_source if int(x) > most]
    if beyond:
        held = ", ".join(f"{source} {count}" for source, count in counts.items())
        raise FuteError(f"{pool} holds at most {most} x' per source ({held}), so --x_per_source {','.join(beyond)} "
                        f"would reuse the x' of a smaller budget; lower it or pass a --pool with more per source")


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    check_pool_holds(args.pool, args.x_per_source)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    run = Path(args.run)
    seeds = seeds_of_run(run, args.seeds)
    layouts = {seed: ResultLayout(run).for_seed(seed) for seed in seeds}
    out = Path(args.out or run / "mte_budget")
    rows = []
    for family in args.families:
        method = method_of(family, fute=True).id
        dtes = {seed: [e for e in load_embeddings(layout.embeddings() / method) if e.kind == "DTE"]
                for seed, layout in layouts.items()}
        tasks = args.tasks or sorted(set.intersection(*({e.dataset for e in dtes[seed]
                                                         if layout.checkpoint(e.dataset).is_dir()}
                                                        for seed, layout in layouts.items())))
        if not tasks:
            raise FuteError(f"{args.run} has no fine-tuned model with a {method} DTE in every seed; run "
                            f"scripts/demo.py first")
        surrogate = args.surrogate or dtes[seeds[0]][0].info.surrogate
        stopped: set[str | None] = set()  # learning rates whose series found its smallest budget
        rates = args.learning_rates if family == "prefix" else [args.fim_learning_rate]
        for budget in (b for rate in rates for b in budgets(args, rate)):
            x_per_source, epochs, rate = budget
            if rate in stopped:
                continue
            folder = out / method / f"x{x_per_source}_e{epochs}_lr{rate or 'default'}"
            seconds = sum(run_budget(args, layout, family, tasks, surrogate, budget, folder / f"seed{seed}")
                          for seed, layout in layouts.items())
            row = budget_row(method, budget, dtes, tasks, folder, seconds)
            rows.append(row)
            (out / "budgets.json").write_text(json.dumps(rows, indent=1) + "\n")  # kept if the sweep is stopped
            print(HEADER, format_row(row), sep="\n", flush=True)
            if args.stop_when_found and row["found"]:
                stopped.add(rate)
    print("\nAll budgets:", HEADER, *map(format_row, rows), sep="\n")  # the steps' logs scatter the lines above
    return rows


if __name__ == "__main__":
    cli.exit_with(main)
