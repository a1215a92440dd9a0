"""Transferability metrics against hand-computed values, sklearn's NDCG, and the file readers' checks."""
import json
import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from data_utils.errors import FuteError
from data_utils import similarity
from data_utils.artifacts import embeddings as artifact_embeddings
from data_utils.artifacts import scores
from data_utils.artifacts.embeddings import find_embedding, load_embeddings, read_embedding
from data_utils.metrics import ndcg
from data_utils.statistics import Estimate
from task_emb import transfer_eval as te
from task_emb.transfer_table import similarity_table

# A 4-task example: truth[t][s] = score on t after s -> t; predicted[t][s] = cosine similarity.
TRUTH = {
    "a": {"b": 0.8, "c": 0.6, "d": 0.7},
    "b": {"a": 0.5, "c": 0.9, "d": 0.4},
    "c": {"a": 0.3, "b": 0.2, "d": 0.6},
    "d": {"a": 0.7, "b": 0.7, "c": 0.1},  # a and b are both truly best
}
PREDICTED = {
    "a": {"b": 0.9, "c": 0.5, "d": 0.1},  # order b, c, d -> best b at rank 1
    "b": {"a": 0.2, "c": 0.3, "d": 0.8},  # order d, c, a -> best c at rank 2
    "c": {"a": 0.4, "b": 0.6, "d": 0.5},  # order b, d, a -> best d at rank 2
    "d": {"a": 0.3, "b": 0.3, "c": 0.9},  # tie a/b broken by name: c, a, b -> best (a) at rank 2
}
SAME_CLASS = dict.fromkeys("abcd", "cr")
L3 = math.log2(3)  # discount of rank 2; rank 1 is log2(2) = 1, rank 3 is log2(4) = 2

# Hand-computed NDCG (linear gain) per target: DCG of the predicted order / DCG of the ideal order.
HAND_NDCG = {
    "a": (0.8 / 1 + 0.6 / L3 + 0.7 / 2) / (0.8 / 1 + 0.7 / L3 + 0.6 / 2),
    "b": (0.4 / 1 + 0.9 / L3 + 0.5 / 2) / (0.9 / 1 + 0.5 / L3 + 0.4 / 2),
    "c": (0.2 / 1 + 0.6 / L3 + 0.3 / 2) / (0.6 / 1 + 0.3 / L3 + 0.2 / 2),
    "d": (0.1 / 1 + 0.7 / L3 + 0.7 / 2) / (0.7 / 1 + 0.7 / L3 + 0.1 / 2),
}


def test_rho_and_ndcg_on_four_tasks_match_hand_computation():
    results = te.evaluate_method(PREDICTED, TRUTH, SAME_CLASS)
    by_target = results["all_class"]
    assert {t: r.rho for t, r in by_target.items()} == {"a": 1, "b": 2, "c": 2, "d": 2}
    for target, expected in HAND_NDCG.items():
        assert by_target[target].ndcg == pytest.approx(expected, abs=1e-12)
    assert [s for s, _, _ in by_target["d"].ranking] == ["c", "a", "b"]
    assert by_target["d"].best_sources == ["a", "b"]

    summary = te.summarise({42: results})["cr"]["all_class"]
    assert summary["rho"].mean == pytest.approx(1.75)
    assert summary["ndcg"].mean == pytest.approx(sum(HAND_NDCG.values()) / 4)
    assert (summary["rho"].targets, summary["rho"].seeds) == (4, 1)
    assert te.summarise({42: results})["qa"]["all_class"]["rho"] == Estimate(None, None, None, 0, 0)


