"""x': the model inputs an LLM answers for a model task embedding, and their one writer and one reader.

Written by run_task_emb.py --generate_model_data_only (which inputs: data_utils.pool_inputs.select_model_inputs),
read by run_llm_inference_for_te.py, whose y' lines echo each input's texts (data_utils/artifacts/answers.py).

The file: JSONL, one input per line, in the reference's field names (`INPUT_FIELDS`) with its "data_index":

    {"content": str, "data_index": int}                       # sa
    {"premise": str, "hypothesis": str, "data_index": int}    # nli

Its record (run_task_emb.py's) names the pool the inputs were drawn from ("pool": data_utils.unsup_pool.pool_record)
and the fingerprint of that pool's texts ("texts": data_utils/artifacts/text_prints.py), which the MTEs learned
from the LLM's answers carry on (`inputs_of_answers`).

This project writes data_index 0..n-1 in file order; a line without it (the reference's files) is numbered by
its position among the lines, and fields beyond the genre's texts are kept as they are (a y' line repeats them).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data_utils.artifacts.paths import record_path
from data_utils.artifacts.text_prints import read_prints
from data_utils.errors import FuteError
from data_utils.io import emptiness, iter_jsonl_lines, read_json, write_jsonl

logger = logging.getLogger(__name__)

# The text fields of an x' line, per genre (the reference's names).
INPUT_FIELDS: dict[str, tuple[str, ...]] = {"sa": ("content",), "nli": ("premise", "hypothesis")}
INDEX_FIELD = "data_index"
# What writes x', in every error about a missing or empty one.
_WRITER = "run_task_emb.py --generate_model_data_only True"


@dataclass(frozen=True)
class ModelInput:
    """One x' line: its data_index and its other fields as written (`texts`: the genre's INPUT_FIELDS, and any
    field another writer added)."""

    data_index: int
    texts: dict[str, Any]

    def text_fields(self, genre: str) -> tuple[str, ...]:
        """The genre's texts of this input, in INPUT_FIELDS order."""
        return tuple(self.texts[field] for field in INPUT_FIELDS[genre])


def write_model_inputs(path: str | Path, inputs: Sequence[ModelInput]) -> int:
    """Write x' atomically (the whole file replaced, never appended to); return its line count."""
    count = write_jsonl(path, [{**item.texts, INDEX_FIELD: item.data_index} for item in inputs])
    logger.info("wrote %d x' lines to %s", count, path)
    return count


def read_model_inputs(path: str | Path, genre: str, flag: str = "--data_load_path") -> list[ModelInput]:
    """The x' lines of `path` for `genre`, in file order.

    A missing file (named with `flag`), a line that is no JSON object, one without a genre's text field (as a
    string), a data_index that is no new integer, and a file without lines are errors naming file and line.
    """
    if genre not in INPUT_FIELDS:
        raise FuteError(f"x' is written for {' or '.join(INPUT_FIELDS)}, not {genre!r}")
    path = Path(path)
    if not path.is_file():
        raise FuteError(f"{flag} {path} not found; write the x' file first ({_WRITER})")
    names = INPUT_FIELDS[genre]
    inputs: list[ModelInput] = []
    seen: set[int] = set()
    for where, line in iter_jsonl_lines(path):
        absent = [name for name in names if not isinstance(line.get(name), str)]
        if absent:
            raise FuteError(f"{where}: no text field {absent[0]!r}; {genre} x' lines need {', '.join(names)} "
                            f"(is --task_genre right?)")
        index = line.get(INDEX_FIELD, len(inputs))
        if not isinstance(index, int) or isinstance(index, bool) or index in seen:
            raise FuteError(f"{where}: {INDEX_FIELD} {index!r} is not a new integer; each line needs its own")
        seen.add(index)
        inputs.append(ModelInput(index, {key: value for key, value in line.items() if key != INDEX_FIELD}))
    if not inputs:
        raise FuteError(f"{path} holds no x' lines ({emptiness(path)}); write it with {_WRITER}")
    return inputs


def inputs_of_answers(answers: str | Path) -> tuple[dict | None, np.ndarray | None]:
    """(the pool record, the texts' fingerprint) of the x' file that the y' file `answers` answered, as the y'
    record names it (config "data_load_path"); None for what no record says (an older or foreign file)."""
    answered = _config(record_path(answers)).get("data_load_path")
    if not answered:
        return None, None
    config = _config(record_path(answered))
    return config.get("pool"), read_prints(answered, config.get("texts"))


def _config(record: Path) -> dict:
    """The "config" of a run record; {} when there is no record."""
    return (read_json(record).get("config") or {}) if record.is_file() else {}
