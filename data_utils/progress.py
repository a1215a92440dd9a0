"""Progress of long loops, on a terminal and in a log.

On a terminal a loop shows a tqdm bar. A bar is invisible everywhere else (a log file, a SLURM
log, a sweep's step log), so there the loop logs a line instead, at most every
FUTE_PROGRESS_SECONDS seconds (default 30): how much of the total is done, the rate, the time
left and the loop's own figures (a training loss), e.g.

    12:03:41 INFO progress: fim: 1200/5000 batches (24%), 3.21 batches/s, 0:19:44 left

and, when it logged any, one last line with the whole loop's time. `progress` is the one way a
loop reports how far it got: training epochs, FIM passes, a model's outputs on x', LLM scoring,
x', the hub pool.
"""
from __future__ import annotations

import datetime
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from data_utils.errors import FuteError

logger = logging.getLogger("progress")

INTERVAL_VARIABLE = "FUTE_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 30.0


def interval_seconds() -> float:
    """Seconds between two progress lines: $FUTE_PROGRESS_SECONDS, else 30 (0 = a line for every step)."""
    value = os.environ.get(INTERVAL_VARIABLE)
    if value is None:
        return DEFAULT_INTERVAL
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        raise FuteError(f"{INTERVAL_VARIABLE}={value!r}: give the seconds between two progress lines, a number >= 0")
    return seconds


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str = "", unit: str = "steps",
             terminal: bool | None = None):
    """Report the progress of a loop over `iterable` (or, without one, of `.update(n)` calls), with tqdm's
    interface (iterate, update, set_postfix, close, `with`): a tqdm bar when stderr is a terminal (or
    `terminal`), else a `LogProgress`. `total` defaults to len(iterable); `unit` is plural ("batches")."""
    if sys.stderr.isatty() if terminal is None else terminal:
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False)
    return LogProgress(iterable, total, desc, unit)


class LogProgress:
    """Progress as log lines, at most one every `interval` seconds of `clock` (default: `interval_seconds()`)."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 unit: str = "steps", interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.interval = interval_seconds() if interval is None else interval
        self.clock = clock
        self.n, self.lines, self.closed = 0, 0, False
        self.postfix = ""
        self.started = self.last = clock()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)  # after the loop's body, as tqdm counts
        self.close()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.lines += 1
            logger.info("%s", self._line(now))

    def set_postfix(self, **values: Any) -> None:
        """Figures of the loop's own (e.g. loss="0.4321"), added to the next lines."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        """The last line, with the whole loop's time, when the loop was long enough to log any."""
        if self.lines and not self.closed:
            elapsed = self.clock() - self.started
            logger.info("%s: %d %s in %s (%s %s/s)", self.desc, self.n, self.unit, _duration(elapsed),
                        _rate(self.n, elapsed), self.unit)
        self.closed = True

    def _line(self, now: float) -> str:
        elapsed = now - self.started
        if self.total:
            parts = [f"{self.desc}: {self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"]
        else:
            parts = [f"{self.desc}: {self.n} {self.unit}"]
        parts.append(f"{_rate(self.n, elapsed)} {self.unit}/s")
        if self.total and self.n and elapsed > 0:
            parts.append(f"{_duration((self.total - self.n) * elapsed / self.n)} left")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.3g}" if seconds > 0 else "-"


def _duration(seconds: float) -> str:
    """H:MM:SS, e.g. 0:19:44."""
    return str(datetime.timedelta(seconds=round(max(seconds, 0.0))))
