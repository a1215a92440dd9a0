"""The demo (scripts/demo.py) end to end in a tiny configuration: tiny models, a handful of examples.

Every stage must leave well-formed output, and a second run must reuse every step.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from data_utils.artifacts.embeddings import read_embedding
from data_utils.artifacts.paths import ResultLayout

ROOT = Path(__file__).parents[1]


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_bert, tiny_llama):
    out = tmp_path_factory.mktemp("demo")
    argv = ["--out", str(out), "--lm", str(tiny_bert), "--llm", str(tiny_llama), "--cr_tasks", "sst2,mrpc",
            "--qa_tasks", "cq,comqa", "--train_examples", "16", "--epochs", "1", "--emb_epochs", "1",
            "--pool_per_source", "2", "--llm_examples", "4", "--llm_x_per_source", "1", "--cot_max_new_tokens", "4",
            "--qa_max_len", "96"]
    demo = load_demo()
    results = demo.main(argv)
    return demo, argv, out, results


def test_every_stage_leaves_well_formed_output(demo_run):
    _, argv, out, results = demo_run
    # 1. fine-tuning and transfer scores
    layout, llm = ResultLayout(out), argv[argv.index("--llm") + 1]
    for target, source in (("sst2", None), ("cq", None), ("mrpc", "sst2"), ("comqa", "cq"), ("sst2", "cq")):
        scores = json.loads(layout.score(target, source).read_text())
        assert 0.0 <= scores["best"] <= 1.0
    # 2-4. embeddings with their records, which say what each is
    for path, kind, task in ((layout.dte("prefix-baseline", "sst2"), "DTE", "sst2"),
                             (layout.dte("fim-fute", "cq"), "DTE", "cq"), (layout.dte("textemb", "cb"), "DTE", "cb"),
                             (layout.mte("prefix-fute", "mrpc"), "MTE", "mrpc"),
                             (layout.mte("fim-fute", "comqa"), "MTE", "comqa"),
                             (layout.llm_mte("prefix-fute", llm, "sa", 0), "MTE", "sa"),
                             (layout.llm_mte("prefix-fute", llm, "nli", 12), "MTE", "nli")):
        embedding = read_embedding(path)
        vector = embedding.vector()
        assert vector.ndim == 1 and np.isfinite(vector).all() and embedding.dim == vector.size
        assert (embedding.kind, embedding.task, embedding.method in path.parent.name) == (kind, task, True)
    assert read_embedding(layout.llm_mte("prefix-fute", llm, "nli", 12)).info.prompt == 12
    # 4. LLM outputs
    lines = layout.llm_answers(llm, "nli", 11).read_text().splitlines()
    assert len(lines) == len(layout.llm_inputs("nli").read_text().splitlines())
    inference = json.loads(layout.inference(llm, "cb", 10).read_text())
    assert inference["cot"] and len(inference["results"]) == 4 and "chat_history" in inference["results"][0]
    # 5. baselines, tables, plots
    selection = json.loads(layout.selection(llm, "rotten_tomatoes").read_text())
    assert all(len(selection[key]) == 13 for key in ("mi", "ge", "le", "mdl", "zlpm", "zpm", "zmv", "spell"))
    assert "FUTE + TuPaTE" in results["transfer"].read_text()
    assert "FUTE" in results["prompt"].read_text()
    space = json.loads(layout.table("space").with_suffix(".json").read_text())
    assert {(row["method"], row["view"]) for row in space["summary"]} == {
        ("prefix-fute", "raw"), ("prefix-fute", "displacement"), ("fim-fute", "raw")}
    pngs = sorted((out / "eval").rglob("*.png"))
    # 2 space heatmaps; 3 plots each for prefix-fute, fim-fute and the LLM prompts, + 2 prefix displacement heatmaps
    assert len(pngs) == 13 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_a_second_run_reuses_every_step(demo_run, capsys):
    demo, argv, out, _ = demo_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    demo.main(argv)
    printed = capsys.readouterr().out
    assert "0 steps run" in printed and "Dev scores after fine-tuning" in printed
    assert "# Transferability" in printed and "# Prompt selection" in printed  # both tables are printed
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before
