"""Fine-tuning scores on disk: `<score>.json` (the dev metrics and "best") + `<score>.record.json` beside it, and
their one writer (`write_finetune_score`) and one reader (`read_finetune_score`, `load_finetune_runs`).

Written by run_cr_train.py / run_qa_train.py (task_emb/finetune.py). The record is the run's record
(data_utils.io.run_record: command, argv, time, versions) whose config holds the flags and, written over them,
the `ScoreRecord`: what the score is of. The fine-tuned checkpoint's own record (fute_record.json inside its
folder) is the same record: `write_checkpoint_record` / `read_checkpoint_record`.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from data_utils.artifacts import seeds
from data_utils.artifacts.completion import is_pending, rerun_hint
from data_utils.artifacts.data_identity import DataIdentity, from_config
from data_utils.artifacts.paths import CHECKPOINT_RECORD, RECORD_SUFFIX, output_of_record, record_path
from data_utils.errors import FuteError
from data_utils.io import read_json, require_folder, write_json

logger = logging.getLogger(__name__)

# What writes score files, in every error about one; the entry of a score file that tables use.
_WRITERS, BEST = "run_cr_train.py/run_qa_train.py", "best"


@dataclass(frozen=True, kw_only=True)
class ScoreRecord:
    """What a fine-tuning run's score is of, as its record's config says: the dataset fine-tuned on (as given,
    and `data`, which data it is: data_utils/artifacts/data_identity.py), the task type and main metric, the
    checkpoint it continued from (`load_path`; `source_dataset` and `source_data`, the dataset that checkpoint
    was fine-tuned on: None for a plain fine-tune), the base model (`lm_model_name`, as given), the example counts
    (`max_train_examples`: the cut asked for, None for the whole training split) and the dev score of the best
    guess that reads no input (data_utils.chance.dev_guess; None for regression), and the run's --seed. Records
    written before a field existed lack it (None here), except to_train_dataset."""

    to_train_dataset: str
    task_type: str | None = None
    main_metric: str | None = None
    data: dict[str, Any] | None = None
    load_path: str | None = None
    source_dataset: str | None = None
    source_data: dict[str, Any] | None = None
    lm_model_name: str | None = None
    max_train_examples: int | None = None
    num_train_examples: int | None = None
    num_dev_examples: int | None = None
    dev_guess: dict[str, Any] | None = None
    seed: int | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScoreRecord:
        return cls(**{entry.name: config.get(entry.name) for entry in fields(cls)})

    def dataset(self) -> DataIdentity:
        """The data fine-tuned on: `data`, or for a record written before it existed, the registry dataset
        `to_train_dataset` names (no digest)."""
        return from_config(asdict(self))


def score_run_record(record: dict[str, Any], about: ScoreRecord) -> dict[str, Any]:
    """`record` (data_utils.io.run_record of the run's flags) with `about` written into its config."""
    return {**record, "config": {**record["config"], **asdict(about)}}


def write_finetune_score(path: str | Path, scores: dict[str, float], record: dict[str, Any]) -> None:
    """Write the dev scores (metric -> value, with "best": the main metric's), then their record, last
    (`score_run_record`): the record marks the score finished (data_utils/artifacts/completion.py)."""
    if BEST not in scores:
        raise FuteError(f"the scores for {path} have no {BEST!r} entry; they are not a fine-tune's dev scores")
    write_json(path, scores)
    write_json(record_path(path), record)


def write_checkpoint_record(folder: str | Path, record: dict[str, Any]) -> None:
    """A fine-tuned checkpoint's record, `folder`/fute_record.json: the run's record with its `ScoreRecord`
    (`score_run_record`), written after the checkpoint's files: it marks the checkpoint finished."""
    write_json(Path(folder) / CHECKPOINT_RECORD, record)


def read_checkpoint_record(folder: str | Path) -> ScoreRecord | None:
    """What the checkpoint in `folder` was fine-tuned on (its fute_record.json), or None when the folder holds
    no record (a Hugging Face folder of elsewhere). A record that names no dataset is a FuteError."""
    path = Path(folder) / CHECKPOINT_RECORD
    if not path.is_file():
        return None
    content = read_json(path)
    config = content.get("config") if isinstance(content, dict) else None
    if not isinstance(config, dict) or not config.get("to_train_dataset"):
        raise FuteError(f"{path} has no config.to_train_dataset, so the dataset of {Path(folder)} is unknown; it "
                        f"was not written by {_WRITERS}: repair or delete it")
    return ScoreRecord.from_config(config)


@dataclass(frozen=True)
class FinetuneRun:
    """One fine-tuning run: its best dev score on `target`, after `source` (None: a plain fine-tune); `scores`:
    every dev metric; `about`: its ScoreRecord."""

    path: Path
    target: DataIdentity
    source: DataIdentity | None
    best: float
    scores: dict[str, float]
    about: ScoreRecord

    @property
    def num_train_examples(self) -> int | None:
        return self.about.num_train_examples

    @property
    def seed(self) -> int:
        """The run's seed (data_utils/artifacts/seeds.py: 42 for a record that names none)."""
        return seeds.seed_or_default(self.about.seed)


def read_finetune_score(path: str | Path, flag: str = "--score_dir") -> FinetuneRun | None:
    """The fine-tuning run whose scores are `path` (`<score>.json`), or None when its record is of another
    output (an embedding, an x': no to_train_dataset) or is pending (a warning names the command that finishes
    it). A score without a finite "best" is a FuteError naming `flag`, where the file was found."""
    path = Path(path)
    record = read_json(record_path(path))
    if is_pending(record):
        logger.warning("%s: its fine-tune did not finish, or is still running; not used: %s", record_path(path),
                       rerun_hint(record))
        return None
    config = record.get("config") if isinstance(record, dict) else None
    if not isinstance(config, dict) or "embedding" in record:
        return None
    about = ScoreRecord.from_config(config)
    if about.to_train_dataset is None:  # the record of another output
        return None
    scores = read_json(path)
    if not isinstance(scores, dict) or BEST not in scores:
        raise FuteError(f"{path}: no {BEST!r} score; it was not written by {_WRITERS}")
    best = scores[BEST]
    if isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best):
        raise FuteError(f"{path}: {BEST!r} is {best!r}, not a finite number; the run failed or the file was "
                        f"edited: re-run it or move it out of {flag}")
    source = about.source_dataset
    return FinetuneRun(path=path, target=about.dataset(),
                       source=None if source is None else from_config(config, source, "source_data"),
                       best=float(best), scores=scores, about=about)


