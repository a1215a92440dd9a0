"""Append-only logs of scored examples that a killed run resumes from, and that refuse to mix runs: the y'
JSONL of run_llm_inference_for_te.py and the partial log of run_llm_inference.py (their lines:
data_utils/artifacts/llm_records.py).

Lines are appended and flushed after every batch, so a killed run loses at most the batch in flight; a kill in
the middle of a write leaves a last line without its newline, which `repair_tail` cuts away (with a warning)
before the writer reads the file. A line whose identity differs from the current run's is refused: results of
two models or prompts are never mixed in one file, and an example written twice (two runs appending at once)
is refused too. The entry scripts hold the log's lock while they append (data_utils.artifacts.completion.writing).
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from data_utils.artifacts.completion import DAMAGED_LINE
from data_utils.artifacts.llm_records import ExampleResult, RunIdentity, as_json
from data_utils.errors import FuteError
from data_utils.io import check_writable, complete_lines_end, ensure_parent_writable, iter_jsonl_lines

logger = logging.getLogger(__name__)


def repair_tail(path: Path) -> bool:
    """Cut a half-written last line (one without a final newline) off `path`; True when it did.

    Only the writer calls this, before it appends: it is the one process writing the file.
    """
    if not path.is_file():
        return False
    size, keep = path.stat().st_size, complete_lines_end(path)
    if keep == size:
        return False
    os.truncate(path, keep)
    logger.warning("%s: the last line was half-written (a killed run?): removed %d bytes; that example is redone",
                   path, size - keep)
    return True


class ResultLog:
    """The JSONL log of the finished examples of one run (`identity`), one line each."""

    def __init__(self, path: str | os.PathLike, identity: RunIdentity):
        self.path = check_writable(path)
        self.identity = identity

    def load(self) -> dict[int, ExampleResult]:
        """data_index -> result of every finished example (repairs a torn last line first)."""
        done: dict[int, ExampleResult] = {}
        if not self.path.is_file():
            return done
        repair_tail(self.path)
        fix = "use another --save_path, or run again with --overwrite True to start it afresh"
        for where, line in iter_jsonl_lines(self.path, DAMAGED_LINE):
            if not isinstance(line.get("data_index"), int):
                raise FuteError(f"{where}: not a result line (no integer data_index); use another --save_path")
            self.identity.check(line, where)
            result = ExampleResult.from_json(line, where, fix)
            if result.data_index in done:  # one writer at a time (its lock) never writes an example twice
                raise FuteError(f"{where}: data_index {result.data_index} appears twice: two runs wrote to "
                                f"{self.path.name} at once; run again with --overwrite True to start it afresh")
            done[result.data_index] = result
        if done:
            logger.info("%s: %d examples already done, resuming", self.path, len(done))
        return done

    def append(self, lines: Iterable[Any]) -> None:
        """Append lines (records of data_utils/artifacts/llm_records.py, each holding this run's identity) and
        flush them to disk."""
        text = "".join(json.dumps(as_json(line), ensure_ascii=False) + "\n" for line in lines)
        with open(ensure_parent_writable(self.path), "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
