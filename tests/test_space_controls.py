"""The unified space's references: the MRR of a random order, and the DTE-only nearest-neighbour control."""
from __future__ import annotations

import csv
import io
import itertools
import json

import numpy as np
import pytest

import run_eval
from data_utils.artifacts.embeddings import load_embeddings
from task_emb.space_controls import random_reciprocal_rank
from task_emb.space_eval import build_space_table
from test_space_eval import write_embedding


def enumerated_mrr(candidates: int, relevant: int) -> float:
    """E[1 / first relevant rank] by listing every order of `candidates` items whose first `relevant` are relevant."""
    firsts = [1 / (min(order.index(i) for i in range(relevant)) + 1)
              for order in itertools.permutations(range(candidates))]
    return sum(firsts) / len(firsts)


@pytest.mark.parametrize("candidates,relevant", [(1, 1), (4, 1), (4, 2), (5, 2), (6, 3), (6, 6), (7, 1)])
def test_a_random_orders_mrr_is_the_mean_over_every_order(candidates, relevant):
    assert random_reciprocal_rank(candidates, relevant) == pytest.approx(enumerated_mrr(candidates, relevant))


def test_one_relevant_item_gives_the_harmonic_number_over_n_and_none_gives_no_value():
    assert random_reciprocal_rank(5, 1) == pytest.approx(sum(1 / k for k in range(1, 6)) / 5)
    assert random_reciprocal_rank(5, 0) is None


# Sentiment (sst2, rotten_tomatoes), paraphrase (mrpc, qqp) and NLI (rte): a DTE's own family has at most one other.
VECTORS = {"sst2": [1.0, 0.1, 0.0], "rotten_tomatoes": [0.9, 0.0, 0.3], "mrpc": [0.0, 1.0, 0.2],
           "qqp": [0.8, 0.2, 0.1], "rte": [0.1, 0.2, 1.0]}


def write_space(folder, seed_offset=0.0):
    for task, vector in VECTORS.items():
        write_embedding(folder, f"{task}_dte", task, "DTE", "fim-fute", np.add(vector, seed_offset),
                        {"task_emb_type": "fim"})
    for task in ("sst2", "mrpc"):
        write_embedding(folder, f"{task}_mte", task, "MTE", "fim-fute", np.add(VECTORS[task], 0.05),
                        {"task_emb_type": "fim"})


def leave_one_out_rr(task: str, family: set[str]) -> float | None:
    """Computed here with numpy only: 1 / rank of the first DTE of `family` among the other DTEs by cosine."""
    others = [t for t in VECTORS if t != task]
    v = np.asarray(VECTORS[task], dtype=np.float32).astype(np.float64)
    unit = lambda x: np.asarray(x, dtype=np.float32).astype(np.float64) / np.linalg.norm(  # noqa: E731
        np.asarray(x, dtype=np.float32).astype(np.float64))
    order = sorted(others, key=lambda t: -float(unit(v) @ unit(VECTORS[t])))
    kin = [i + 1 for i, t in enumerate(order) if t in family - {task}]
    return 1 / kin[0] if kin else None


def test_the_dte_only_control_and_the_random_mrrs_of_a_table(tmp_path):
    write_space(tmp_path)
    table = build_space_table(load_embeddings(tmp_path), None, str(tmp_path), displacement=False)
    [row] = table.controls
    families = {"sst2": {"sst2", "rotten_tomatoes"}, "rotten_tomatoes": {"sst2", "rotten_tomatoes"},
                "mrpc": {"mrpc", "qqp"}, "qqp": {"mrpc", "qqp"}, "rte": {"rte"}}
    expected = [leave_one_out_rr(t, f) for t, f in families.items()]
    defined = [rr for rr in expected if rr is not None]  # rte has no other NLI DTE: left out
    assert row["dte_family_mrr"].mean == pytest.approx(np.mean(defined)) and row["dte_family_mrr"].targets == 4
    # qqp's nearest is sst2 here, so the control is below 1: the DTEs themselves mix the families.
    assert leave_one_out_rr("qqp", families["qqp"]) < 1
    # Each MTE ranks 5 DTEs: own task 1 relevant, family 2; each DTE ranks 4 others, 1 of its family.
    assert row["random_own_mrr"] == pytest.approx(enumerated_mrr(5, 1))
    assert row["random_family_mrr"] == pytest.approx(enumerated_mrr(5, 2))
    assert row["random_dte_family_mrr"] == pytest.approx(enumerated_mrr(4, 1))
    assert row["random_llm_family_mrr"] is None  # no LLM MTE
    assert "## Against chance" in table.markdown()


def test_the_references_reach_the_tables_files_with_every_seed(tmp_path):
    for seed, offset in ((1, 0.0), (2, 0.01)):
        folder = tmp_path / f"seed{seed}" / "fim-fute"
        write_space(folder, offset)
        for record in folder.glob("*.record.json"):
            data = json.loads(record.read_text())
            data["config"]["seed"] = seed
            record.write_text(json.dumps(data))
    save = tmp_path / "space"
    run_eval.main(["space", f"--emb_dir={tmp_path / 'seed1'},{tmp_path / 'seed2'}", f"--save_path={save}"])
    rows = list(csv.DictReader(io.StringIO((tmp_path / "space_controls.csv").read_text())))
    assert [(r["method"], r["view"]) for r in rows] == [("fim-fute", "raw")]
    assert int(rows[0]["dte_family_mrr_targets"]) == 4 and int(rows[0]["dte_family_mrr_seeds"]) == 2
    assert float(rows[0]["dte_family_mrr_low"]) <= float(rows[0]["dte_family_mrr"]) <= float(
        rows[0]["dte_family_mrr_high"])
    stored = json.loads((tmp_path / "space.json").read_text())["controls"]
    assert stored[0]["random_family_mrr"] == pytest.approx(enumerated_mrr(5, 2))
