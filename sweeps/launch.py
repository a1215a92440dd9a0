"""Running a graph's pending steps: here, one after another or N at a time over GPUs, or as SLURM job arrays;
and what a sweep left behind (`report_status`).

Every step's output goes to `<out>/logs/<step>.log`, headed by its command. Local (`run_local`):
with one job, each command is printed and run in order, its output shown here as well, and the
first failure stops the sweep with its status, naming the step and its log (a rerun resumes:
done steps are skipped). With N jobs, up to N steps run at once, each as soon as the steps it
reads are done; a step that needs a model gets a GPU of `gpus` of its own through
CUDA_VISIBLE_DEVICES (and waits for a free one); after a failure the steps that depend on it are
not started, the others go on, and the sweep ends with status 1 and a line naming each failed
step and its log.

SLURM (`submit_slurm`): one job array per stage, in graph order; an array waits (afterok) for the
array tasks of the steps its steps read, also those of sweeps submitted before (recorded in
`<out>/slurm/jobs.json`), and is cancelled when one of them fails (--kill-on-invalid-dep); every
task appends to its step's log and is submitted with --requeue, so a preempted step runs again
and resumes from what it saved. Steps already done, or queued or running from an earlier
submission, are not submitted; after failures, a resubmission submits only what is missing.
Submitting returns at once: `wait_for_slurm` waits for the submitted tasks to leave the queue, and
`report_status` names every step not done (failed, held back, queued, not run) and returns 1
when one failed.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from data_utils.io import read_json, write_json
from sweeps.graph import Graph, Step

REPOSITORY = Path(__file__).resolve().parent.parent


def job_list(graph: Graph, pending: Sequence[Step]) -> str:
    """The pending steps as a tab-separated job list: step, stage, the pending steps it waits for, command."""
    rows = ["step\tstage\twaits_for\tcommand"]
    for step in pending:
        waits = ",".join(s.name for s in graph.pending_dependencies(step, pending)) or "-"
        rows.append(f"{step.name}\t{step.stage}\t{waits}\t{step.command()}")
    return "\n".join(rows) + "\n"


def stage_summary(graph: Graph, pending: Sequence[Step]) -> str:
    """One line per stage, in graph order: its steps, how many are done and pending, and the stages whose pending
    steps its pending steps wait for; then the total. Columns aligned, for reading (job_list is for tools)."""
    left = {step.name for step in pending}
    stages: dict[str, list[Step]] = {}
    for step in graph.steps:
        stages.setdefault(step.stage, []).append(step)
    order = list(stages)
    rows = [("stage", "steps", "done", "pending", "waits_for")]
    for stage, steps in stages.items():
        waiting = [step for step in steps if step.name in left]
        upstream = {dep.stage for step in waiting for dep in graph.pending_dependencies(step, pending)}
        rows.append((stage, len(steps), len(steps) - len(waiting), len(waiting),
                     ",".join(sorted(upstream, key=order.index)) or "-"))
    rows.append(("total", len(graph.steps), len(graph.steps) - len(pending), len(pending), "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n"
                   for row in rows)


def run_local(graph: Graph, pending: Sequence[Step], jobs: int, gpus: Sequence[str], logs: Path,
              echo: Callable[[str], None] = print) -> int:
    """Run the pending steps; 0 when every one succeeded, else a failing status (see the module docstring)."""
    logs.mkdir(parents=True, exist_ok=True)
    if jobs == 1 and not gpus:
        for step in pending:
            echo(step.command())
            failure = _failure(step, _run_teed(step, logs), logs)
            if failure:
                echo(failure[1])
                return failure[0]
        return 0
    return _run_parallel(graph, pending, jobs, list(gpus), logs, echo)


def _failure(step: Step, status: int, logs: Path) -> tuple[int, str] | None:
    """(the sweep's status, a line naming the step and its log) when the step failed: a failing status, or
    status 0 without its outputs finished (data_utils.artifacts.completion); None when it is done."""
    log = logs / f"{step.name}.log"
    if status:
        return status, f"# failed ({status}): {step.name}, see {log}"
    if not step.done():
        return 1, f"# failed: {step.name} exited with status 0 but its outputs are not finished, see {log}"
    return None


def _open_log(step: Step, logs: Path):
    """The step's log, opened for appending (binary), headed by its command."""
    log = open(logs / f"{step.name}.log", "ab")
    log.write(f"$ {step.command()}\n".encode())
    log.flush()
    return log


def _run_teed(step: Step, logs: Path) -> int:
    """Run one step with its output (stdout and stderr) both on this process's stdout and in its log."""
    sys.stdout.flush()
    with _open_log(step, logs) as log:
        process = subprocess.Popen(step.argv, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for chunk in iter(lambda: process.stdout.read1(1 << 16), b""):
            for sink in (sys.stdout.buffer, log):
                sink.write(chunk)
                sink.flush()
        return process.wait()


def _run_parallel(graph: Graph, pending: Sequence[Step], jobs: int, gpus: list[str], logs: Path,
                  echo: Callable[[str], None]) -> int:
    waiting = list(pending)
    running: dict[str, tuple[Step, subprocess.Popen, str | None, object]] = {}
    finished: set[str] = set()
    failed: list[str] = []  # ran and failed
    held: list[str] = []  # not started: they read the output of a failed step
    free_gpus = list(gpus)
    while waiting or running:
        for name, (step, process, gpu, log) in list(running.items()):
            if process.poll() is None:
                continue
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
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})}
            log = _open_log(step, logs)
            echo(f"{'' if gpu is None else f'CUDA_VISIBLE_DEVICES={gpu} '}{step.command()}")
            running[step.name] = (step, subprocess.Popen(step.argv, cwd=REPOSITORY, env=env, stdout=log,
                                                         stderr=subprocess.STDOUT), gpu, log)
            waiting.remove(step)
        time.sleep(0.05)
    if failed:
        named = ", ".join(f"{name} (see {logs / (name + '.log')})" for name in failed)
        not_started = f"; {len(held)} not started: {', '.join(held)}" if held else ""
        echo(f"# {len(failed)} step(s) failed: {named}{not_started}")
    return 1 if failed else 0


