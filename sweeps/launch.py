"""Running a graph's pending steps: here, one after another or N at a time over GPUs, or as SLURM job arrays;
and what a sweep left behind (`report_status`).

Every step's output goes to `<out>/logs/<step>.log`, headed by its command. Local (`run_local`):
with one job, each command is printed and run in order, its output shown here as well, and the
first failure stops the sweep with its status, naming the step and its log (a rerun resumes:
done steps are skipped). A step's command dies with the sweep (`_die_with_parent`), so that a
sweep killed and started again never runs a second writer beside the first. With N jobs, up to N
steps run at once, each as soon as the steps it reads are done; a step that needs a model gets a
GPU of `gpus` of its own through CUDA_VISIBLE_DEVICES (and waits for a free one); after a failure
the steps that depend on it are not started, the others go on, and the sweep ends with status 1
and a line naming each failed step and its log. Each log ends with the step's exit status
(EXIT_LINE), with every launcher. In process (the demo): the entry scripts run in this process
(one job) or in N worker processes that import them once (`StepWorkers`), scheduled as N jobs are.

SLURM (`submit_slurm`): one job array per stage, in graph order; an array waits (afterok) for the
array tasks of the steps its steps read, also those of sweeps submitted before (recorded in
`<out>/slurm/jobs.json`), and is cancelled when one of them fails (--kill-on-invalid-dep); every
task appends to its step's log and is submitted with --requeue, so a preempted step runs again
and resumes from what it saved. Steps already done, or queued or running from an earlier
submission, are not submitted; after failures, a resubmission submits only what is missing.
Submitting returns at once: `wait_for_slurm` waits for the submitted tasks to leave the queue, and
`report_status` names every step not done (failed, held back, queued, running, stale, unfinished,
not run) and returns 1 when one failed.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import shlex
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Protocol

from data_utils.artifacts.completion import DONE, PENDING, STALE, marker, redo_line, state
from data_utils.cli import LOG_DATE_FORMAT, LOG_FORMAT
from data_utils.io import read_json, write_json
from data_utils.locks import lock_holder
from sweeps.graph import Graph, Step

REPOSITORY = Path(__file__).resolve().parent.parent


def job_list(graph: Graph, pending: Sequence[Step], states: dict[str, tuple[str, str]]) -> str:
    """The pending steps as a tab-separated job list: step, stage, state (pending or stale), the pending steps it
    waits for, the command that runs it."""
    rows = ["step\tstage\tstate\twaits_for\tcommand"]
    for step in pending:
        waits = ",".join(s.name for s in graph.pending_dependencies(step, pending)) or "-"
        rows.append(f"{step.name}\t{step.stage}\t{states[step.name][0]}\t{waits}\t{step.command()}")
    return "\n".join(rows) + "\n"


def stage_summary(graph: Graph, pending: Sequence[Step], states: dict[str, tuple[str, str]]) -> str:
    """One line per stage, in graph order: its steps, how many are done, pending and stale (three columns that add
    up to its steps: a stale step is not counted pending), and the stages whose pending or stale steps its own
    wait for; then the total. Columns aligned, for reading (job_list is for tools)."""
    left = {step.name for step in pending}
    stages: dict[str, list[Step]] = {}
    for step in graph.steps:
        stages.setdefault(step.stage, []).append(step)
    order = list(stages)
    rows = [("stage", "steps", "done", "pending", "stale", "waits_for")]
    for stage, steps in stages.items():
        waiting = [step for step in steps if step.name in left]
        stale = sum(states[step.name][0] == STALE for step in waiting)
        upstream = {dep.stage for step in waiting for dep in graph.pending_dependencies(step, pending)}
        rows.append((stage, len(steps), len(steps) - len(waiting), len(waiting) - stale, stale,
                     ",".join(sorted(upstream, key=order.index)) or "-"))
    stale = sum(states[step.name][0] == STALE for step in pending)
    rows.append(("total", len(graph.steps), len(graph.steps) - len(pending), len(pending) - stale, stale, "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n"
                   for row in rows)


def say_stale(pending: Sequence[Step], states: dict[str, tuple[str, str]], echo: Callable[[str], None]) -> None:
    """A line for each stale step about to run again: why, and with what (completion.redo_line)."""
    for step in pending:
        if states[step.name][0] == STALE:
            echo(redo_line(step.name, states[step.name][1], step.redo))


def run_local(graph: Graph, pending: Sequence[Step], jobs: int, gpus: Sequence[str], logs: Path,
              echo: Callable[[str], None] = print, in_process: bool = False, threads: int | None = None) -> int:
    """Run the pending steps; 0 when every one succeeded, else a failing status (see the module docstring).

    in_process (no GPUs): each step's command runs as its entry script's main(arguments), called exactly as its
    command line would, in a process that imported it once: torch and transformers load once for every step, as
    the demo wants. With one job that process is this one: no log files, and an error raised by a step stops the
    run and propagates. With N jobs, N worker processes (`StepWorkers`, `threads` torch threads each) run up to N
    steps at once, as the subprocesses of N jobs do, each step's output in its log. N jobs' steps get `threads` CPU
    threads each (default: the cores shared out among them) unless OMP_NUM_THREADS is set."""
    if in_process and gpus:
        raise ValueError("in_process runs steps on the CPU: pass no GPUs")
    if not (in_process and jobs == 1):
        logs.mkdir(parents=True, exist_ok=True)
    if jobs == 1 and not gpus:
        for step in pending:
            echo(step.command())
            if in_process:
                entry_point(step.argv[1])(list(step.argv[2:]))
            failure = _failure(step, 0) if in_process else _failure(step, _run_teed(step, logs), logs)
            if failure:
                echo(failure[1])
                return failure[0]
        return 0
    if in_process:
        with StepWorkers(jobs, threads or 1) as workers:
            return _run_parallel(graph, pending, jobs, [], logs, echo, start=workers.start)
    # N steps at once share the cores out: N small steps with two threads each on two cores only take turns.
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    return _run_parallel(graph, pending, jobs, list(gpus), logs, echo, start=partial(_start_process, threads=threads))


def entry_point(script: str) -> Callable[[list[str]], object]:
    """The main() of the entry script a step's command runs (`script`, its argv[1]: an entry script at the
    repository's root, imported by its file's name, as `python <script>.py` names it)."""
    if (REPOSITORY / script).resolve().parent != REPOSITORY:
        raise ValueError(f"{script} is not an entry script at the repository's root")
    return import_module(Path(script).stem).main


def _failure(step: Step, status: int, logs: Path | None = None) -> tuple[int, str] | None:
    """(the sweep's status, a line naming the step and its log) when the step failed: a failing status, or
    status 0 without it being done (data_utils.artifacts.completion.state: its outputs not finished, or not by
    its command); None when it is done. `logs`: None for a step run in this process (no log)."""
    see = "" if logs is None else f", see {logs / f'{step.name}.log'}"
    if status:
        return status, f"# failed ({status}): {step.name}{see}"
    after, why = state(step.outputs, step.script_argv(), step.inputs, step.sources, step.selectors)
    if after != DONE:
        what = "its outputs are not finished" if after == PENDING else "its outputs are stale"
        return 1, f"# failed: {step.name} exited with status 0 but {what} ({why}){see}"
    return None


def _die_with_parent(sweep: int) -> None:
    """In a step's process, before its command starts (Popen's preexec_fn): have Linux kill it when the sweep
    dies. A SIGKILL of the sweep cannot be caught, so no handler in the sweep could stop its steps; without
    this a step goes on, re-parented to init, and a sweep started again would start a second writer of its
    outputs (their lock refuses it now, but the first would still be running). `sweep`: the sweep's pid.
    Not Linux: nothing."""
    if not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1  # noqa: N806  (linux/prctl.h)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != sweep:  # the sweep died before prctl took effect
        os._exit(1)


# The last line of a step's log once its command ended (every launcher writes it): how --status tells a run of
# this sweep that failed, or was killed (no such line), from one that finished and whose outputs changed since.
EXIT_LINE = "# exit status "


def _open_log(step: Step, logs: Path):
    """The step's log, opened for appending (binary), headed by its command; it ends with EXIT_LINE."""
    log = open(logs / f"{step.name}.log", "ab")
    log.write(f"$ {step.command()}\n".encode())
    log.flush()
    return log


