"""Ranking metrics of one ranked list: how well a method's predicted order of candidates matches their true scores.

Every table ranks candidates for a target (transfer: the sources of a target; unified space: the DTEs for an MTE;
prompt selection: the 13 prompts of an (LLM, dataset)) and scores that order here, per target; the tables
average over targets (and seeds), data_utils/statistics.py. docs/statistics.md defines each metric with its source.

For candidates i = 1..n with predicted values p_i (higher = predicted better) and true scores y_i (higher = better),
`order` lists them best first by p (ties broken by the caller, e.g. by name). With y* = max_i y_i and
best@k = max of y over the first k of `order`:

- regret@k   = (y* - best@k) / y*, the relative regret of Poth et al. (2021), "What to Pre-Train on?", sec. 4
               (ESM-LogME reports it at k = 5): the share of the best score lost by keeping the top k only.
               None when y* <= 0 and best@k < y* (a share of a non-positive best is meaningless); 0 when best@k = y*.
- hit@k      = 1 if a truly best candidate is among the first k, else 0.
- ndcg@k     = data_utils.metrics.ndcg cut at k (the table's gain and scale; negative scores count as 0).
- spearman   = scipy.stats.spearmanr(p, y).statistic: Pearson's correlation of the (average) ranks.
- kendall_w  = scipy.stats.weightedtau(p, y).statistic: Vigna's (2015) weighted Kendall tau, swaps near the top of
               either order weighing more (hyperbolic weight 1 / (rank + 1)).

The k's are `KS` (1, 3, 5) where k < n: at k >= n every candidate is kept and the @k metrics say nothing.
Spearman and weighted tau are None when p or y is constant (no order to correlate).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from data_utils.metrics import ndcg

KS = (1, 3, 5)
AT_K = ("regret", "hit", "ndcg")
CORRELATIONS = ("spearman", "kendall_w")


def metric_names(ks: Sequence[int] = KS) -> list[str]:
    """Every metric `ranking_metrics` can return, in table order: regret@k, hit@k, ndcg@k per k, then correlations."""
    return [f"{name}@{k}" for name in AT_K for k in ks] + list(CORRELATIONS)


def regret_at(truth_in_order: Sequence[float], k: int) -> float | None:
    """Relative regret (y* - best of the first k) / y* of true scores listed in predicted order (Poth et al. 2021)."""
    best, kept = max(truth_in_order), max(truth_in_order[:k])
    if kept == best:
        return 0.0
    return (best - kept) / best if best > 0 else None


def ranking_metrics(order: Sequence[str], predicted: Mapping[str, float], truth: Mapping[str, float],
                    gain_kind: str = "linear", scale: float = 1.0, ks: Sequence[int] = KS) -> dict[str, float | None]:
    """regret@k, hit@k and ndcg@k for every k in `ks` below len(order), Spearman's rho and weighted Kendall tau of
    one target's candidates: `order` best first by `predicted`, `truth` their true scores (the module's docstring)."""
    from scipy import stats

    y = [float(truth[c]) for c in order]
    best = max(y)
    metrics: dict[str, float | None] = {}
    for k in (k for k in ks if k < len(order)):
        metrics[f"regret@{k}"] = regret_at(y, k)
        metrics[f"hit@{k}"] = float(best in y[:k])
        metrics[f"ndcg@{k}"] = ndcg([max(v, 0.0) for v in y], gain_kind, k, scale)
    p = np.array([float(predicted[c]) for c in order])
    varied = len(set(p)) > 1 and len(set(y)) > 1
    metrics["spearman"] = float(stats.spearmanr(p, y).statistic) if varied else None
    metrics["kendall_w"] = float(stats.weightedtau(p, y).statistic) if varied else None
    return metrics
