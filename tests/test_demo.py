"""The demo (scripts/demo.py) end to end in a tiny configuration: tiny models, a handful of examples.

Every stage must leave well-formed output, and a second run must reuse every step.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

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
    _, _, out, results = demo_run
    # 1. fine-tuning and transfer scores
    for name in ("sst2", "cq", "sst2__mrpc", "cq__comqa", "cq__sst2"):
        scores = json.loads((out / "runs" / f"{name}_score.json").read_text())
        assert 0.0 <= scores["best"] <= 1.0
    # 2-4. embeddings with their records
    for path in ("prefix-baseline/sst2", "fim-fute/cq", "textemb/cb", "prefix-fute/mrpc__model",
                 "fim-fute/comqa__model", "prefix-fute/smollm2_sa_p0", "prefix-fute/smollm2_nli_p12"):
        vector = np.load(out / "emb" / f"{path}.npy")
        record = json.loads((out / "emb" / f"{path}.record.json").read_text())
        assert vector.ndim == 1 and np.isfinite(vector).all() and record["embedding"]["dim"] == vector.size
    # 4. LLM outputs
    lines = (out / "llm_te" / "nli_p11.jsonl").read_text().splitlines()
    assert len(lines) == len((out / "llm_te" / "nli_x.jsonl").read_text().splitlines())
    inference = json.loads((out / "llm" / "cb_p10.json").read_text())
    assert inference["cot"] and len(inference["results"]) == 4 and "chat_history" in inference["results"][0]
    # 5. baselines, tables, plots
    selection = json.loads((out / "selection" / "sst2.json").read_text())
    assert all(len(selection[key]) == 13 for key in ("mi", "ge", "le", "mdl", "zlpm", "zpm", "zmv", "spell"))
    assert "FUTE + TuPaTE" in results["transfer"].read_text()
    assert "FUTE" in results["prompt"].read_text()
    space = json.loads((out / "eval" / "space.json").read_text())
    assert {(row["method"], row["view"]) for row in space["summary"]} == {
        ("prefix-fute", "raw"), ("prefix-fute", "displacement"), ("fim-fute", "raw")}
    pngs = sorted((out / "eval").glob("*.png"))
    assert len(pngs) == 11 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_a_second_run_reuses_every_step(demo_run, capsys):
    demo, argv, out, _ = demo_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    demo.main(argv)
    printed = capsys.readouterr().out
    assert "0 steps run" in printed and "Dev scores after fine-tuning" in printed
    assert "# Transferability" in printed and "# Prompt selection" in printed  # both tables are printed
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before