def _run_teed(step: Step, logs: Path) -> int:
    """Run one step with its output (stdout and stderr) both on this process's stdout and in its log."""
    sys.stdout.flush()
    with _open_log(step, logs) as log:
        process = subprocess.Popen(step.argv, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   preexec_fn=partial(_die_with_parent, os.getpid()))
        for chunk in iter(lambda: process.stdout.read1(1 << 16), b""):
            for sink in (sys.stdout.buffer, log):
                sink.write(chunk)
                sink.flush()
        status = process.wait()
        log.write(f"{EXIT_LINE}{status}\n".encode())
        return status


def _start_process(step: Step, gpu: str | None, log, threads: int | None = None) -> subprocess.Popen:
    """A step's command as a process of its own, on `gpu` (CUDA_VISIBLE_DEVICES) when given, writing to `log`, with
    `threads` CPU threads (OMP_NUM_THREADS, which torch reads) unless the sweep's environment sets them."""
    env = {**({"OMP_NUM_THREADS": str(threads)} if threads else {}), **os.environ,
           **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})}
    return subprocess.Popen(step.argv, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=partial(_die_with_parent, os.getpid()))


class _Running(Protocol):
    """A started step, as _run_parallel polls it: poll() is None while it runs, then its exit status."""

    returncode: int | None

    def poll(self) -> int | None: ...


