"""Ranking metrics, bootstrap intervals and paired p-values against computations written here (by hand, by brute
force, by a direct numpy bootstrap)."""
import itertools
import math

import numpy as np
import pytest

from data_utils import comparisons, statistics
from data_utils.ranking import ranking_metrics, regret_at
from data_utils.statistics import Estimate

L3 = math.log2(3)
# Four candidates, predicted a > b > c > d; truly b is best (0.9), then a (0.5), d (0.2), c (0.1).
ORDER = ["a", "b", "c", "d"]
PREDICTED = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}
TRUTH = {"a": 0.5, "b": 0.9, "c": 0.1, "d": 0.2}


def brute_weighted_tau(x, y):
    """Vigna's weighted tau with hyperbolic weights 1 / (r + 1), no ties: for each of the two orders (by x, by y,
    decreasing), the weighted share of concordant minus discordant pairs, pair weight w(r_i) + w(r_j); their mean
    (scipy's rank=True)."""
    def one(key):
        rank = {i: r for r, i in enumerate(sorted(range(len(x)), key=lambda i: -key[i]))}
        num = den = 0.0
        for i, j in itertools.combinations(range(len(x)), 2):
            weight = 1 / (rank[i] + 1) + 1 / (rank[j] + 1)
            num += weight * np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
            den += weight
        return num / den
    return (one(x) + one(y)) / 2


def test_ranking_metrics_of_four_candidates_by_hand():
    m = ranking_metrics(ORDER, PREDICTED, TRUTH)
    assert set(m) == {"regret@1", "regret@3", "hit@1", "hit@3", "ndcg@1", "ndcg@3", "spearman", "kendall_w"}  # k < 4
    assert m["regret@1"] == pytest.approx((0.9 - 0.5) / 0.9)  # Poth et al.'s relative regret: a kept, b lost
    assert m["regret@3"] == 0.0 and (m["hit@1"], m["hit@3"]) == (0.0, 1.0)
    assert m["ndcg@1"] == pytest.approx(0.5 / 0.9)
    assert m["ndcg@3"] == pytest.approx((0.5 + 0.9 / L3 + 0.1 / 2) / (0.9 + 0.5 / L3 + 0.2 / 2))
    # Spearman: rank differences (1, -1, 1, -1) -> 1 - 6 * 4 / (4 * 15).
    assert m["spearman"] == pytest.approx(1 - 6 * 4 / 60)
    x, y = [PREDICTED[c] for c in ORDER], [TRUTH[c] for c in ORDER]
    assert m["kendall_w"] == pytest.approx(brute_weighted_tau(x, y))


@pytest.mark.parametrize("seed", range(3))
def test_regret_hit_and_spearman_against_brute_force_on_random_rankings(seed):
    rng = np.random.default_rng(seed)
    names = [f"s{i}" for i in range(7)]
    predicted, truth = dict(zip(names, rng.normal(size=7))), dict(zip(names, rng.uniform(0.1, 1, size=7)))
    order = sorted(names, key=lambda n: -predicted[n])
    m = ranking_metrics(order, predicted, truth)
    best = max(truth.values())
    for k in (1, 3, 5):
        kept = max(truth[n] for n in order[:k])
        assert m[f"regret@{k}"] == pytest.approx((best - kept) / best)
        assert m[f"hit@{k}"] == float(kept == best)
    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731 (no ties in continuous draws)
    assert m["spearman"] == pytest.approx(np.corrcoef(ranks([predicted[n] for n in names]),
                                                      ranks([truth[n] for n in names]))[0, 1])
    assert m["kendall_w"] == pytest.approx(brute_weighted_tau([predicted[n] for n in names],
                                                              [truth[n] for n in names]))


