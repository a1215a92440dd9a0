"""Transferability evaluation (the paper's first table): rank sources for a target, score the ranking.

Pure functions on plain dicts and arrays; reading files is data_utils/artifacts' job, building the
table from them task_emb/transfer_table.py's.

For a target t, every candidate source s != t gets a predicted value (the cosine
similarity of their embeddings, or the source's training-set size for DataSize),
and the sources are ranked by it, best first. Two numbers score that ranking
against the ground truth score(s, t) (t's dev score after fine-tuning on s, then t):

- rho: the rank (1 = top) of the truly best source; averaged over targets, lower
  is better. Ties in the truth: when several sources share the highest score, rho
  is the rank of the first of them in the predicted order (choosing any of them
  is equally good).
- NDCG (data_utils.metrics.ndcg): DCG of the predicted order divided by DCG of the ideal order, with
      DCG@k = sum_{i=1..k} gain(c * rel_i) / log2(i + 1),   rel_i = score of the source at rank i,
  gain(x) = x ("linear", the default, as sklearn.metrics.ndcg_score) or
  2^x - 1 ("exponential"); c = the relevance scale (1 by default; 100 reads scores
  in [0, 1] as percent points, which only changes the exponential gain).
  k = all candidates unless a cut-off is given. This is the standard NDCG; the
  original repository's unused NDCGEvaluator placed the truth values by predicted
  rank onto positions sorted by truth, i.e. it scored the inverse permutation.

Ties in the prediction (equal similarity or equal size) are broken by source
name, so every run gives the same order.

In-class scope: only sources of the target's class (cr -> cr, qa -> qa);
all-class scope: every source.
"""
from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from configs.methods import method_order, paper_name
from data_utils.errors import FuteError
from data_utils.metrics import ndcg

logger = logging.getLogger(__name__)

SCOPES = ("in_class", "all_class")
CLASSES = ("cr", "qa")
# The baseline that needs no embedding: rank sources by training-set size.
DATASIZE = "datasize"


def row_name(method: str) -> str:
    """The paper's row name of a method id (DataSize, or an embedding method of configs/methods.py)."""
    return "DataSize" if method == DATASIZE else paper_name(method)


def row_order(methods: Sequence[str]) -> list[str]:
    """The paper's rows in its order (DataSize first), then any other method alphabetically."""
    return ([DATASIZE] if DATASIZE in methods else []) + method_order([m for m in methods if m != DATASIZE])

# ---------------------------------------------------------------- ranking


def rank_sources(predicted: Mapping[str, float]) -> list[str]:
    """Sources ordered best first: higher predicted value first, ties by name."""
    return sorted(predicted, key=lambda source: (-predicted[source], source))


def rank_of_best(order: Sequence[str], truth: Mapping[str, float]) -> int:
    """1-based rank in `order` of the truly best source (the first one in `order` when the best is tied)."""
    best = max(truth[source] for source in order)
    return next(rank for rank, source in enumerate(order, start=1) if truth[source] == best)




# ---------------------------------------------------------------- per target and summary


@dataclass
class TargetResult:
    """One target under one method and scope. ranking: (source, predicted value, transfer score), best first."""

    target: str
    target_class: str
    ranking: list[tuple[str, float, float]]
    best_sources: list[str]
    rho: int
    ndcg: float

    def to_json(self) -> dict:
        data = asdict(self)
        data["ranking"] = [{"source": s, "predicted": p, "transfer_score": t} for s, p, t in self.ranking]
        return data