def _run_parallel(graph: Graph, pending: Sequence[Step], jobs: int, gpus: list[str], logs: Path,
                  echo: Callable[[str], None],
                  start: Callable[[Step, str | None, object], _Running] = _start_process) -> int:
    waiting = list(pending)
    running: dict[str, tuple[Step, _Running, str | None, object]] = {}
    finished: set[str] = set()
    failed: list[str] = []  # ran and failed
    held: list[str] = []  # not started: they read the output of a failed step
    free_gpus = list(gpus)
    while waiting or running:
        for name, (step, process, gpu, log) in list(running.items()):
            if process.poll() is None:
                continue
            log.write(f"{EXIT_LINE}{process.returncode}\n".encode())
            log.close()
            del running[name]
            if gpu is not None:
                free_gpus.append(gpu)
            failure = _failure(step, process.returncode, logs)
            if failure:
                failed.append(name)
                echo(failure[1])
            else:
                finished.add(name)
        for step in list(waiting):
            waits = {s.name for s in graph.pending_dependencies(step, pending)}
            if waits & {*failed, *held}:
                waiting.remove(step)
                held.append(step.name)
                echo(f"# not started: {step.name} (it reads the output of a failed step)")
                continue
            if not waits <= finished or len(running) >= jobs or (step.gpu and gpus and not free_gpus):
                continue
            gpu = free_gpus.pop(0) if step.gpu and gpus else None
            log = _open_log(step, logs)
            echo(f"{'' if gpu is None else f'CUDA_VISIBLE_DEVICES={gpu} '}{step.command()}")
            running[step.name] = (step, start(step, gpu, log), gpu, log)
            waiting.remove(step)
        time.sleep(0.05)
    if failed:
        named = ", ".join(f"{name} (see {logs / (name + '.log')})" for name in failed)
        not_started = f"; {len(held)} not started: {', '.join(held)}" if held else ""
        echo(f"# {len(failed)} step(s) failed: {named}{not_started}")
    return 1 if failed else 0