def load_finetune_runs(folders: str | Path, flag: str = "--score_dir") -> list[FinetuneRun]:
    """Every `<score>.json` under `folders` (one, or several comma-separated: data_utils/artifacts/seeds.py) that
    has a `<score>.record.json` naming its dataset.

    JSON files without such a record (checkpoint configs), embedding records and records with no score
    file beside them are not scores and are skipped; a run that did not finish (its record is pending) is
    skipped with a warning naming the command that finishes it, and so is a transfer run whose checkpoint's
    dataset is unknown.
    """
    return [run for folder in seeds.folders(str(folders), flag) for run in _load_folder(folder, flag)]


def _load_folder(folder: str | Path, flag: str) -> list[FinetuneRun]:
    folder = require_folder(folder, flag)
    runs = []
    for record in sorted(folder.rglob("*" + RECORD_SUFFIX)):
        score_path = output_of_record(record, ".json")
        if not is_pending(read_json(record)) and not score_path.is_file():  # e.g. the record of an x' JSONL
            logger.debug("%s has no score file beside it; skipped", record)
            continue
        run = read_finetune_score(score_path, flag)
        if run is None:
            continue
        if run.source is None and run.about.load_path:
            logger.warning("%s: continued from %s of unknown dataset; not used", score_path, run.about.load_path)
            continue
        runs.append(run)
    if not runs:
        raise FuteError(f"no fine-tuning scores (<name>.json + <name>.record.json) under {folder}; check {flag}")
    return runs


# How a table names a run's datasets: by name, unless it tells datasets of one name apart
# (data_identity.TaskLabels).
Label = Callable[[DataIdentity], str]


def _name(identity: DataIdentity) -> str:
    return identity.name


def transfer_scores(runs: Iterable[FinetuneRun], label: Label = _name) -> dict[str, dict[str, float]]:
    """truth[t][s] = best dev score on t after fine-tuning on s then t; one run per (s, t) (give the runs of one
    seed: two runs of a pair are an error naming both). Datasets are named by `label`."""
    truth: dict[str, dict[str, float]] = {}
    paths: dict[tuple[str, str], Path] = {}
    for run in runs:
        if run.source is None:
            continue
        source, target = label(run.source), label(run.target)
        if (source, target) in paths:
            raise FuteError(f"two transfer runs {source} -> {target} of seed {run.seed}: {paths[source, target]} and "
                            f"{run.path}; keep one")
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
