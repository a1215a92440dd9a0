"""Running a graph's pending steps: here, one after another or N at a time over GPUs, or as SLURM job arrays.

Local (`run_local`): with one job, each command is printed and run in order with the terminal's
output, and the first failure stops the sweep with its status (a rerun resumes: done steps are
skipped). With N jobs, up to N steps run at once, each as soon as the steps it reads are done,
its output going to `<out>/logs/<step>.log`; a step that needs a model gets a GPU of `gpus` of
its own through CUDA_VISIBLE_DEVICES (and waits for a free one); after a failure the steps that
depend on it are not started, the others go on, and the status is 1.

SLURM (`submit_slurm`): one job array per stage, in graph order; an array waits (afterok) for the
array tasks of the steps its steps read, also those of sweeps submitted before (recorded in
`<out>/slurm/jobs.json`), and is cancelled when one of them fails (--kill-on-invalid-dep); every
task appends to `<out>/logs/<step>.log` and is submitted with --requeue, so a preempted step
runs again and resumes from what it saved. Steps already done, or queued or running from an
earlier submission, are not submitted; after failures, a resubmission submits only what is
missing.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sweeps.graph import Graph, Step

REPOSITORY = Path(__file__).resolve().parent.parent


def job_list(graph: Graph, pending: Sequence[Step]) -> str:
    """The pending steps as a tab-separated job list: step, stage, the pending steps it waits for, command."""
    rows = ["step\tstage\twaits_for\tcommand"]
    for step in pending:
        waits = ",".join(s.name for s in graph.pending_dependencies(step, pending)) or "-"
        rows.append(f"{step.name}\t{step.stage}\t{waits}\t{step.command()}")
    return "\n".join(rows) + "\n"


def run_local(graph: Graph, pending: Sequence[Step], jobs: int, gpus: Sequence[str], logs: Path,
              echo: Callable[[str], None] = print) -> int:
    """Run the pending steps; 0 when every one succeeded, else a failing status (see the module docstring)."""
    if jobs == 1 and not gpus:
        for step in pending:
            echo(step.command())
            status = subprocess.run(step.argv, cwd=REPOSITORY).returncode
            if status:
                return status
        return 0
    return _run_parallel(graph, pending, jobs, list(gpus), logs, echo)


def _run_parallel(graph: Graph, pending: Sequence[Step], jobs: int, gpus: list[str], logs: Path,
                  echo: Callable[[str], None]) -> int:
    logs.mkdir(parents=True, exist_ok=True)
    waiting = list(pending)
    running: dict[str, tuple[subprocess.Popen, str | None, object]] = {}
    finished: set[str] = set()
    failed: set[str] = set()
    free_gpus = list(gpus)
    while waiting or running:
        for name, (process, gpu, log) in list(running.items()):
            if process.poll() is None:
                continue
            log.close()
            del running[name]
            if gpu is not None:
                free_gpus.append(gpu)
            (finished if process.returncode == 0 else failed).add(name)
            if process.returncode:
                echo(f"# failed ({process.returncode}): {name}, see {logs / (name + '.log')}")
        for step in list(waiting):
            waits = {s.name for s in graph.pending_dependencies(step, pending)}
            if waits & failed:
                waiting.remove(step)
                failed.add(step.name)
                echo(f"# not started: {step.name} (it reads the output of a failed step)")
                continue
            if not waits <= finished or len(running) >= jobs or (step.gpu and gpus and not free_gpus):
                continue
            gpu = free_gpus.pop(0) if step.gpu and gpus else None
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {})}
            log = open(logs / f"{step.name}.log", "a", encoding="utf-8")
            log.write(f"$ {step.command()}\n")
            log.flush()
            echo(f"{'' if gpu is None else f'CUDA_VISIBLE_DEVICES={gpu} '}{step.command()}")
            running[step.name] = (subprocess.Popen(step.argv, cwd=REPOSITORY, env=env, stdout=log,
                                                   stderr=subprocess.STDOUT), gpu, log)
            waiting.remove(step)
        time.sleep(0.05)
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
    recorded = json.loads(recorded_path.read_text()) if recorded_path.is_file() else {}
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
            recorded_path.write_text(json.dumps(recorded, indent=1))
    return task_of


def _queued() -> set[str]:
    """The array tasks ("<job>_<task>") SLURM holds now, pending or running."""
    result = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    return set(result.stdout.split()) if result.returncode == 0 else set()


def _sbatch(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"sbatch failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]