class StepWorkers:
    """Worker processes that run steps as `run_local` in_process does: each imports the entry scripts (torch,
    transformers) once, then runs one step after another, its entry script's main(arguments) called as its command
    line would, with `threads` torch threads. Small models use two CPU threads poorly: two demo steps side by side
    with one thread each finish in 0.71 of the time they take one after the other with two (benchmarks/README.md).
    Spawned, not forked (a fork of a process whose torch started its threads can hang); they die with this one."""

    def __init__(self, jobs: int, threads: int):
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                                        initargs=(threads, os.getpid()))

    def __enter__(self) -> StepWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def start(self, step: Step, gpu: str | None, log) -> _Running:
        """Run `step` in a free worker (or the next one free), its output appended to `log` (opened by the caller,
        which closes it once the step is done)."""
        log.flush()
        return _Future(self.pool.submit(_run_in_worker, list(step.argv[1:]), log.name))


class _Future:
    """A step run by a worker, polled as a process is: its status once done (1 for an error the worker could not
    report: it died)."""

    def __init__(self, future: Future):
        self.future, self.returncode = future, None

    def poll(self) -> int | None:
        if self.returncode is None and self.future.done():
            error = self.future.exception()
            self.returncode = 1 if error is not None else self.future.result()
        return self.returncode


def _start_worker(threads: int, parent: int) -> None:
    """A worker's start: the repository on its path, `threads` torch threads, and death with the sweep."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if str(REPOSITORY) not in sys.path:
        sys.path.insert(0, str(REPOSITORY))
    import torch

    torch.set_num_threads(threads)
    _die_with_parent(parent)


def _run_in_worker(argv: list[str], log_path: str) -> int:
    """Run one step's entry script (argv: the script, then its arguments) in this worker, its output (stdout,
    stderr and log records) appended to `log_path`; its exit status: 0, a SystemExit's code, or 1 for an error,
    whose traceback goes to the log."""
    root = logging.getLogger()
    with open(log_path, "a", encoding="utf-8", buffering=1) as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
        saved = root.handlers[:]
        root.handlers = [handler]
        try:
            entry_point(argv[0])(argv[1:])
            return 0
        except SystemExit as err:
            return err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
        except Exception:  # noqa: BLE001  (any error of the step is its failure, reported in its log)
            traceback.print_exc(file=log)
            return 1
        finally:
            root.handlers = saved


def array_script(steps: Sequence[Step], logs: Path) -> str:
    """A job array's script: task i runs steps[i] from the repository root, appending to its log, which it ends
    with EXIT_LINE; the task exits with the step's status (what afterok dependencies see)."""
    def case(i: int, step: Step) -> str:
        log = shlex.quote(str(logs / (step.name + ".log")))
        return (f"  {i}) {step.command()} >> {log} 2>&1; status=$?; echo \"{EXIT_LINE}$status\" >> {log}; "
                f"exit $status ;;")

    cases = "\n".join(case(i, step) for i, step in enumerate(steps))
    return (f"#!/bin/bash\ncd {shlex.quote(str(REPOSITORY))}\ncase $SLURM_ARRAY_TASK_ID in\n{cases}\n"
            f"  *) echo \"no step $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n")


