"""The demo's worker processes (sweeps/launch.py, `StepWorkers`): steps run in processes that import the entry
scripts once, N at a time, each after what it reads, with the same results as in this process, each step's output
in its log; a failed step holds back what reads it and lets the others go on."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from data_utils.artifacts.paths import ResultLayout
from sweeps import launch, paper
from sweeps.options import Budgets, SweepOptions

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"

pytestmark = pytest.mark.slow  # each worker imports torch and transformers (several seconds)


def _graph(out: Path, data: Path, tiny_bert: Path):
    budgets = Budgets(train_examples=16, epochs=1, dev_examples=16, transfer_examples=16)
    options = SweepOptions(out=out, python=sys.executable, lm=str(tiny_bert), surrogate=str(tiny_bert), llms=[],
                           cr=["sst2", "mrpc"], emb_types=["prefix"], seeds=[1], data_dir=data,
                           pool=SAMPLES / "unsup_pool.jsonl", extra=["--device", "cpu"], budgets=budgets)
    graph = paper.build("all", options, [])
    return graph, [step for step in graph.to_run(graph.states()) if step.stage in ("finetune", "transfer")]


def _scores(out: Path) -> dict[str, float]:
    """Score file name -> its dev score ("all": the task's main metric)."""
    folder = ResultLayout(out).for_seed(1).finetune_dir()
    return {path.name: json.loads(path.read_text())["all"] for path in sorted(folder.rglob("*_score.json"))}


def test_two_workers_run_every_step_after_what_it_reads_as_this_process_does(tmp_path, tiny_bert):
    here, there = tmp_path / "here", tmp_path / "workers"
    graph, pending = _graph(here, SAMPLES, tiny_bert)
    assert launch.run_local(graph, pending, 1, [], here / "logs", in_process=True, echo=lambda line: None) == 0
    graph, pending = _graph(there, SAMPLES, tiny_bert)
    started: list[str] = []
    assert launch.run_local(graph, pending, 2, [], there / "logs", in_process=True, threads=1,
                            echo=started.append) == 0
    assert not [step for step in graph.to_run(graph.states()) if step.stage in ("finetune", "transfer")]
    # Every fine-tune started before the transfers that read its checkpoint.
    order = [next(step.name for step in pending if step.command() == line) for line in started]
    for step in pending:
        for dependency in graph.pending_dependencies(step, pending):
            assert order.index(dependency.name) < order.index(step.name)
    # The same scores as the steps run in this process (one thread here, torch's default there: float rounding).
    assert _scores(there).keys() == _scores(here).keys() and len(_scores(here)) == 4
    assert _scores(there) == pytest.approx(_scores(here), abs=1e-6)
    # Each step's output is in its log, after its command, and the log ends with its exit status.
    for step in pending:
        log = (there / "logs" / f"{step.name}.log").read_text()
        assert log.startswith(f"$ {step.command()}\n") and log.endswith(f"{launch.EXIT_LINE}0\n")
        assert " INFO " in log and "dev" in log


def test_a_failed_step_is_reported_with_its_traceback_and_holds_back_what_reads_it(tmp_path, tiny_bert):
    data = tmp_path / "data"
    for name in ("sst2", "mrpc"):
        shutil.copytree(SAMPLES / name, data / name)
    (data / "mrpc" / "train.jsonl").write_text("not json\n")  # what trains on mrpc fails on reading it
    out = tmp_path / "out"
    graph, pending = _graph(out, data, tiny_bert)
    said: list[str] = []
    assert launch.run_local(graph, pending, 2, [], out / "logs", in_process=True, threads=1, echo=said.append) == 1
    for failed in ("finetune_mrpc_s1", "transfer_sst2__mrpc_s1"):
        log = (out / "logs" / f"{failed}.log").read_text()
        assert "Traceback" in log and "train.jsonl" in log and log.endswith(f"{launch.EXIT_LINE}1\n")
    [summary] = [line for line in said if line.startswith("# 2 step(s) failed:")]
    assert "finetune_mrpc_s1" in summary and "transfer_sst2__mrpc_s1" in summary
    # The transfer from mrpc's model is held back; sst2's fine-tune ran.
    assert "# not started: transfer_mrpc__sst2_s1 (it reads the output of a failed step)" in said
    assert not (out / "logs" / "transfer_mrpc__sst2_s1.log").exists()
    assert list(_scores(out)) == ["sst2_score.json"]
