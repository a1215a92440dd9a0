"""Prompt-selection baseline scores on disk: one JSON per (LLM, dataset), its record inside.

Written by run_prompt_selection_baselines.py (`write_selection_scores`), read by run_eval.py prompt
(`read_selection_scores`, in llm_inference/prompt_table.py):

    {"mi": [13 scores], "spell": [...], ..., "selfsel": [...],
     "record": {"command", "argv", "time", "config", "versions", "model", "dataset", "task", "metric",
                "num_prompts", "num_examples", "paths", "inputs_sha256", "self_select", "skipped"}}

Each score list is indexed by prompt number, higher = better; its key is the baseline's id
(llm_inference/selection_baselines.py). The record says how the file was made (data_utils.io.run_record:
command ... versions) and what was scored: "inputs_sha256" fingerprints the inference files
(llm_inference.selection_files.PromptSet.fingerprint), "skipped" names each baseline left out and why.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from data_utils.artifacts import seeds
from data_utils.errors import FuteError
from data_utils.io import read_json, write_json

RECORD = "record"
# Field -> its key on disk, where the two differ: the files keep the original's word for the genre.
_ON_DISK = {"genre": "task"}
RERUN = "re-run run_prompt_selection_baselines.py on the inference files"


@dataclass(frozen=True)
class SelfSelectSource:
    """Where Self-Select's order for `model` came from: `order` (prompt numbers, best first) read from
    `order_file`, or the `reason` there is none (the baseline is then skipped)."""

    model: str
    order_file: str | None = None
    order: list[int] | None = None
    reason: str | None = None


_SELF_SELECT_KEYS = {f.name for f in fields(SelfSelectSource)}


@dataclass(frozen=True)
class SelectionScores:
    """Every baseline's scores of the P prompts of one (LLM, dataset), and what they were computed from.

    scores: baseline id -> [P] floats, in the registry's order; genre: sa / nli; paths[p]: prompt p's
    inference file; skipped: baseline id -> why it has no scores; run: how the file was made
    (data_utils.io.run_record).
    """

    scores: dict[str, list[float]]
    model: str
    dataset: str
    genre: str
    metric: str
    num_prompts: int
    num_examples: int
    paths: list[str]
    inputs_sha256: str
    self_select: SelfSelectSource
    skipped: dict[str, str]
    run: dict[str, Any]

    @property
    def seed(self) -> int:
        """The run's --seed, that of the inference files it scored in a sweep (42 for a record that names none)."""
        config = self.run.get("config")
        return seeds.seed_or_default(config.get("seed") if isinstance(config, dict) else None)


# Record field -> its key on disk (every field of SelectionScores but the scores and how the file was made).
_KEYS = {f.name: _ON_DISK.get(f.name, f.name) for f in fields(SelectionScores) if f.name not in ("scores", "run")}


def write_selection_scores(path: str | Path, scores: SelectionScores) -> dict[str, Any]:
    """Write `scores` to `path` atomically, the score lists first, then the record; return what was written."""
    record = dict(scores.run)
    for name, key in _KEYS.items():
        value = getattr(scores, name)
        if isinstance(value, SelfSelectSource):
            value = {item: v for item, v in asdict(value).items() if v is not None}
        record[key] = value
    content = {**scores.scores, RECORD: record}
    write_json(path, content)
    return content


def is_selection_scores(content: Any) -> bool:
    """Whether a JSON value is a score file (its record names the model and the dataset), not a table or
    an inference file found in the same folder."""
    record = content.get(RECORD) if isinstance(content, dict) else None
    return isinstance(record, dict) and {"model", "dataset"} <= record.keys()


def read_selection_scores(path: str | Path, content: Any = None) -> SelectionScores:
    """The score file at `path` (`content`: its JSON, when already read). FuteError when it is none, when its
    record lacks a field, or when a score list is not num_prompts finite numbers."""
    content = read_json(path) if content is None else content
    if not is_selection_scores(content):
        raise FuteError(f"{path} is not a prompt-selection score file (no record naming its model and dataset); "
                        f"pass the outputs of run_prompt_selection_baselines.py")
    record = content[RECORD]
    missing = [key for key in _KEYS.values() if key not in record]
    if missing:
        raise FuteError(f"{path}: its record has no {', '.join(missing)} (written by another version); {RERUN}")
    values = {name: record[key] for name, key in _KEYS.items()}
    self_select = values["self_select"]
    if not isinstance(self_select, dict) or not {"model"} <= self_select.keys() <= _SELF_SELECT_KEYS:
        raise FuteError(f"{path}: its record's self_select is {self_select!r}, not what the script writes; {RERUN}")
    values["self_select"] = SelfSelectSource(**self_select)
    run = {key: value for key, value in record.items() if key not in _KEYS.values()}
    scores = {key: value for key, value in content.items() if key != RECORD}
    for key, value in scores.items():
        if not (isinstance(value, list) and len(value) == values["num_prompts"]
                and all(_is_number(v) and math.isfinite(v) for v in value)):
            raise FuteError(f"{path}: {key!r} must be a list of {values['num_prompts']} finite scores, one per "
                            f"prompt; the file was edited or damaged: {RERUN}")
    return SelectionScores(scores=scores, run=run, **values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
