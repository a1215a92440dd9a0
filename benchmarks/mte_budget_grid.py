"""The budget grid of mte_budget.py: its budgets in order, learning one budget's MTEs, ranking and printing them.

A budget is (x' per pool source, epochs, learning rate or None for the method's); its MTEs
are learned by run_task_emb.py's main and ranked among the run's DTEs by
task_emb.space_eval, as `run_eval.py space` ranks them.
"""
from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import environment  # noqa: F401  (first: puts the repository on sys.path)

import run_task_emb  # noqa: E402
from data_utils.artifacts.embeddings import read_embedding  # noqa: E402
from data_utils.artifacts.paths import ResultLayout  # noqa: E402
from task_emb.space_eval import build_space_table  # noqa: E402

HEADER = "method        x'/src    x'  epochs  lr      steps  disp  | raw: own family | e-e0: own family |     s"


def budgets(args: argparse.Namespace, rate: str | None) -> list[tuple[int, int, str | None]]:
    """(x' per source, epochs, `rate`) cheapest first: by x' x epochs, then x'."""
    grid = itertools.product(map(int, args.x_per_source), map(int, args.epochs), [rate])
    return sorted(grid, key=lambda b: (b[0] * b[1], b[0]))


def run_budget(args, layout: ResultLayout, family: str, tasks: list[str], surrogate: str,
               budget: tuple[int, int, str | None], folder: Path) -> float:
    """Learn the MTE of every task's model at one budget into `folder` (those not there yet); returns the wall
    seconds its MTEs took, kept in <folder>/wall_seconds.txt across runs that reuse them."""
    x_per_source, epochs, rate = budget
    timing = folder / "wall_seconds.txt"
    spent = float(timing.read_text()) if timing.exists() else 0.0
    for task in tasks:
        path = folder / f"{task}_mte.npy"
        if path.exists():
            continue
        started = time.time()
        run_task_emb.main(["--task_type", "cr", "--input_type", "model", "--task_emb_type", family,
                           "--load_path", str(layout.checkpoint(task)), "--task_emb_model_lm_name", surrogate,
                           "--unsup_data_path", args.pool, "--max_data_for_task_emb_train", str(x_per_source),
                           "--max_epochs", str(epochs), *(["--learning_rate", rate] if rate else []),
                           "--batch_size", str(args.batch_size), "--gradient_accumulation_steps", "1",
                           "--save_path", str(path)])
        spent += time.time() - started
        timing.write_text(f"{spent:.1f}\n")
    return spent


def budget_row(method: str, budget: tuple[int, int, str | None], dtes: list, tasks: list[str], folder: Path,
               seconds: float) -> dict:
    """One budget's row: its MTEs (read from `folder`) ranked among `dtes`, with their steps and displacement."""
    x_per_source, epochs, _ = budget
    mtes = [read_embedding(folder / f"{task}_mte.npy") for task in tasks]
    table = build_space_table([*dtes, *mtes], [method], str(folder), displacement=True)
    diagnostics = [m.config.get("diagnostics", {}) for m in mtes]
    displacement = [d["relative_displacement"] for d in diagnostics if "relative_displacement" in d]
    return {"method": method, "x_per_source": x_per_source, "epochs": epochs,
            "learning_rate": mtes[0].config["hyper_parameters"]["learning_rate"],
            "x_prime": sum(mtes[0].config["pool"]["sources"].values()),
            "steps": diagnostics[0].get("optimizer_steps"),
            "displacement": sum(displacement) / len(displacement) if displacement else None,
            **{f"{view}_{field}": count_nearest(table, method, view, f"{field}_rank")
               for view in ("raw", "displacement") for field in ("own", "family")},
            "seconds": seconds}


def count_nearest(table, method: str, view: str, field: str) -> str:
    ranks = [r for r in table.ranks if r.method == method and r.view == view and not r.llm]
    return f"{sum(getattr(r, field) == 1 for r in ranks)}/{len(ranks)}" if ranks else "-"


def format_row(row: dict) -> str:
    disp = f"{row['displacement']:.2f}" if row["displacement"] is not None else "  - "
    return (f"{row['method']:<12} {row['x_per_source']:>7} {row['x_prime']:>5} {row['epochs']:>7}  "
            f"{str(row['learning_rate']):<7} {str(row['steps']):>5}  {disp}  | {row['raw_own']:>8} "
            f"{row['raw_family']:>6} | {row['displacement_own']:>9} {row['displacement_family']:>6} | "
            f"{row['seconds']:5.0f}")