def test_undefined_metrics_are_none_not_numbers():
    assert regret_at([-0.2, 0.0], 1) is None  # a share of a best score of 0: meaningless
    assert regret_at([0.0, -0.2], 1) == 0.0  # the best kept: no regret
    flat = ranking_metrics(["a", "b", "c"], {"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.1, "b": 0.2, "c": 0.3})
    assert flat["spearman"] is None and flat["kendall_w"] is None  # a constant prediction orders nothing
    assert "regret@3" not in flat and "hit@5" not in flat  # k >= n keeps every candidate


def numpy_percentile_bootstrap(values, resamples=40000, seed=1):
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return np.percentile(means, [2.5, 97.5])


def test_bootstrap_interval_matches_a_direct_numpy_percentile_bootstrap():
    values = np.array([0.61, 0.72, 0.55, 0.93, 0.80, 0.47, 0.66, 0.71])
    got = statistics.estimate({(f"t{i}", 42): v for i, v in enumerate(values)})
    low, high = numpy_percentile_bootstrap(values)
    assert got.mean == pytest.approx(values.mean())
    assert (got.targets, got.seeds) == (8, 1)
    assert got.low == pytest.approx(low, abs=0.01) and got.high == pytest.approx(high, abs=0.01)
    assert got.low < got.mean < got.high
    assert statistics.estimate({(f"t{i}", 42): v for i, v in enumerate(values)}) == got  # seeded: the same bounds
    # Four times the targets, same spread: a narrower interval (about half as wide).
    more = statistics.estimate({(f"t{i}", 42): v for i, v in enumerate(np.tile(values, 4))})
    assert more.high - more.low < 0.7 * (got.high - got.low)


def test_seeds_stay_with_their_target_and_too_few_targets_give_no_interval():
    by_seed = {("a", 1): 0.2, ("a", 2): 0.4, ("b", 1): 0.9, ("b", 2): 0.7, ("c", 1): 0.5, ("c", 2): None}
    got = statistics.estimate(by_seed)
    target_means = np.array([np.mean([0.2, 0.4]), np.mean([0.9, 0.7]), 0.5])  # c: its one defined seed
    assert got.mean == pytest.approx(target_means.mean()) and (got.targets, got.seeds) == (3, 2)
    assert (got.low, got.high) == statistics.mean_interval(target_means)
    assert statistics.estimate({("a", 1): 0.5, ("a", 2): 0.7}) == Estimate(0.6, None, None, 1, 2)
    assert statistics.estimate({}) == Estimate(None, None, None, 0, 0)
    assert Estimate(0.838, 0.826, 0.850, 5, 1).cell(100) == "83.8 ± 1.2"
    assert Estimate(0.838, None, None, 1, 1).cell(100) == "83.8" and Estimate(None, None, None, 0, 0).cell() == "-"


@pytest.mark.parametrize("differences", [[0.3, -0.1, 0.25, 0.4, 0.05, -0.02], [1.0, 2.0, 3.0], [0.5, -0.5, 0.5, -0.5]])
def test_sign_flip_p_value_equals_exhaustive_enumeration(differences):
    d = np.array(differences)
    observed = abs(d.mean())
    flips = [abs((d * signs).mean()) for signs in itertools.product((1, -1), repeat=len(d))]
    exact = sum(f >= observed - 1e-12 for f in flips) / len(flips)
    assert statistics.sign_flip_p_value(d) == pytest.approx(exact)


def test_paired_difference_uses_the_shared_targets_and_seeds_only():
    a = {("x", 1): 0.9, ("y", 1): 0.8, ("z", 1): 0.7, ("w", 1): 0.6, ("only_a", 1): 0.1}
    b = {("x", 1): 0.5, ("y", 1): 0.6, ("z", 1): 0.6, ("w", 1): None}
    paired = statistics.paired(a, b)
    d = np.array([0.4, 0.2, 0.1])
    assert paired.difference.mean == pytest.approx(d.mean()) and paired.difference.targets == 3
    assert paired.p_value == pytest.approx(2 / 8)  # all three positive: 2 of 8 sign patterns as extreme
    rows = comparisons.paired_rows({"m": {("cr",): {"ndcg": a}}, "f": {("cr",): {"ndcg": b}},
                                    "g": {("cr",): {"ndcg": b}}}, ["f", "g"], ["class"])
    assert [(r["method"], r["reference"]) for r in rows] == [("m", "f"), ("g", "f"), ("m", "g")]  # f-g once
    assert rows[0]["class"] == "cr" and rows[0]["p_value"] == paired.p_value
    markdown = comparisons.paired_markdown(rows, str.upper, ["class"], {"ndcg": comparisons.Shown("NDCG")})
    assert f"| M | F | cr | NDCG | +{100 * d.mean():.1f} [" in markdown and "| 0.250 | 3 × 1 |" in markdown
    header, first = comparisons.paired_csv(rows, ["class"]).splitlines()[:2]
    assert header == "method,reference,class,metric,mean,low,high,targets,seeds,p_value"
    assert first.startswith("m,f,cr,ndcg,")
