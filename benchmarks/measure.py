"""Timing and per-phase peak memory for the benchmark scripts (Linux /proc; getrusage elsewhere).

`measure` times one phase; `keep_best` keeps the fastest of interleaved repeats; `whole_run`
is the closing line of a run.

Once CUDA is in use, each phase is bracketed by synchronisations (kernels are
asynchronous) and also reports the CUDA allocator's peak.
"""
from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch

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
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    reset_peak()
    before = status_mib("VmRSS") or 0.0
    start = time.perf_counter()
    result = fn()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    PEAKS.append(peak_mib())
    peak = f"{PEAKS[-1]:6.0f} MiB (+{PEAKS[-1] - before:4.0f})"
    if cuda:
        peak += f", GPU {torch.cuda.max_memory_allocated() / 2**20:6.0f} MiB"
    return seconds, peak, result


def keep_best(best: dict[str, tuple[float, str]], label: str, seconds: float, peak: str) -> None:
    """Keep (seconds, peak) under `label` if it is the fastest of its repeats so far."""
    if label not in best or seconds < best[label][0]:
        best[label] = (seconds, peak)


def whole_run() -> str:
    """The run's closing line: the largest phase peak and the load average at the end."""
    return f"whole run: peak {max(PEAKS):.0f} MiB (the largest phase peak), load average now {os.getloadavg()[0]:.2f}"
