"""Metrics against values worked out by hand in each test."""
import math
import warnings

import numpy as np
import pytest

from data_utils.errors import FuteError
from data_utils.metrics import METRICS, compute_metrics, predictions_from_logits

# refs/preds: TP = 2 (items 0, 4), FN = 1 (item 1), FP = 1 (item 2), TN = 2 (items 3, 5).
BINARY_REFS = [1, 1, 0, 0, 1, 0]
BINARY_PREDS = [1, 0, 1, 0, 1, 0]


def test_every_metric_the_registry_reports_is_computed():
    """Each dataset's metrics (configs/datasets.yaml) name a function here, and each gives a finite number."""
    from data_utils.declarations import DATASETS

    used = {metric for spec in DATASETS.values() if spec.task_class == "cr" for metric in spec.metrics}
    assert used <= set(METRICS)
    for metric in used:
        value = compute_metrics((metric,), np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))[metric]
        assert np.isfinite(value), metric


def test_binary_metrics_by_hand():
    tp, fp, fn, tn = 2, 1, 1, 2
    scores = compute_metrics(["accuracy", "f1", "matthews_correlation"], BINARY_PREDS, BINARY_REFS)
    assert scores["accuracy"] == pytest.approx((tp + tn) / 6)
    assert scores["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))  # 4/6
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))  # 3/9
    assert scores["matthews_correlation"] == pytest.approx(mcc)
    assert all(type(v) is float for v in scores.values())


def test_f1_positive_class_is_one():
    # refs 1 1 1 0, preds 1 1 0 0: class 1 has TP 2, FP 0, FN 1 -> 4/5 (class 0 would give 2/3).
    assert compute_metrics(["f1"], [1, 1, 0, 0], [1, 1, 1, 0])["f1"] == pytest.approx(4 / 5)


def test_f1_rejects_multiclass():
    with pytest.raises(FuteError, match="macro_f1"):
        compute_metrics(["f1"], [0, 1, 2], [0, 1, 2])


def test_macro_f1_by_hand():
    refs = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 2, 0]
    # class 0: TP 1, FP 1, FN 1 -> 1/2; class 1: TP 2, FP 1, FN 0 -> 4/5; class 2: TP 1, FP 0, FN 1 -> 2/3
    expected = (1 / 2 + 4 / 5 + 2 / 3) / 3
    assert compute_metrics(["macro_f1"], preds, refs)["macro_f1"] == pytest.approx(expected)


def test_pearson_by_hand():
    x = [1.0, 2.0, 3.0, 4.0]
    y = [2.0, 4.0, 5.0, 9.0]
    # deviations: dx = -1.5 -0.5 0.5 1.5, dy = -3 -1 0 4; sum dx*dy = 11, sum dx^2 = 5, sum dy^2 = 26
    assert compute_metrics(["pearsonr"], x, y)["pearsonr"] == pytest.approx(11 / math.sqrt(5 * 26))


def test_spearman_by_hand():
    preds = [0.1, 0.4, 0.35, 0.8]  # ranks 1 3 2 4
    refs = [1.0, 2.0, 3.0, 4.0]  # ranks 1 2 3 4; d^2 sums to 2
    assert compute_metrics(["spearmanr"], preds, refs)["spearmanr"] == pytest.approx(1 - 6 * 2 / (4 * (16 - 1)))


def test_spearman_with_ties_uses_average_ranks():
    preds = [1.0, 2.0, 2.0, 3.0]  # ranks 1 2.5 2.5 4
    refs = [1.0, 2.0, 3.0, 4.0]
    # Pearson of the ranks: sum dx*dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    assert compute_metrics(["spearmanr"], preds, refs)["spearmanr"] == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_degenerate_inputs_give_zero_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scipy/sklearn warning may escape either
        constant = compute_metrics(["pearsonr", "spearmanr", "matthews_correlation"], [1, 1, 1, 1], [0, 1, 0, 1])
        single = compute_metrics(["pearsonr", "spearmanr"], [0.5], [0.7])
        no_positive = compute_metrics(["f1"], [0, 0, 0], [0, 0, 0])
    assert constant == {"pearsonr": 0.0, "spearmanr": 0.0, "matthews_correlation": 0.0}
    assert single == {"pearsonr": 0.0, "spearmanr": 0.0}
    assert no_positive == {"f1": 0.0}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", sorted(METRICS))
@pytest.mark.parametrize("side", ["predictions", "references"])
def test_non_finite_input_is_an_error_not_a_score(name, bad, side):
    """A NaN/inf prediction (a diverged model) or reference is never scored, by any metric, as 0.0 or NaN."""
    values = {"predictions": [1.0, 0.0, 1.0, 0.0], "references": [1.0, 1.0, 0.0, 0.0]}
    values[side][2] = bad
    with pytest.raises(FuteError, match=f"1 of 4 {side} are NaN or inf \\(first at position 2\\)"):
        compute_metrics([name], values["predictions"], values["references"])


def test_unknown_metric_lists_known_ones():
    with pytest.raises(FuteError, match="accuracy.*spearmanr"):
        compute_metrics(["accuracy", "bleu"], [0], [0])


@pytest.mark.parametrize("preds, refs", [([0, 1], [0, 1, 1]), ([[0, 1]], [[0, 1]]), ([], [])])
def test_bad_shapes_raise(preds, refs):
    with pytest.raises(FuteError):
        compute_metrics(["accuracy"], preds, refs)


def test_predictions_from_logits():
    logits = np.array([[0.1, 0.9, 0.0], [2.0, -1.0, 1.5], [0.0, 0.0, 3.0]])
    assert predictions_from_logits(logits, regression=False).tolist() == [1, 0, 2]
    values = predictions_from_logits(np.array([[0.5], [-1.25]]), regression=True)
    assert values.shape == (2,) and values.tolist() == [0.5, -1.25]
    with pytest.raises(FuteError):
        predictions_from_logits(logits, regression=True)
    with pytest.raises(FuteError):
        predictions_from_logits(np.array([0.2, 0.8]), regression=False)