def test_exponential_gain_and_cutoff_by_hand():
    g = lambda rel: 2 ** rel - 1  # noqa: E731
    expected = (g(0.4) / 1 + g(0.9) / L3 + g(0.5) / 2) / (g(0.9) / 1 + g(0.5) / L3 + g(0.4) / 2)
    assert ndcg([0.4, 0.9, 0.5], "exponential") == pytest.approx(expected, abs=1e-12)
    # Top 1 only: the predicted first source (0.4) against the ideal first (0.9).
    assert ndcg([0.4, 0.9, 0.5], "linear", k=1) == pytest.approx(0.4 / 0.9)
    result = te.evaluate_target("b", "cr", PREDICTED["b"], TRUTH["b"], "linear", k=2)
    assert result.ndcg == pytest.approx((0.4 + 0.9 / L3) / (0.9 + 0.5 / L3))


def test_ndcg_scale_multiplies_relevance_before_the_gain_by_hand():
    g = lambda rel: 2 ** rel - 1  # noqa: E731
    # Percent points: gains 2^40 - 1, 2^90 - 1, 2^50 - 1 in the predicted order.
    expected = (g(40) / 1 + g(90) / L3 + g(50) / 2) / (g(90) / 1 + g(50) / L3 + g(40) / 2)
    assert ndcg([0.4, 0.9, 0.5], "exponential", scale=100) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(1 / L3, abs=1e-6)  # the best source, at rank 2, dominates: ~ 1/log2(3)
    # The linear gain is scale-free; the exponential one on [0, 1] scores is nearly linear.
    assert ndcg([0.4, 0.9, 0.5], "linear", scale=100) == pytest.approx(ndcg([0.4, 0.9, 0.5]), rel=1e-12)
    assert ndcg([0.4, 0.9, 0.5], "exponential") > 0.8
    # 13 SA prompts with accuracies 0.50, 0.535, ..., 0.92 in the worst order (ascending):
    worst = [0.5 + 0.035 * i for i in range(13)]
    dcg_worst = sum(g(100 * r) / math.log2(i + 2) for i, r in enumerate(worst))
    dcg_ideal = sum(g(100 * r) / math.log2(i + 2) for i, r in enumerate(sorted(worst, reverse=True)))
    value = ndcg(worst, "exponential", scale=100)
    assert value == pytest.approx(dcg_worst / dcg_ideal, rel=1e-12)
    assert value < 0.5 < ndcg(worst, "exponential") and ndcg(worst, "linear") > 0.8
    evaluated = te.evaluate_target("b", "cr", PREDICTED["b"], TRUTH["b"], "exponential", scale=100)
    assert evaluated.ndcg == pytest.approx(expected, rel=1e-12)  # b's order: d (0.4), c (0.9), a (0.5)
    with pytest.raises(FuteError, match="relevance scale must be positive"):
        ndcg([0.5], scale=0)
    with pytest.raises(FuteError, match="overflows; use a smaller --ndcg_scale"):
        ndcg([0.5, 1.0], "exponential", scale=2000)


def test_ndcg_is_the_standard_one_not_the_originals_inverse_permutation():
    """Items A, B, C of relevance 0.3, 0.2, 0.1 predicted in the order B, C, A (a 3-cycle)."""
    g = lambda rel: 2 ** rel - 1  # noqa: E731
    ideal = g(30) + g(20) / L3 + g(10) / 2
    standard = (g(20) + g(10) / L3 + g(30) / 2) / ideal  # relevance read in the predicted order
    # The original's unused NDCGEvaluator put the truth value of predicted rank r at the r-th
    # item by truth: A (predicted 3rd) gets 0.1, B (1st) 0.3, C (2nd) 0.2 -> the inverse permutation.
    inverse = (g(10) + g(30) / L3 + g(20) / 2) / ideal
    ours = ndcg([0.2, 0.1, 0.3], "exponential", scale=100)
    assert ours == pytest.approx(standard, rel=1e-12)
    assert ours != pytest.approx(inverse, rel=1e-3)


