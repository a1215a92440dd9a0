"""Run an entry script and kill it with SIGKILL at a chosen moment of its writing: a real `kill -9`, reached
deterministically.

    python tests/killer.py after SUFFIX[@N] SCRIPT [ARGS...]
        killed right after a file whose name ends with SUFFIX is renamed into place (an atomic write done,
        the next one not begun), the N-th time (default: the first; e.g. a record is first pending, then final)
    python tests/killer.py tear N SUFFIX SCRIPT [ARGS...]
        killed in the (N+1)-th append to a file whose name ends with SUFFIX, once it has written the lines
        before the last and half of the last one (flushed to disk): a line torn as a kill mid-write tears it

The script runs as `python SCRIPT ARGS...` would, from the repository root. The process ends by
SIGKILL (status -9): no exception handler, `finally` block or atexit hook runs.
"""
from __future__ import annotations

import builtins
import os
import runpy
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after_replace(suffix: str, nth: int = 1) -> None:
    """Every atomic write ends with os.replace(temporary, destination): die after the `nth` one onto `suffix`."""
    replace, seen = os.replace, [0]

    def replace_then_die(source, destination, *args, **kwargs):
        replace(source, destination, *args, **kwargs)
        if str(destination).endswith(suffix):
            seen[0] += 1
            if seen[0] == nth:
                die()

    os.replace = replace_then_die


class TornFile:
    """A file opened for appending whose first write stops halfway through its last line, then dies."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, text: str) -> None:
        last = text.rstrip("\n").rsplit("\n", 1)[-1]
        self.handle.write(text[: len(text) - len(last) // 2 - 1])
        self.handle.flush()
        os.fsync(self.handle.fileno())
        die()

    def __getattr__(self, name: str):
        return getattr(self.handle, name)

    def __enter__(self) -> TornFile:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.__exit__(*exc)


def tear_append(appends_kept: int, suffix: str) -> None:
    """Let `appends_kept` appends to a file ending with `suffix` through; tear the next one (TornFile)."""
    real_open, seen = builtins.open, [0]

    def tearing_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "a" in mode and str(file).endswith(suffix):
            seen[0] += 1
            if seen[0] > appends_kept:
                return TornFile(handle)
        return handle

    builtins.open = tearing_open


def main(argv: list[str]) -> None:
    if argv[0] == "after":
        suffix, _, nth = argv[1].partition("@")
        kill_after_replace(suffix, int(nth or 1))
        script, args = argv[2], argv[3:]
    elif argv[0] == "tear":
        tear_append(int(argv[1]), argv[2])
        script, args = argv[3], argv[4:]
    else:
        sys.exit(f"unknown moment {argv[0]!r}; use after or tear")
    sys.path.insert(0, str(REPO))
    sys.argv = [script, *args]
    runpy.run_path(str(REPO / script), run_name="__main__")
    sys.exit("the script finished before the moment it was to be killed at")


if __name__ == "__main__":
    main(sys.argv[1:])
