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

HEADER = ("method        x'/src    x'  epochs  lr      steps  disp  | raw: own   family [95%]        random "
          "| e-e0: own  family [95%]        random | found |     s")


def budgets(args: argparse.Namespace, rate: str | None) -> list[tuple[int, int, str | None]]:
    """(x' per source, epochs, `rate`) cheapest first: by x' x epochs, then x'."""
    grid = itertools.product(map(int, args.x_per_source), map(int, args.epochs), [rate])
    return sorted(grid, key=lambda b: (b[0] * b[1], b[0]))


def run_budget(args, layout: ResultLayout, family: str, tasks: list[str], surrogate: str,
               budget: tuple[int, int, str | None], folder: Path) -> float:
    """Learn the MTE of every task's model of `layout`'s seed at one budget into `folder` (those not there yet),
    under that seed; returns the wall seconds its MTEs took, kept in <folder>/wall_seconds.txt across runs."""
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
                           "--save_path", str(path), "--seed", str(layout.seed)])
        spent += time.time() - started
        timing.write_text(f"{spent:.1f}\n")
    return spent


def budget_row(method: str, budget: tuple[int, int, str | None], dtes: dict[int, list], tasks: list[str],
               folder: Path, seconds: float) -> dict:
    """One budget's row: its MTEs (read from `folder`/seed<k>/) ranked among each seed's `dtes`, as MRRs with
    their interval and random value per view, with their steps and displacement."""
    x_per_source, epochs, _ = budget
    mtes = [read_embedding(folder / f"seed{seed}" / f"{task}_mte.npy") for seed in dtes for task in tasks]
    table = build_space_table([*(d for of_seed in dtes.values() for d in of_seed), *mtes], [method], str(folder),
                              displacement=True)
    diagnostics = [m.config.get("diagnostics", {}) for m in mtes]
    displacement = [d["relative_displacement"] for d in diagnostics if "relative_displacement" in d]
    views = {}
    for view in ("raw", "displacement"):
        summary = next((r for r in table.summary if r["view"] == view), None)
        control = next((r for r in table.controls if r["view"] == view), None)
        if summary is not None:
            family = summary["family_mrr"]
            views[view] = {"own_mrr": summary["own_mrr"].mean, "family_mrr": family.mean, "family_low": family.low,
                           "family_high": family.high, "random_family_mrr": control["random_family_mrr"],
                           "dte_family_mrr": control["dte_family_mrr"].mean}
    found = any(v["family_low"] is not None and v["family_low"] > v["random_family_mrr"] for v in views.values())
    return {"method": method, "x_per_source": x_per_source, "epochs": epochs,
            "learning_rate": mtes[0].config["hyper_parameters"]["learning_rate"],
            "x_prime": sum(mtes[0].config["pool"]["sources"].values()),
            "steps": diagnostics[0].get("optimizer_steps"),
            "displacement": sum(displacement) / len(displacement) if displacement else None,
            "seeds": sorted(dtes), "mtes": len(tasks), "views": views, "found": found, "seconds": seconds}


def _view(cells: dict | None) -> str:
    if cells is None:
        return f"{'-':>9} {'':>20} {'':>6}"
    interval = "" if cells["family_low"] is None else f"[{cells['family_low']:.2f}, {cells['family_high']:.2f}]"
    return f"{cells['own_mrr']:>9.3f} {cells['family_mrr']:.3f} {interval:<13} {cells['random_family_mrr']:>6.3f}"


def format_row(row: dict) -> str:
    disp = f"{row['displacement']:.2f}" if row["displacement"] is not None else "  - "
    return (f"{row['method']:<12} {row['x_per_source']:>7} {row['x_prime']:>5} {row['epochs']:>7}  "
            f"{str(row['learning_rate']):<7} {str(row['steps']):>5}  {disp}  | {_view(row['views'].get('raw'))} "
            f"| {_view(row['views'].get('displacement'))} | {'yes' if row['found'] else 'no':>5} | "
            f"{row['seconds']:5.0f}")
