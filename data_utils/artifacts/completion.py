"""When an output is finished, and when it is current: the rule every writer follows, and the checks that read it.

Every entry script writes its outputs first and its record `<name>.record.json` last,
atomically: the record is the output's completion marker. Right before a writer changes an
output, it replaces the record with a pending one (`begin`: `{"finished": false, "command",
"argv", "config"}`), so a kill at any moment leaves either the finished output with its record,
or a pending record that names the command that finishes it. Run again, the writer continues or
redoes an output whose record is pending (`unfinished`), with a warning; an output with a
finished record, or none at all (not this script's), needs --overwrite. A writer holds its
outputs' locks while it runs (`writing`): a second writer of the same output is refused.

An output is finished (`Survey.problem` is None) when its marker says so:

| artifact | written between its pending record and its record | marker |
|---|---|---|
| fine-tune | checkpoint/ (its own fute_record.json last), <score>.json | <score>.record.json, ckpt/fute_record.json |
| task embedding | <name>.npy | <name>.record.json |
| x' | <x>.jsonl | <x>.record.json |
| LLM inference | <name>.json (from its partial log <name>.json.partial.jsonl) | <name>.record.json |
| y' | lines appended to <y>.jsonl; the record: its size and the x' it answers | <y>.record.json, if the file agrees |
| selection scores | one JSON, its record inside | the JSON |
| table | <stem>.md, <stem>.csv, then <stem>.json, its record inside | <stem>.json |
| plots | the PNGs, then <stem>.record.json | <stem>.record.json |

A step (a command and the outputs it writes) is done (`state`) when every output is finished,
each by this very command, and after everything it reads was: make's rule, on the times the
records give (`Survey.time`). Otherwise it is pending (an output is not finished) or stale (an
output is finished but made by another command, or before an input or a source changed); a
sweep, or the demo, redoes a stale step with --overwrite True. Records written before pending
ones existed have no "finished" key and are finished; before "argv" and "time", the command
string and the record file's time stand in. The sweeps (sweeps/graph.py) and the demo
(scripts/demo.py) use these checks and no others.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from data_utils.artifacts.paths import CHECKPOINT_RECORD, RECORD_SUFFIX, record_path
from data_utils.errors import FuteError
from data_utils.io import count_lines, read_json, remove_temporaries, sha256_of, write_json
from data_utils.locks import OutputLock

logger = logging.getLogger(__name__)

# Flags that do not change what a run computes: a command differing only in them is the same command, and a
# training state saved under other values of them is the same run's (task_emb.trainer.run_identity).
NOT_IDENTITY = ("overwrite", "device", "log_level")
# What to do about a line of an appended file (y', an LLM run's partial log) that is not JSON but ends
# with its newline: not a kill's torn last line, which the writer repairs, but damage to one example.
DAMAGED_LINE = ("a damaged line (a kill tears only the last line, before its newline): delete it and run the "
                "script that wrote the file again, which redoes that example")
# A step's state (`state`), and what a stale step's command gets to replace its finished outputs (the entry scripts
# refuse to without it; run_eval.py and run_prompt_selection_baselines.py write anew every time and need nothing).
DONE, STALE, PENDING = "done", "stale", "pending"
OVERWRITE = ("--overwrite", "True")


def marker(output: str | Path) -> Path:
    """The file that says `output` is finished: a checkpoint folder's fute_record.json; a record file itself
    (plots); `<name>.record.json` beside it; or, a JSON without one, the JSON itself, its record inside
    (prompt-selection scores, tables)."""
    output = Path(output)
    if output.is_dir():
        return output / CHECKPOINT_RECORD
    beside = record_path(output)
    if output.name.endswith(RECORD_SUFFIX) or (output.suffix == ".json" and not beside.is_file()):
        return output
    return beside


def _record(output: str | Path) -> dict[str, Any] | None:
    """The record of `output` (a JSON object), or None when there is none."""
    path = marker(output)
    if not path.is_file():
        return None
    record = read_json(path)
    if path == Path(output) and not path.name.endswith(RECORD_SUFFIX):  # a JSON with its record inside
        record = record.get("record") if isinstance(record, dict) else None
        return record if isinstance(record, dict) else None
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
    """Hold the lock of every output for the block (data_utils.locks.OutputLock: a second writer is refused, naming
    the first); holding them, remove what a killed run left of their atomic writes (outputs and records)."""
    with ExitStack() as stack:
        for output in outputs:
            stack.enter_context(OutputLock(output))
        for output in outputs:
            removed = remove_temporaries(output) + remove_temporaries(record_path(output))
            if removed:
                logger.warning("%s: removed %d temporary file(s) a killed run left", output, removed)
        yield


@dataclass(frozen=True)
class AnswersEntry:
    """The "answers" entry of a y' record, written once its last line is: the y' file's `lines` (one per x' line
    answered, each data_index once) and size (`bytes`), and the x' file it answers (`inputs`, its `input_lines`
    and `inputs_sha256`). Read from a record, a field the entry lacks is None."""

    lines: int | None
    bytes: int | None
    inputs: str | None
    input_lines: int | None
    inputs_sha256: str | None

    @classmethod
    def of_files(cls, answers: str | Path, inputs: str | Path, lines: int, input_lines: int) -> AnswersEntry:
        return cls(lines=lines, bytes=Path(answers).stat().st_size, inputs=str(inputs), input_lines=input_lines,
                   inputs_sha256=sha256_of(inputs))

    @classmethod
    def of_record(cls, record: dict[str, Any] | None) -> AnswersEntry | None:
        """The entry of a y' record; None for a record without one (any other output's, an older y' record's)."""
        entry = record.get("answers") if isinstance(record, dict) else None
        return cls(**{field.name: entry.get(field.name) for field in fields(cls)}) if isinstance(entry, dict) else None

    def answers_every_input(self) -> bool:
        return self.lines == self.input_lines


def answers_complete(answers: str | Path) -> AnswersEntry | None:
    """The "answers" entry of a y' file's record when the record says the file, as it is now, answers every
    x' line; else None (no record, a pending or older one, or a file changed since: a run killed or running)."""
    entry = AnswersEntry.of_record(_record(answers)) if Path(answers).is_file() else None
    if entry is None or entry.bytes != Path(answers).stat().st_size:
        return None
    return entry if entry.answers_every_input() else None