def test_linear_ndcg_matches_sklearn():
    rng = np.random.default_rng(0)
    for n, k in [(5, None), (12, None), (12, 4), (30, 10)]:
        relevance = rng.uniform(0, 100, size=n)
        scores = rng.permutation(n).astype(float)  # no ties: sklearn averages tied positions
        order = np.argsort(-scores)
        ours = ndcg(relevance[order].tolist(), "linear", k)
        assert ours == pytest.approx(ndcg_score([relevance], [scores], k=k), abs=1e-12)


def test_ndcg_edge_cases():
    assert ndcg([0.0, 0.0]) == 0.0
    assert ndcg([3.0, 2.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(FuteError, match="non-negative"):
        ndcg([0.5, -0.1])
    with pytest.raises(FuteError, match="cut-off k must be at least 1"):
        ndcg([0.5], k=0)
    with pytest.raises(FuteError, match="gain"):
        ndcg([0.5], "quadratic")


def test_a_nan_transfer_score_is_refused():
    with pytest.raises(FuteError, match="target t: transfer scores must be finite"):
        te.evaluate_target("t", "cr", {"a": 0.9, "b": 0.1}, {"a": float("nan"), "b": 0.5})


def test_negative_transfer_score_counts_as_zero_for_ndcg_only():
    result = te.evaluate_target("t", "cr", {"x": 0.9, "y": 0.1}, {"x": -0.2, "y": 0.3})
    assert result.rho == 2
    assert result.ndcg == pytest.approx((0.0 + 0.3 / L3) / 0.3)


def test_datasize_ranks_bigger_training_sets_first():
    sizes = {"small": 500.0, "big": 90000.0, "mid": 8000.0}
    truth = {"small": 0.6, "big": 0.7, "mid": 0.9}
    result = te.evaluate_target("t", "cr", sizes, truth)
    assert [s for s, _, _ in result.ranking] == ["big", "mid", "small"]
    assert result.rho == 2  # mid is truly best and predicted second
    assert result.ndcg == pytest.approx((0.7 + 0.9 / L3 + 0.6 / 2) / (0.9 + 0.7 / L3 + 0.6 / 2))


def test_in_class_keeps_the_targets_class_only():
    classes = {"a": "cr", "b": "cr", "c": "qa", "d": "qa"}
    assert te.candidate_sources("a", list("abcd"), classes, "in_class") == ["b"]
    assert te.candidate_sources("a", list("abcd"), classes, "all_class") == ["b", "c", "d"]

    results = te.evaluate_method(PREDICTED, TRUTH, classes)
    # Target c, in-class: only d is a candidate -> rank 1, NDCG 1; all-class is the full ranking.
    assert results["in_class"]["c"].ranking == [("d", 0.5, 0.6)]
    assert (results["in_class"]["c"].rho, results["in_class"]["c"].ndcg) == (1, 1.0)
    assert results["all_class"]["c"].rho == 2
    # Target b, in-class: only a -> rho 1, although c (qa) is best over all classes.
    assert results["in_class"]["b"].rho == 1
    summary = te.summarise({42: results})
    assert summary["cr"]["in_class"]["rho"].mean == pytest.approx(1.0)
    assert summary["qa"]["all_class"]["rho"].mean == pytest.approx((2 + 2) / 2)
    assert summary["qa"]["all_class"]["ndcg"].mean == pytest.approx((HAND_NDCG["c"] + HAND_NDCG["d"]) / 2)


def test_cosine_against_numpy_in_float16():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 1000)).astype(np.float16)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    assert similarity.cosine(a, b) == pytest.approx(a64 @ b64 / np.linalg.norm(a64) / np.linalg.norm(b64), abs=1e-12)
    with pytest.raises(FuteError, match="shapes"):
        similarity.cosine(a, b[:10])
    with pytest.raises(FuteError, match="all zeros"):
        similarity.cosine(a, np.zeros_like(a))
    for bad in (np.nan, np.inf):
        c = a.copy()
        c[7] = bad
        with pytest.raises(FuteError, match="NaN or inf"):
            similarity.cosine(a, c)


