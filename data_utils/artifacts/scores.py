"""Fine-tuning scores on disk: `<score>.json` (metrics + "best") + `<score>.record.json` beside it.

Written by run_cr_train.py / run_qa_train.py (task_emb/finetune.py). The record's config
names "to_train_dataset" (the target, as given), "data" (which data the target is,
data_utils/artifacts/data_identity.py), "source_dataset" and "source_data" (the dataset of the
--load_path checkpoint, null for a plain fine-tune) and "num_train_examples".
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from data_utils.artifacts.completion import is_pending, rerun_hint
from data_utils.artifacts.paths import RECORD_SUFFIX, output_of_record
from data_utils.artifacts.data_identity import DataIdentity, from_config
from data_utils.errors import FuteError
from data_utils.io import read_json, require_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneRun:
    """One fine-tuning run: its best dev score on `target`, after `source` (None: a plain fine-tune)."""

    path: Path
    target: DataIdentity
    source: DataIdentity | None
    best: float
    num_train_examples: int | None


# How a table names a run's datasets: by name, unless it tells datasets of one name apart
# (data_identity.TaskLabels).
Label = Callable[[DataIdentity], str]


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
        score_path = output_of_record(record_path, ".json")
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
        source = config.get("source_dataset")
        runs.append(FinetuneRun(path=score_path, target=from_config(config),
                                source=None if source is None else from_config(config, source, "source_data"),
                                best=float(best), num_train_examples=config.get("num_train_examples")))
    if not runs:
        raise FuteError(f"no fine-tuning scores (<name>.json + <name>.record.json) under {folder}; check {flag}")
    return runs


def _name(identity: DataIdentity) -> str:
    return identity.name


def transfer_scores(runs: Iterable[FinetuneRun], label: Label = _name) -> dict[str, dict[str, float]]:
    """truth[t][s] = best dev score on t after fine-tuning on s then t; one run per (s, t). Datasets are named
    by `label`."""
    truth: dict[str, dict[str, float]] = {}
    paths: dict[tuple[str, str], Path] = {}
    for run in runs:
        if run.source is None:
            continue
        source, target = label(run.source), label(run.target)
        if (source, target) in paths:
            raise FuteError(f"two transfer runs {source} -> {target}: {paths[source, target]} and {run.path}; keep one")
        paths[source, target] = run.path
        truth.setdefault(target, {})[source] = run.best
    return truth


def train_sizes(runs: Iterable[FinetuneRun], label: Label = _name) -> dict[str, int]:
    """Training-set size of each dataset (named by `label`), from its plain fine-tuning runs (DataSize baseline)."""
    sizes: dict[str, int] = {}
    for run in runs:
        if run.source is not None or run.num_train_examples is None:
            continue
        target = label(run.target)
        if sizes.get(target, run.num_train_examples) != run.num_train_examples:
            raise FuteError(f"plain fine-tuning runs of {target} disagree on the training-set size "
                            f"({sizes[target]} vs {run.num_train_examples} in {run.path}); keep one")
        sizes[target] = int(run.num_train_examples)
    return sizes