# ---------------------------------------------------------------- done checks


class Survey:
    """The outputs of a result folder as they are now, each record and file read once: the checks of a sweep's
    thousand steps, or of a table that reads hundreds of outputs, read each file once."""

    def __init__(self) -> None:
        self._records: dict[Path, dict[str, Any] | None] = {}
        self._problems: dict[Path, str | None] = {}
        self._digests: dict[Path, str] = {}

    def record(self, output: str | Path) -> dict[str, Any] | None:
        """The record of `output` (`marker`), None when there is none; a damaged one is a FuteError."""
        output = Path(output)
        if output not in self._records:
            self._records[output] = _record(output)
        return self._records[output]

    def problem(self, output: str | Path) -> str | None:
        """Why `output` is not finished, for a person to read; None when it is."""
        output = Path(output)
        if output not in self._problems:
            self._problems[output] = self._problem(output)
        return self._problems[output]

    def _problem(self, output: Path) -> str | None:
        if not output.exists():
            return f"{output} does not exist"
        try:
            record = self.record(output)
        except FuteError as err:
            return f"its record is damaged ({err})"
        if record is None:
            return f"{output} has no record {marker(output).name} (written last): its run was killed before it"
        if is_pending(record):
            command = f": `python {record['command']}`" if record.get("command") else ""
            return f"a run began writing {output.name} and did not finish (killed, failed, or still running){command}"
        entry = AnswersEntry.of_record(record)
        return self._answers_problem(output, entry) if entry is not None else None

    @staticmethod
    def _answers_problem(path: Path, entry: AnswersEntry) -> str | None:
        """What is wrong with a y' file whose record is finished: the file must still be what the record says,
        answer every x' line, and hold each data_index once (its lines are the answers the writer counted)."""
        size = path.stat().st_size
        if entry.bytes != size:
            return (f"{path.name} changed after its run finished ({size} bytes, its record says {entry.bytes}): "
                    f"edited, or a later run killed while appending; its writer, run again, finishes it")
        if not entry.answers_every_input():
            return f"{path.name} answers {entry.lines} of the {entry.input_lines} x' lines"
        lines = count_lines(path)
        if lines != entry.lines:
            return (f"{path.name} has {lines} lines for {entry.lines} answers: two runs wrote to it at once; "
                    f"run its writer again with --overwrite True")
        return None

    def time(self, path: str | Path) -> float:
        """When `path` last changed, in seconds since the epoch: the time its record gives (written by the run,
        so a copy of the folder keeps it), else its marker's modification time; for a file or folder with no
        marker (a dataset, a pool), the newest modification time of its files."""
        path = Path(path)
        record = self.record(path) if marker(path).is_file() else None
        if record is not None:
            try:
                return datetime.fromisoformat(record["time"]).timestamp()
            except (KeyError, TypeError, ValueError):  # an older record: its file's time
                return marker(path).stat().st_mtime
        files = [path] if path.is_file() else [entry for entry in path.rglob("*") if entry.is_file()]
        return max((entry.stat().st_mtime for entry in files), default=0.0)

    def sha256(self, path: str | Path) -> str:
        path = Path(path)
        if path not in self._digests:
            self._digests[path] = sha256_of(path)
        return self._digests[path]


def recorded(*outputs: str | Path) -> bool:
    """Every output is finished (its marker, written last, says so; a y' file is also as its record says)."""
    survey = Survey()
    return all(survey.problem(output) is None for output in outputs)


# ---------------------------------------------------------------- the command a record holds