def test_cosine_matrix_computes_each_norm_once_and_matches_numpy(monkeypatch):
    rng = np.random.default_rng(2)
    vectors = list(rng.normal(size=(4, 300)).astype(np.float16))
    calls = []
    real = similarity.squared_norm
    monkeypatch.setattr(similarity, "squared_norm", lambda v: calls.append(1) or real(v))
    matrix = similarity.cosine_matrix(vectors)
    assert len(calls) == 4
    unit = np.array([v.astype(np.float64) / np.linalg.norm(v.astype(np.float64)) for v in vectors])
    np.testing.assert_allclose(matrix, unit @ unit.T, atol=1e-12)
    assert matrix[0, 1] == similarity.cosine(vectors[0], vectors[1])  # identical, not just close


def test_similarity_table_reads_each_norm_once_and_matches_numpy(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    vectors = {}
    for task in ("mrpc", "rte", "cola"):
        vectors[task] = rng.normal(size=64).astype(np.float16)
        _write_embedding(tmp_path, task, task, "DTE", "textemb", vectors[task].tolist())
    calls = []
    real = artifact_embeddings.squared_norm
    monkeypatch.setattr(artifact_embeddings, "squared_norm", lambda v: calls.append(1) or real(v))
    pairs = {"mrpc": ["rte", "cola"], "rte": ["mrpc", "cola"], "cola": ["mrpc", "rte"]}
    table = similarity_table(load_embeddings(tmp_path), "textemb", pairs, tmp_path)
    assert len(calls) == 3  # one per embedding, not two per pair
    for target, sources in pairs.items():
        for source in sources:
            a, b = vectors[source].astype(np.float64), vectors[target].astype(np.float64)
            expected = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
            assert table[target][source] == pytest.approx(expected, abs=1e-12)
            assert table[target][source] == similarity.cosine(np.load(tmp_path / f"{source}.npy"),
                                                      np.load(tmp_path / f"{target}.npy"))


def test_tables_follow_the_slides_layout():
    summaries = {"prefix-fute": te.summarise({42: te.evaluate_method(PREDICTED, TRUTH, SAME_CLASS)}),
                 te.DATASIZE: te.summarise({42: te.evaluate_method(PREDICTED, TRUTH, SAME_CLASS)})}
    lines = te.summary_markdown(summaries).splitlines()
    assert lines[0].startswith("| Method | CR in-class ρ↓ | CR in-class NDCG↑ | CR all-class ρ↓")
    assert lines[2].startswith("| DataSize |") and lines[3].startswith("| FUTE + TuPaTE |")
    assert "| 1.8 ± " in lines[3] and "| - |" in lines[3]  # rho 1.75 rounds to 1.8; no QA targets
    header, first, _ = te.summary_csv(summaries).splitlines()
    assert header.split(",")[:6] == ["method", "name", "cr_in_class_rho", "cr_in_class_rho_low", "cr_in_class_rho_high",
                                     "cr_in_class_ndcg"]
    assert first.split(",")[0] == "datasize"


# ---------------------------------------------------------------- file readers


def _write_embedding(folder, name, task, kind, method, vector):
    np.save(folder / f"{name}.npy", np.asarray(vector, dtype=np.float32))
    record = {"command": "run_task_emb.py", "config": {}, "versions": {},
              "embedding": {"task": task, "kind": kind, "method": method, "dim": len(vector)}}
    (folder / f"{name}.record.json").write_text(json.dumps(record))


def test_similarity_table_pairs_fute_mte_with_target_dte(tmp_path):
    _write_embedding(tmp_path, "mrpc_dte", "mrpc", "DTE", "prefix-fute", [1.0, 0.0])
    _write_embedding(tmp_path, "mrpc_mte", "mrpc", "MTE", "prefix-fute", [0.0, 1.0])
    _write_embedding(tmp_path, "rte_dte", "rte", "DTE", "prefix-fute", [1.0, 1.0])
    _write_embedding(tmp_path, "rte_mte", "rte", "MTE", "prefix-fute", [1.0, 0.0])
    embeddings = load_embeddings(tmp_path)
    table = similarity_table(embeddings, "prefix-fute", {"mrpc": ["rte"], "rte": ["mrpc"]}, tmp_path)
    assert table["mrpc"]["rte"] == pytest.approx(1.0)  # MTE(rte) = [1, 0] vs DTE(mrpc) = [1, 0]
    assert table["rte"]["mrpc"] == pytest.approx(1 / math.sqrt(2))  # MTE(mrpc) = [0, 1] vs DTE(rte) = [1, 1]


def test_readers_refuse_bad_embeddings(tmp_path):
    _write_embedding(tmp_path, "a", "mrpc", "DTE", "textemb", [1.0, 2.0])
    _write_embedding(tmp_path, "b", "rte", "DTE", "textemb", [1.0, 2.0, 3.0])
    embeddings = load_embeddings(tmp_path)
    with pytest.raises(FuteError, match="different dimensions"):
        similarity_table(embeddings, "textemb", {"mrpc": ["rte"]}, tmp_path)
    with pytest.raises(FuteError, match="no DTE of method textemb for task cola"):
        find_embedding(embeddings, "textemb", "DTE", "cola", tmp_path)
    _write_embedding(tmp_path, "c", "mrpc", "DTE", "textemb", [1.0, 2.0])
    with pytest.raises(FuteError, match="2 DTE embeddings of method textemb for task mrpc"):
        find_embedding(load_embeddings(tmp_path), "textemb", "DTE", "mrpc", tmp_path)
    np.save(tmp_path / "orphan.npy", np.zeros(2))  # named and left out of a folder, refused alone
    assert [line.split(" is left out: ")[0] for line in load_embeddings(tmp_path).skipped] == [
        str(tmp_path / "orphan.npy")]
    with pytest.raises(FuteError, match="no record"):
        read_embedding(tmp_path / "orphan.npy")


def test_finetune_runs_give_transfer_scores_and_sizes(tmp_path):
    def write_run(name, target, source, best, n):
        (tmp_path / f"{name}.json").write_text(json.dumps({"accuracy": best, "loss": 0.3, "best": best}))
        config = {"to_train_dataset": target, "source_dataset": source, "num_train_examples": n,
                  "load_path": f"ckpt/{source}" if source else None}
        (tmp_path / f"{name}.record.json").write_text(json.dumps({"command": "", "config": config, "versions": {}}))

    write_run("rte", "rte", None, 0.6, 2490)
    write_run("mrpc", "mrpc", None, 0.8, 3668)
    write_run("mrpc_rte", "rte", "mrpc", 0.7, 2490)
    runs = scores.load_finetune_runs(tmp_path)
    assert scores.transfer_scores(runs) == {"rte": {"mrpc": 0.7}}
    assert scores.train_sizes(runs) == {"rte": 2490, "mrpc": 3668}
    write_run("mrpc_rte_again", "rte", "mrpc", 0.71, 2490)
    with pytest.raises(FuteError, match="two transfer runs mrpc -> rte"):
        scores.transfer_scores(scores.load_finetune_runs(tmp_path))
    # Records written before the data was recorded name a registry dataset: its class, no digest.
    assert {(run.target.name, run.target.task_class, run.target.digest) for run in runs} == {
        ("rte", "cr", None), ("mrpc", "cr", None)}
    (tmp_path / "mrpc_rte_again.json").unlink()
    (tmp_path / "mrpc_rte_again.record.json").unlink()
    for bad, shown in ((None, "None"), (float("nan"), "nan"), ("0.7", "'0.7'")):
        write_run("mrpc_rte", "rte", "mrpc", bad, 2490)  # json.dumps writes NaN, which json.load reads
        with pytest.raises(FuteError, match=f"mrpc_rte.json: 'best' is {shown}, not a finite number"):
            scores.load_finetune_runs(tmp_path)
