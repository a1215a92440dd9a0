"""File helpers shared by every entry script: atomic writes, JSON/JSONL, run records.

Every output is written to a temporary file beside its destination and renamed
into place, so a killed run never leaves a half-written result that a later
step (or a resuming sweep) would mistake for a finished one. The one run writing an
output holds its lock (data_utils/locks.py); holding it, it may remove the temporaries
a killed run left (`remove_temporaries`).
"""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import platform
import re
import sys
import tempfile
from datetime import datetime, timezone
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

# Packages whose versions are written into every run record.
RECORDED_PACKAGES = ("torch", "transformers", "datasets", "accelerate", "numpy", "scikit-learn", "scipy")

_UMASK = os.umask(0)
os.umask(_UMASK)


def check_writable(path: str | os.PathLike) -> Path:
    """`path` as a Path, once it is known that it can be written, creating nothing: the nearest folder of it
    that exists (its parent, or the first above it) must be a folder this process may write to.

    Entry scripts check their outputs with it before any compute. The folders are made by the first write
    (`ensure_parent_writable`), so a run that fails before it writes leaves nothing behind.
    """
    path = Path(path)
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FuteError(f"cannot create the folder {path.parent} for {path}: {existing} is a file; choose another "
                        f"path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FuteError(f"the folder {existing} is not writable; choose another path for {path.name}")
    return path


def ensure_parent_writable(path: str | os.PathLike) -> Path:
    """Create the parent folder of `path` and check that it can be written to (a writer, right before it writes)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FuteError(f"cannot create the folder {parent} for {path}: {err.strerror}; choose a writable path") from None
    if not os.access(parent, os.W_OK):
        raise FuteError(f"the folder {parent} is not writable; choose another path for {path.name}")
    return path


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file beside `path`; on success rename it over `path`.

    On any exception the temporary file is removed and `path` is left untouched (a kill leaves
    it: `remove_temporaries`).
    """
    path = ensure_parent_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_temporaries(path: str | os.PathLike) -> int:
    """Remove the temporaries of `path` that a killed atomic_open left behind (".<name>." + mkstemp's 8 random
    characters + ".tmp"); return how many. Only the holder of the output's lock may call it
    (data_utils.locks.OutputLock): a temporary of a running writer would go too."""
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    leftovers = [entry for entry in path.parent.iterdir() if pattern.fullmatch(entry.name)]
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return len(leftovers)


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_sha256(rows: Iterable[Any]) -> str:
    """SHA-256 (hex) of `rows` as JSON lines with sorted keys: what identifies the examples a run trains on."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=_json_default).encode() + b"\n")
    return digest.hexdigest()


def count_lines(path: str | os.PathLike) -> int:
    """How many newlines `path` holds (its complete lines), read in blocks."""
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False, default=_json_default)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in `path` (UTF-8, with or without a byte-order mark); not JSON is a FuteError."""
    path = Path(path)
    if not path.is_file():
        raise FuteError(f"file not found: {path}")
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        if not path.read_bytes().strip():
            raise FuteError(f"{path} is empty ({emptiness(path)}): it holds no JSON; the step that writes it did not "
                            f"write it, or this is not the file meant") from None
        raise FuteError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    except UnicodeDecodeError:
        raise FuteError(f"{path}: not UTF-8 text; save it as UTF-8") from None


# Byte-order marks of the encodings Windows tools write text in: Notepad's and PowerShell's "UTF-8
# with BOM", and the UTF-16 of Windows PowerShell 5.1's `>` and Out-File. Without one: UTF-8.
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Bytes the encoding could not decode, as errors="surrogateescape" keeps them (never in decoded text).
_UNDECODED = re.compile("[\udc80-\udcff]")


def text_encoding(path: str | os.PathLike) -> str:
    """The encoding to read a text file in, from its byte-order mark (UTF-8 when it has none)."""
    with open(path, "rb") as handle:
        start = handle.read(4)
    return next((encoding for bom, encoding in _BOMS if start.startswith(bom)), "utf-8")


def iter_jsonl_lines(path: str | os.PathLike, bad_line: str = "fix or delete that line") -> Iterator[tuple[str, dict]]:
    """Yield (where, record) per non-blank line, where = "file:line" for the caller's own errors.

    UTF-8, with or without a byte-order mark (also one at the start of a later line, as `cat`
    of such files leaves), or UTF-16 with one; CRLF line ends too. A line that is not text in
    that encoding, or not a JSON object, is an error naming file and line (and `bad_line`,
    what to do about a line that is not JSON).
    """
    path = Path(path)
    if not path.is_file():
        raise FuteError(f"file not found: {path}")
    encoding = text_encoding(path)
    try:
        with open(path, encoding=encoding, errors="surrogateescape") as handle:
            for line_number, line in enumerate(handle, start=1):
                line = line.lstrip("\ufeff")  # JSON never starts with U+FEFF: a BOM of a concatenated file
                if not line.strip():
                    continue
                where = f"{path}:{line_number}"
                if _UNDECODED.search(line):
                    raise FuteError(f"{where}: not UTF-8 text; save the file as UTF-8")
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise FuteError(f"{where}: not a JSON line ({err.msg}); {bad_line}") from None
                if not isinstance(record, dict):
                    raise FuteError(f"{where}: expected a JSON object, got {type(record).__name__}")
                yield where, record
    except UnicodeDecodeError as err:  # UTF-16 that is not (surrogateescape covers UTF-8 line by line)
        raise FuteError(f"{path}: not {encoding.upper()} text ({err.reason}); save the file as UTF-8") from None


def emptiness(path: str | os.PathLike) -> str:
    """What a file that yielded no lines holds, for its error message: "0 bytes" or "blank lines only"."""
    return "0 bytes" if Path(path).stat().st_size == 0 else "blank lines only"


def complete_lines_end(path: str | os.PathLike) -> int:
    """The size in bytes of `path`'s complete lines: up to and including its last newline.

    A file that is appended to line by line is complete when this equals its size; the bytes
    after it are a line torn by a kill (or still being written).
    """
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        while position > 0:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            newline = handle.read(step).rfind(b"\n")
            if newline >= 0:
                return position + newline + 1
        return 0


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Yield one dict per non-blank line; a malformed line is an error naming file and line."""
    for _, record in iter_jsonl_lines(path):
        yield record


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return list(iter_jsonl(path))


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write records one per line, atomically; return how many were written."""
    count = 0
    with atomic_open(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
            count += 1
    return count


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_record(config: dict[str, Any], argv: list[str] | None, script: str) -> dict[str, Any]:
    """A small JSON-able record of how an output was made: command, argv, time, config, versions.

    The command is the entry `script` (a path or name) with its arguments, as it would be
    typed, also when the script's main() was called from Python (the demo, a test); argv is the
    same as a list (what a sweep compares, data_utils/artifacts/completion.py); time is when the
    record was made (UTC, ISO 8601), which a final record makes the time its output was finished.
    """
    command = [Path(script).name, *(list(argv) if argv is not None else sys.argv[1:])]
    return {
        "command": " ".join(command),
        "argv": command,
        "time": datetime.now(timezone.utc).isoformat(),
        "config": config,
        "versions": package_versions(),
    }


def _json_default(obj: Any) -> Any:
    """Serialise numpy scalars/arrays and paths, which json cannot do by itself."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def require_folder(folder: str | os.PathLike, flag: str) -> Path:
    """`folder` as a Path; not a folder is an error naming `flag`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FuteError(f"{flag} {folder} is not a folder; pass the folder the earlier step wrote to")
    return folder


# Extensions a table's --save_path stem may be given with by habit (dropped: every table writes several).
TABLE_SUFFIXES = (".md", ".csv", ".json", ".png")


def output_stem(save_path: str | os.PathLike) -> Path:
    """A table's --save_path as a stem: a known extension given by habit is dropped."""
    path = Path(save_path)
    return path.with_suffix("") if path.suffix in TABLE_SUFFIXES else path


def stem_file(stem: Path, suffix: str) -> Path:
    """<stem><suffix>, appended to the full name: a dot in the stem (k0.5, llama-2.0) stays."""
    return stem.with_name(stem.name + suffix)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` atomically (UTF-8)."""
    with atomic_open(path) as handle:
        handle.write(text)
    return Path(path)