def command_args(argv: Sequence[str], selectors: Sequence[str] = ()) -> list[str]:
    """`argv` as commands are compared: `--flag=value` split in two, the NOT_IDENTITY flags dropped with their
    values, and the values of `selectors` (the flags that choose which of several outputs a command writes, e.g.
    --prompt_number) left out."""
    words = [part for word in argv for part in (word.split("=", 1) if word.startswith("--") else [word])]
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        skip = word.startswith("--") and (word[2:] in NOT_IDENTITY or word in selectors)
        if not (skip and word[2:] in NOT_IDENTITY):
            kept.append(word)
    return kept


def recorded_argv(record: dict[str, Any]) -> list[str] | None:
    """[script, *args] of the run a record describes: its "argv"; for a record written before argv was, its
    "command" split at spaces (exact unless an argument held one); None when it names no command."""
    argv, command = record.get("argv"), record.get("command")
    if isinstance(argv, list):
        return [str(word) for word in argv]
    return command.split(" ") if isinstance(command, str) else None


def command_change(record: dict[str, Any], argv: Sequence[str], selectors: Sequence[str] = ()) -> str | None:
    """None when `record` was made by the command `argv` ([script, *args], compared as `command_args`; the same
    flags in another order are the same command, as argparse reads them alike); else what differs, e.g.
    "--tasks mrpc,rte, now mrpc,rte,stsb"."""
    made = recorded_argv(record)
    if made is None:
        return "its record names no command"
    old, new = _flags(command_args(made, selectors)), _flags(command_args(argv, selectors))
    return next((f"{flag} {old.get(flag, '(not given)')}, now {new.get(flag, '(not given)')}"
                 for flag in dict.fromkeys([*new, *old]) if old.get(flag) != new.get(flag)), None)


def _flags(words: Sequence[str]) -> dict[str, str]:
    """--flag -> its value (words after it up to the next flag), and each positional word by its place."""
    flags: dict[str, str] = {}
    flag = None
    for place, word in enumerate(words):
        if word.startswith("--"):
            flag = word
            flags[flag] = ""
        elif flag is None:
            flags[f"argument {place}"] = word
        else:
            flags[flag] = f"{flags[flag]} {word}".strip()
    return flags


# ---------------------------------------------------------------- a step's state


def state(outputs: Sequence[Path], argv: Sequence[str], inputs: Sequence[Path] = (), sources: Sequence[Path] = (),
          selectors: Sequence[str] = (), survey: Survey | None = None) -> tuple[str, str]:
    """(DONE, STALE or PENDING, why) of the step that writes `outputs` with the command `argv` ([script, *args]),
    reading `inputs` (other steps' outputs) and `sources` (the user's files: a dataset folder, a pool).

    stale: an output is finished but its record holds another command (`command_change`; `selectors`: the flags
    that choose which of several outputs the command writes, each output its own run), or a time before an input
    was finished or a source changed (`Survey.time`), or (y') a hash of another x' than the input holds now; or
    an input is not finished; or some outputs are finished and another is gone (no record at all), which only
    the whole step, run again, remakes. pending: an output is not finished (and nothing above holds).
    """
    survey = survey or Survey()
    finished = [output for output in outputs if survey.problem(output) is None]
    reason = _change(finished, argv, inputs, sources, selectors, survey) if finished else None
    if reason:
        return STALE, reason
    missing = [output for output in outputs if output not in finished]
    if not missing:
        return DONE, ""
    gone = [output for output in missing if not marker(output).exists()]
    if finished and gone and not selectors:
        return STALE, f"{finished[0].name} is finished but {gone[0].name} is gone: the step is done again whole"
    return PENDING, survey.problem(missing[0])


def _change(finished: Sequence[Path], argv: Sequence[str], inputs: Sequence[Path], sources: Sequence[Path],
            selectors: Sequence[str], survey: Survey) -> str | None:
    """Why finished outputs are not current (`state`), or None."""
    for output in finished:
        change = command_change(survey.record(output), argv, selectors)
        if change:
            return f"{output.name} was made by another command: {change}"
    oldest = min(finished, key=survey.time)
    for path in inputs:
        problem = survey.problem(path)
        if problem:
            return f"it reads {path}, which is not finished ({problem})"
        if survey.time(path) > survey.time(oldest):
            return f"it reads {path}, finished after {oldest.name} was"
    for path in sources:
        if path.exists() and survey.time(path) > survey.time(oldest):
            return f"{path} changed after {oldest.name} was made from it"
    for output in finished:  # a y' record names the x' it answers by content, too
        entry = AnswersEntry.of_record(survey.record(output))
        answered = Path(str(entry.inputs)).name if entry is not None else None
        for x in inputs:
            if x.name == answered and x.is_file() and survey.sha256(x) != entry.inputs_sha256:
                return f"{output.name} answers another x' than {x} holds now"
    return None


def redo_line(name: str, reason: str, redo: Sequence[str]) -> str:
    """The line a sweep or the demo prints before it runs a stale step again (with `redo`, e.g. --overwrite True)."""
    return f"# stale: {name} ({reason}); run again{' with ' + ' '.join(redo) if redo else ''}"