def array_script(steps: Sequence[Step], logs: Path) -> str:
    """A job array's script: task i runs steps[i] from the repository root, appending to its log."""
    cases = "\n".join(f"  {i}) {step.command()} >> {shlex.quote(str(logs / (step.name + '.log')))} 2>&1 ;;"
                      for i, step in enumerate(steps))
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


# What --status reports for each step not done, and its exit status: 0 every step done, 1 a step failed,
# 3 none failed but some are queued, running or not run yet.
FAILED, HELD, QUEUED, NOT_RUN = "failed", "held back", "queued", "not run"


def report_status(graph: Graph, out: Path, queued: Callable[[], set[str]] | None = None,
                  echo: Callable[[str], None] = print) -> int:
    """Print every step that is not done, with its state, as a tab-separated list (step, state, detail);
    return the exit status above.

    queued: SLURM holds the task last submitted for it (pending or running); failed: it ran and did not
    finish (its SLURM task is over, or it has a log; a local sweep still running shows its running steps
    so); held back: it reads the output of a failed step; not run: never started.
    """
    pending = graph.pending()
    recorded = _recorded_jobs(out)
    alive = (queued or _queued)() if recorded else set()
    echo(f"# {len(graph.steps) - len(pending)} of {len(graph.steps)} steps done")
    echo("step\tstate\tdetail")
    states: dict[str, str] = {}
    for step in pending:  # graph order: what a step reads comes before it
        task = next((recorded[str(path)] for path in step.outputs if str(path) in recorded), None)
        log = out / "logs" / f"{step.name}.log"
        blocked = [s.name for s in graph.pending_dependencies(step, pending) if states[s.name] in (FAILED, HELD)]
        if task in alive:
            state, detail = QUEUED, f"SLURM task {task}"
        elif blocked:
            state, detail = HELD, f"reads the output of {blocked[0]}"
        elif task is not None or log.exists():
            how = f"SLURM task {task} ended (failed, cancelled or out of time)" if task else "it ran"
            seen = f"see {log}" if log.exists() else "no log: it never started"
            state, detail = FAILED, f"{how} without finishing; {seen}"
        else:
            state, detail = NOT_RUN, "-"
        states[step.name] = state
        echo(f"{step.name}\t{state}\t{detail}")
    if any(state in (FAILED, HELD) for state in states.values()):
        return 1
    return 3 if pending else 0


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