def submit_slurm(graph: Graph, pending: Sequence[Step], out: Path, slurm_args: Sequence[str], dry_run: bool,
                 sbatch: Callable[[list[str]], str] | None = None, queued: Callable[[], set[str]] | None = None,
                 echo: Callable[[str], None] = print) -> dict[str, str]:
    """Submit one array per stage of the pending steps; returns step name -> "<job id>_<task>".

    A step also waits for a queued or running array task of an earlier submission (another sweep's,
    recorded in <out>/slurm/jobs.json) that writes a file it reads and that does not exist yet: the
    four sweeps may be submitted one after another. `sbatch(argv)` submits and returns the job id
    (default: the sbatch command, --parsable); `queued()` gives the array tasks SLURM still holds
    (default: squeue). With dry_run nothing is written or submitted: the sbatch commands are
    printed, each followed by its steps, and the job ids shown are placeholders.
    """
    logs, scripts = out / "logs", out / "slurm"
    recorded_path = scripts / "jobs.json"
    recorded = _recorded_jobs(out)
    alive = (queued or _queued)() if recorded else set()
    queued_already = [step for step in pending if all(recorded.get(str(path)) in alive for path in step.outputs)]
    if queued_already:  # submitted before and still in SLURM's queue: not twice
        echo(f"# {len(queued_already)} step(s) queued or running already: "
             f"{', '.join(step.name for step in queued_already)}")
        pending = [step for step in pending if step not in queued_already]
    if not dry_run:
        logs.mkdir(parents=True, exist_ok=True)
        scripts.mkdir(parents=True, exist_ok=True)
    sbatch = sbatch or _sbatch
    task_of: dict[str, str] = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number, stage in enumerate(dict.fromkeys(step.stage for step in pending)):
        steps = [step for step in pending if step.stage == stage]
        read = {dep.name for step in steps for dep in graph.pending_dependencies(step, pending)}
        if read & {step.name for step in steps}:
            raise ValueError(f"stage {stage} has a step that reads another of its own steps")
        waits = [task_of[step.name] for step in pending if step.name in read]  # in submission order
        earlier = {recorded[str(path)] for step in steps for path in step.inputs
                   if not path.exists() and recorded.get(str(path)) in alive}
        waits += sorted(earlier - set(waits))
        argv = ["sbatch", "--parsable", f"--job-name=fute_{stage}", f"--array=0-{len(steps) - 1}", "--requeue",
                "--kill-on-invalid-dep=yes", f"--output={logs / f'slurm_{stage}_%A_%a.out'}", *slurm_args]
        if waits:
            argv.append("--dependency=afterok:" + ":".join(waits))
        script = scripts / f"{stamp}_{number:02d}_{stage}.sh"
        if dry_run:
            echo(shlex.join([*argv, str(script)]))
            for i, step in enumerate(steps):
                echo(f"#   [{i}] {step.command()}")
            job = f"<{stage}>"
        else:
            script.write_text(array_script(steps, logs))
            job = sbatch([*argv, str(script)])
            echo(f"submitted {stage}: job {job}, {len(steps)} step(s)")
        for i, step in enumerate(steps):
            task_of[step.name] = f"{job}_{i}"
            if not dry_run:
                recorded.update({str(path): f"{job}_{i}" for path in step.outputs})
        if not dry_run:
            write_json(recorded_path, recorded)
    return task_of


def _recorded_jobs(out: Path) -> dict[str, str]:
    """Output path -> the SLURM array task ("<job>_<task>") last submitted to write it (<out>/slurm/jobs.json)."""
    path = out / "slurm" / "jobs.json"
    return read_json(path) if path.is_file() else {}


