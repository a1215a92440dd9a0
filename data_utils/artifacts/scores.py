"""Fine-tuning scores on disk: `<score>.json` (metrics + "best") + `<score>.record.json` beside it.

Written by run_cr_train.py / run_qa_train.py (task_emb/finetune.py). The record's config
names "to_train_dataset" (the target), "source_dataset" (the dataset of the --load_path
checkpoint, null for a plain fine-tune) and "num_train_examples".
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from configs.datasets import DATASETS
from data_utils.artifacts.completion import RECORD_SUFFIX, is_pending, rerun_hint
from data_utils.errors import FuteError
from data_utils.io import read_json, require_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneRun:
    """One fine-tuning run: its best dev score on `target`, after `source` (None: a plain fine-tune)."""

    path: Path
    target: str
    source: str | None
    best: float
    num_train_examples: int | None



def load_finetune_runs(folder: str | Path, flag: str = "--score_dir") -> list[FinetuneRun]:
    """Every `<score>.json` under `folder` that has a `<score>.record.json` naming its dataset.

    JSON files without such a record (checkpoint configs), embedding records and records with no score
    file beside them are not scores and are skipped; a run that did not finish (its record is pending) is
    skipped with a warning naming the command that finishes it.
    """
    folder = require_folder(folder, flag)
    runs = []
    for record_path in sorted(folder.rglob("*" + RECORD_SUFFIX)):
        record = read_json(record_path)
        if is_pending(record):
            logger.warning("%s: its fine-tune did not finish, or is still running; not used: %s", record_path,
                           rerun_hint(record))
            continue
        config = record.get("config") if isinstance(record, dict) else None
        if not isinstance(config, dict) or "to_train_dataset" not in config or "embedding" in record:
            continue
        score_path = record_path.with_name(record_path.name[: -len(RECORD_SUFFIX)] + ".json")
        if not score_path.is_file():  # e.g. the record of an x' JSONL written by run_task_emb.py
            logger.debug("%s has no score file beside it; skipped", record_path)
            continue
        scores = read_json(score_path)
        if not isinstance(scores, dict) or "best" not in scores:
            raise FuteError(f"{score_path}: no 'best' score; it was not written by run_cr_train.py/run_qa_train.py")
        best = scores["best"]
        if isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best):
            raise FuteError(f"{score_path}: 'best' is {best!r}, not a finite number; the run failed or the file was "
                            f"edited: re-run it or move it out of {flag}")
        if config.get("source_dataset") is None and config.get("load_path"):
            logger.warning("%s: continued from %s of unknown dataset; not used", score_path, config["load_path"])
            continue
        runs.append(FinetuneRun(path=score_path, target=str(config["to_train_dataset"]),
                                source=config.get("source_dataset"), best=float(best),
                                num_train_examples=config.get("num_train_examples")))
    if not runs:
        raise FuteError(f"no fine-tuning scores (<name>.json + <name>.record.json) under {folder}; check {flag}")
    return runs


def transfer_scores(runs: Iterable[FinetuneRun]) -> dict[str, dict[str, float]]:
    """truth[t][s] = best dev score on t after fine-tuning on s then t; one run per (s, t)."""
    truth: dict[str, dict[str, float]] = {}
    paths: dict[tuple[str, str], Path] = {}
    for run in runs:
        if run.source is None:
            continue
        key = (run.source, run.target)
        if key in paths:
            raise FuteError(f"two transfer runs {run.source} -> {run.target}: {paths[key]} and {run.path}; keep one")
        paths[key] = run.path
        truth.setdefault(run.target, {})[run.source] = run.best
    return truth


def train_sizes(runs: Iterable[FinetuneRun]) -> dict[str, int]:
    """Training-set size of each dataset, from its plain fine-tuning runs (DataSize baseline)."""
    sizes: dict[str, int] = {}
    for run in runs:
        if run.source is not None or run.num_train_examples is None:
            continue
        if sizes.get(run.target, run.num_train_examples) != run.num_train_examples:
            raise FuteError(f"plain fine-tuning runs of {run.target} disagree on the training-set size "
                            f"({sizes[run.target]} vs {run.num_train_examples} in {run.path}); keep one")
        sizes[run.target] = int(run.num_train_examples)
    return sizes


def task_class(task: str) -> str:
    """'cr' or 'qa', from configs/datasets.py."""
    if task not in DATASETS:
        raise FuteError(f"unknown dataset {task!r}: its class (cr/qa) is not in configs/datasets.py; add it there "
                        f"or leave it out of --tasks")
    return DATASETS[task].task
