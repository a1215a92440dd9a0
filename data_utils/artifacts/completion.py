"""When an output is finished: the rule every writer follows, and the done checks that read it.

Every entry script writes its outputs first and its record `<name>.record.json` last,
atomically: the record is the output's completion marker. Right before a writer changes an
output, it replaces the record with a pending one (`begin`: `{"finished": false, "command",
"config"}`), so a kill at any moment leaves either the finished output with its record, or a
pending record that names the command that finishes it. Run again, the writer continues or
redoes an output whose record is pending (`unfinished`), with a warning; an output with a
finished record, or none at all (not this script's), needs --overwrite. A writer holds its
outputs' locks while it runs (`writing`): a second writer of the same output is refused. A step
is done only when its marker says so:

| artifact | written between its pending record and its record | done check |
|---|---|---|
| fine-tune | checkpoint/ (its own fute_record.json last), <score>.json | `recorded(score)` |
| task embedding | <name>.npy | `recorded(npy)` |
| x' | <x>.jsonl | `recorded(x)` |
| LLM inference | <name>.json (from its partial log <name>.json.partial.jsonl) | `recorded(json)` |
| y' | lines appended to <y>.jsonl; the record: its size and the x' it answers | `answered(x, y)` |
| selection scores | one JSON, its record inside | `selection_done(path)` |
| table | <stem>.md, <stem>.csv, then <stem>.json, its record inside | `table_done(stem)` |
| plots | the PNGs, then <stem>.record.json | `plots_done(stem)` |

(run_eval.py writes its tables and plots anew on every run, its marker removed first.) A y' file
is appended to, so its record must also say that the file has the size it has now and
answers every line of the x' file as that is now (`answers_complete`, `answered`). Records
written before pending ones existed have no "finished" key and are finished. The sweeps
(sweeps/paper.py) and the demo (scripts/demo.py) use these checks and no others.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from data_utils.io import OutputLock, read_json, remove_temporaries, sha256_of, stem_file, write_json

logger = logging.getLogger(__name__)

RECORD_SUFFIX = ".record.json"
# Flags that do not change what a run computes: a command differing only in them is the same command, and a
# training state saved under other values of them is the same run's (task_emb.trainer.run_identity).
NOT_IDENTITY = ("overwrite", "device", "log_level")
# What to do about a line of an appended file (y', an LLM run's partial log) that is not JSON but ends
# with its newline: not a kill's torn last line, which the writer repairs, but damage to one example.
DAMAGED_LINE = ("a damaged line (a kill tears only the last line, before its newline): delete it and run the "
                "script that wrote the file again, which redoes that example")


def record_path(path: str | Path) -> Path:
    """`<name>.record.json` beside `<name>.<ext>`."""
    path = Path(path)
    return path.with_name(path.name[: -len(path.suffix)] + RECORD_SUFFIX if path.suffix else path.name + RECORD_SUFFIX)


def _record(output: str | Path) -> dict[str, Any] | None:
    """The record beside `output` (a JSON object), or None when there is none."""
    path = record_path(output)
    if not path.is_file():
        return None
    record = read_json(path)
    return record if isinstance(record, dict) else {}


# ---------------------------------------------------------------- writers


def begin(output: str | Path, record: dict[str, Any]) -> None:
    """Mark `output` unfinished right before it changes: its record becomes `record` (the run's command and
    config, from data_utils.io.run_record) with "finished": false, until the writer's last record replaces it."""
    write_json(record_path(output), {"finished": False, **record})


def is_pending(record: Any) -> bool:
    """True for a record that `begin` wrote: its run began writing the output and has not finished it."""
    return isinstance(record, dict) and record.get("finished") is False


def unfinished(output: str | Path) -> dict[str, Any] | None:
    """The pending record of `output` when a run began writing it and did not finish (killed, or still running)."""
    record = _record(output)
    return record if is_pending(record) else None


def rerun_hint(record: dict[str, Any]) -> str:
    """What finishes the output of a pending record: its command, run again."""
    return f"run `python {record.get('command')}` again (in a sweep: the sweep), which finishes it"


def fresh_start(output: str | Path, record: dict[str, Any], overwrite: bool) -> bool:
    """Whether this run discards the earlier work on `output` (a training state, a partial log, y' lines): with
    --overwrite True, unless `output`'s pending record holds this very command line (`record`'s argv), i.e. a
    run of it was killed and this one continues it (a preempted SLURM task, requeued). Before it discards, the
    output is marked pending (`begin`), so that this command, run again, continues in its turn."""
    if not overwrite:
        return False
    pending = unfinished(output)
    if pending is not None and pending.get("argv") == record.get("argv"):
        return False
    begin(output, record)
    return True


@contextmanager
def writing(*outputs: str | Path) -> Iterator[None]:
    """Hold the lock of every output for the block (data_utils.io.OutputLock: a second writer is refused, naming
    the first); holding them, remove what a killed run left of their atomic writes (outputs and records)."""
    with ExitStack() as stack:
        for output in outputs:
            stack.enter_context(OutputLock(output))
        for output in outputs:
            removed = remove_temporaries(output) + remove_temporaries(record_path(output))
            if removed:
                logger.warning("%s: removed %d temporary file(s) a killed run left", output, removed)
        yield


def answers_entry(answers: str | Path, inputs: str | Path, lines: int, input_lines: int) -> dict[str, Any]:
    """The "answers" entry of a y' record, written once its last line is: the y' file's `lines` and size
    (bytes), and the x' file it answers (path, `input_lines`, SHA-256)."""
    return {"lines": lines, "bytes": Path(answers).stat().st_size, "inputs": str(inputs), "input_lines": input_lines,
            "inputs_sha256": sha256_of(inputs)}


# ---------------------------------------------------------------- done checks


def recorded(*outputs: str | Path) -> bool:
    """Done check of outputs written before their record (fine-tuning scores, embeddings, x', inference
    files): every output is there with its record, finished."""
    return all(map(_finished, outputs))


def _finished(output: str | Path) -> bool:
    record = _record(output)
    return Path(output).exists() and record is not None and not is_pending(record)


def answers_complete(answers: str | Path) -> dict[str, Any] | None:
    """The "answers" entry of a y' file's record when the record says the file, as it is now, answers every
    x' line; else None (no record, a pending or older one, or a file changed since: a run killed or running)."""
    record = _record(answers)
    entry = record.get("answers") if record is not None and Path(answers).is_file() else None
    if not isinstance(entry, dict) or entry.get("bytes") != Path(answers).stat().st_size:
        return None
    return entry if entry.get("lines") == entry.get("input_lines") else None


def answered(inputs: str | Path, *answers: str | Path) -> bool:
    """Done check of y' files: each is complete (`answers_complete`) and answers `inputs` as it is now."""
    if not Path(inputs).is_file():
        return False
    entries = [answers_complete(path) for path in answers]
    if any(entry is None for entry in entries):
        return False
    digest = sha256_of(inputs)
    return all(entry.get("inputs_sha256") == digest for entry in entries)


def selection_done(path: str | Path) -> bool:
    """Done check of prompt-selection scores: one JSON, written atomically with its record inside."""
    return Path(path).is_file()


def table_done(stem: str | Path) -> bool:
    """Done check of a table of run_eval.py: its <stem>.json, written after the .md and .csv."""
    return stem_file(Path(stem), ".json").is_file()


def plots_done(stem: str | Path) -> bool:
    """Done check of run_eval.py plot: <stem>.record.json, written after the PNGs."""
    return stem_file(Path(stem), RECORD_SUFFIX).is_file()
