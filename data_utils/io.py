"""File helpers shared by every entry script: atomic writes, JSON/JSONL, run records.

Every output is written to a temporary file beside its destination and renamed
into place, so a killed run never leaves a half-written result that a later
step (or a resuming sweep) would mistake for a finished one.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from data_utils.errors import FuteError

# Packages whose versions are written into every run record.
RECORDED_PACKAGES = ("torch", "transformers", "datasets", "accelerate", "numpy", "scikit-learn", "scipy")

_UMASK = os.umask(0)
os.umask(_UMASK)


def ensure_parent_writable(path: str | os.PathLike) -> Path:
    """Create the parent folder of `path` and check that it can be written to."""
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

    On any exception the temporary file is removed and `path` is left untouched.
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


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=2, ensure_ascii=False, default=_json_default)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FuteError(f"file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise FuteError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None


def iter_jsonl_lines(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """Yield (where, record) per non-blank line, where = "file:line" for the caller's own errors.

    A line that is not a JSON object is an error naming file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FuteError(f"file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise FuteError(f"{where}: not a JSON line ({err.msg}); fix or delete that line") from None
            if not isinstance(record, dict):
                raise FuteError(f"{where}: expected a JSON object, got {type(record).__name__}")
            yield where, record


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
    """A small JSON-able record of how an output was made: command, config, versions.

    The command is the entry `script` (a path or name) with its arguments, as it would be
    typed, also when the script's main() was called from Python (the demo, a test).
    """
    command = list(argv) if argv is not None else sys.argv[1:]
    return {
        "command": " ".join([Path(script).name, *command]),
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