def wait_for_slurm(graph: Graph, out: Path, poll_seconds: float, queued: Callable[[], set[str]] | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once SLURM holds none of the array tasks recorded for the graph's steps (each ran, failed or
    was cancelled), asking SLURM every `poll_seconds`."""
    recorded = _recorded_jobs(out)
    tasks = {recorded[str(path)] for step in graph.steps for path in step.outputs if str(path) in recorded}
    while tasks & (queued or _queued)():
        sleep(poll_seconds)


# What --status reports for each step not done, and its exit status: 0 every step done, 1 a step failed (or is
# held back by one), 3 none failed but some are queued, running, stale, unfinished or not run yet.
FAILED, HELD, QUEUED, RUNNING, UNFINISHED, NOT_RUN = "failed", "held back", "queued", "running", "unfinished", "not run"


def report_status(graph: Graph, out: Path, queued: Callable[[], set[str]] | None = None,
                  echo: Callable[[str], None] = print) -> int:
    """Print every step that is not done, with its state, as a tab-separated list (step, state, detail; no
    header when every step is done); return the exit status above.

    queued: SLURM holds the task last submitted for it (pending or running); running: a run holds the lock of
    one of its outputs (data_utils.locks.lock_holder: its pid and host), whoever started it; held back: it reads
    the output of a failed step; stale: its outputs are finished but by another command or before what they
    read changed (data_utils.artifacts.completion.state, which says how); failed: this sweep ran it last (its
    SLURM task is over, or its log, newer than anything it left, does not end with status 0: EXIT_LINE) and
    it did not finish; unfinished: what it left is not finished, and this sweep's last run of it (if any)
    succeeded or came before (a run killed outside the sweep, a file edited or deleted since): the detail says
    what is wrong; not run: it left nothing.
    """
    step_states = graph.states()
    pending = graph.pending(step_states)
    recorded = _recorded_jobs(out)
    alive = (queued or _queued)() if recorded else set()
    echo(f"# {len(graph.steps) - len(pending)} of {len(graph.steps)} steps done")
    if pending:  # a header over no rows would look like a list cut short
        echo("step\tstate\tdetail")
    states: dict[str, str] = {}
    for step in pending:  # graph order: what a step reads comes before it
        task = next((recorded[str(path)] for path in step.outputs if str(path) in recorded), None)
        log = out / "logs" / f"{step.name}.log"
        blocked = [s.name for s in graph.pending_dependencies(step, pending) if states[s.name] in (FAILED, HELD)]
        holder = next(filter(None, map(lock_holder, step.outputs)), None)
        left = [path.stat().st_mtime for output in step.outputs for path in (output, marker(output)) if path.exists()]
        kind, why = step_states[step.name]
        if task in alive:
            status, detail = QUEUED, f"SLURM task {task}"
        elif holder is not None:
            status, detail = RUNNING, f"{holder} is writing it"
        elif blocked:
            status, detail = HELD, f"reads the output of {blocked[0]}"
        elif kind == STALE:
            status, detail = STALE, why
        elif task is not None:
            seen = f"see {log}" if log.exists() else "no log: it never started"
            status, detail = FAILED, f"SLURM task {task} ended (failed, cancelled or out of time): {why}; {seen}"
        elif log.exists() and log.stat().st_mtime >= max(left, default=0.0) and _last_exit(log) != 0:
            ended = _last_exit(log)
            how = "it was killed (or is running elsewhere)" if ended is None else f"it exited with status {ended}"
            status, detail = FAILED, f"{how}: {why}; see {log}"
        elif left or log.exists():
            status, detail = UNFINISHED, why
        else:
            status, detail = NOT_RUN, "-"
        states[step.name] = status
        echo(f"{step.name}\t{status}\t{detail}")
    if any(status in (FAILED, HELD) for status in states.values()):
        return 1
    return 3 if pending else 0


def _last_exit(log: Path) -> int | None:
    """The status the last run in `log` exited with (its EXIT_LINE); None when it did not end (killed, running)."""
    with open(log, "rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - 256))
        lines = handle.read().decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    return int(last[len(EXIT_LINE):]) if last.startswith(EXIT_LINE) and last[len(EXIT_LINE):].lstrip("-").isdigit() \
        else None


def _queued() -> set[str]:
    """The array tasks ("<job>_<task>") SLURM holds now, pending or running. When SLURM cannot be asked, the
    sweep stops: taking its tasks for gone would submit them twice, or report them failed."""
    try:
        result = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    except OSError as err:
        sys.exit(f"sweep.py: cannot run squeue ({err.strerror}) to see which of the tasks in jobs.json SLURM still "
                 f"holds; run this where SLURM answers")
    if result.returncode:
        sys.exit(f"squeue failed ({result.returncode}): {result.stderr.strip()}")
    return set(result.stdout.split())


def _sbatch(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"sbatch failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]
