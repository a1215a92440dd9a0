"""The evaluation tables (run_eval.py transfer, prompt, space, compare): `<stem>.md`, `<stem>.csv`, a table's own
further files (`<stem>_paired.csv`: the paired comparisons) and `<stem>.json`.

The JSON is led by the run record and written last: it marks the table finished (a reader of a table folder
takes a stem without its JSON for unfinished). A table is any object with `markdown()`, `csv()`, `to_json()`
and `summary_markdown()` (task_emb/transfer_table.py, llm_inference/prompt_table.py, task_emb/space_eval.py,
task_emb/compare.py), and `extra_files()`: its files beside those (suffix -> text; None: this table has none, and
an earlier table's is removed), e.g. `<stem>_paired.csv` and `<stem>_paper.csv`, the paper's rows
(data_utils/paper_reference.py).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

from data_utils.io import output_stem, run_record, stem_file, write_json, write_text

logger = logging.getLogger(__name__)

# The entry script whose command every table's record names.
EVAL_SCRIPT = "run_eval.py"


class Table(Protocol):
    def markdown(self) -> str: ...

    def csv(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...

    def summary_markdown(self) -> str: ...

    def extra_files(self) -> dict[str, str | None]: ...  # suffix after the stem -> text, e.g. {"_paired.csv": ...}


def write_table(save_path: str | os.PathLike, config: dict[str, Any], argv: Sequence[str] | None, what: str,
                table: Table) -> dict[str, Any]:
    """<stem>.md, <stem>.csv, the table's extra files, then <stem>.json (the run record of `config` and `argv`
    first, then the table); returns the JSON report. `what` names the table in the log, beside its summary."""
    stem = output_stem(save_path)
    report = {"record": run_record(dict(config), argv, EVAL_SCRIPT), **table.to_json()}
    stem_file(stem, ".json").unlink(missing_ok=True)  # written last: it marks the table finished
    for suffix, text in {".md": table.markdown(), ".csv": table.csv(), **table.extra_files()}.items():
        if text is None:
            stem_file(stem, suffix).unlink(missing_ok=True)  # of an earlier table: this one has none
        else:
            logger.info("wrote %s", write_text(stem_file(stem, suffix), text))
    write_json(stem_file(stem, ".json"), report)
    logger.info("%s:\n%s", what, table.summary_markdown())
    return report
