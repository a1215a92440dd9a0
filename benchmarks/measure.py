"""Timing and per-phase peak memory for the benchmark scripts (Linux /proc; getrusage elsewhere)."""
from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

PEAKS: list[float] = []  # every phase's peak: clear_refs also resets ru_maxrss, so the run's peak is their max


def reset_peak() -> None:
    """Reset the kernel's resident-set high-water mark (VmHWM), so the next reading is one phase's peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the reading is then the peak since the start


def status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM, ...) in MiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mib() -> float:
    """The resident-set high-water mark in MiB (since the last reset_peak)."""
    peak = status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(fn: Callable[[], object]) -> tuple[float, str, object]:
    """(seconds, "peak MiB (+ growth over the resident set at the start)" of this call, result)."""
    reset_peak()
    before = status_mib("VmRSS") or 0.0
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    PEAKS.append(peak_mib())
    return seconds, f"{PEAKS[-1]:6.0f} MiB (+{PEAKS[-1] - before:4.0f})", result