def candidate_sources(target: str, sources: Sequence[str], classes: Mapping[str, str], scope: str) -> list[str]:
    """Sources other than the target; in_class keeps only those of the target's class."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    return [s for s in sources if s != target and (scope == "all_class" or classes[s] == classes[target])]


def evaluate_target(target: str, target_class: str, predicted: Mapping[str, float], truth: Mapping[str, float],
                    gain_kind: str = "linear", k: int | None = None, scale: float = 1.0) -> TargetResult:
    """Rank the sources in `truth` by `predicted` and score the ranking (rho, NDCG).

    A negative transfer score (e.g. a Matthews correlation below 0) counts as 0 for
    NDCG only: it carries no gain. rho uses the scores as they are.
    """
    if not all(math.isfinite(v) for v in truth.values()):
        raise FuteError(f"target {target}: transfer scores must be finite numbers, got {dict(truth)}; check the "
                        f"score files")
    order = rank_sources({source: predicted[source] for source in truth})
    if any(truth[s] < 0 for s in order):
        logger.warning("target %s: negative transfer scores count as 0 for NDCG", target)
    best = max(truth.values())
    return TargetResult(
        target=target,
        target_class=target_class,
        ranking=[(s, float(predicted[s]), float(truth[s])) for s in order],
        best_sources=sorted(s for s in order if truth[s] == best),
        rho=rank_of_best(order, truth),
        ndcg=ndcg([max(truth[s], 0.0) for s in order], gain_kind, k, scale),
    )


def evaluate_method(predicted: Mapping[str, Mapping[str, float]], truth: Mapping[str, Mapping[str, float]],
                    classes: Mapping[str, str], gain_kind: str = "linear", k: int | None = None,
                    scale: float = 1.0) -> dict[str, dict[str, TargetResult]]:
    """scope -> target -> TargetResult for one method.

    predicted[t][s]: the method's value for source s and target t (higher = better source).
    truth[t][s]: the transfer score of s -> t. A target with no candidate source in a
    scope is left out of that scope.
    """
    results: dict[str, dict[str, TargetResult]] = {scope: {} for scope in SCOPES}
    for target in sorted(truth):
        for scope in SCOPES:
            sources = candidate_sources(target, sorted(truth[target]), classes, scope)
            if not sources:
                logger.info("target %s has no %s source with a transfer score; left out of %s", target, scope, scope)
                continue
            results[scope][target] = evaluate_target(target, classes[target], predicted[target],
                                                     {s: truth[target][s] for s in sources}, gain_kind, k, scale)
    return results


def summarise(results: Mapping[str, Mapping[str, TargetResult]]) -> dict[str, dict[str, dict]]:
    """target class -> scope -> {"rho": mean rank, "ndcg": mean NDCG, "num_targets": n} (None when n = 0)."""
    summary: dict[str, dict[str, dict]] = {}
    for cls in CLASSES:
        summary[cls] = {}
        for scope in SCOPES:
            chosen = [r for r in results[scope].values() if r.target_class == cls]
            summary[cls][scope] = {
                "rho": float(np.mean([r.rho for r in chosen])) if chosen else None,
                "ndcg": float(np.mean([r.ndcg for r in chosen])) if chosen else None,
                "num_targets": len(chosen),
            }
    return summary


# ---------------------------------------------------------------- tables


def _columns() -> list[tuple[str, str, str]]:
    return [(cls, scope, metric) for cls in CLASSES for scope in SCOPES for metric in ("rho", "ndcg")]


def _cell(value: float | None, metric: str) -> str:
    """rho with one decimal; NDCG in percent with one decimal, as in the paper; '-' when there is no target."""
    if value is None:
        return "-"
    return f"{value:.1f}" if metric == "rho" else f"{100 * value:.1f}"


def summary_markdown(summaries: Mapping[str, Mapping[str, Mapping[str, dict]]]) -> str:
    """The slides' first table: rows = methods; columns = class x {in-class, all-class} x {rho, NDCG}."""
    header = ["Method"] + [f"{cls.upper()} {scope.replace('_', '-')} {'ρ↓' if metric == 'rho' else 'NDCG↑'}"
                           for cls, scope, metric in _columns()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in row_order(list(summaries)):
        cells = [_cell(summaries[method][cls][scope][metric], metric) for cls, scope, metric in _columns()]
        lines.append("| " + " | ".join([row_name(method), *cells]) + " |")
    return "\n".join(lines) + "\n"


def summary_csv(summaries: Mapping[str, Mapping[str, Mapping[str, dict]]]) -> str:
    """One row per method; columns method, name, <class>_<scope>_<rho|ndcg|num_targets>; raw values (NDCG in [0, 1])."""
    keys = [(cls, scope, metric) for cls in CLASSES for scope in SCOPES for metric in ("rho", "ndcg", "num_targets")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "name", *[f"{c}_{s}_{m}" for c, s, m in keys]])
    for method in row_order(list(summaries)):
        values = [summaries[method][c][s][m] for c, s, m in keys]
        writer.writerow([method, row_name(method), *["" if v is None else v for v in values]])
    return buffer.getvalue()


def _number(value: float) -> str:
    """A training-set size as an integer, a similarity with four decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def targets_markdown(method: str, results: Mapping[str, Mapping[str, TargetResult]]) -> str:
    """Per target: rho, NDCG and the ranked sources with their predicted values and transfer scores."""
    lines = [f"## {row_name(method)} ({method})", ""]
    for scope in SCOPES:
        if not results[scope]:
            continue
        lines += [f"### {scope.replace('_', '-')}", "",
                  "| target | class | ρ | NDCG | ranking: source (predicted; transfer score) |", "|---|---|---|---|---|"]
        for target, result in results[scope].items():
            ranking = ", ".join(f"{s} ({_number(p)}; {t:.4g})" for s, p, t in result.ranking)
            lines.append(f"| {target} | {result.target_class} | {result.rho} | {100 * result.ndcg:.1f} | {ranking} |")
        lines.append("")
    return "\n".join(lines)
