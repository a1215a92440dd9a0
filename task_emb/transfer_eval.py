"""Transferability evaluation (the paper's first table): rank sources for a target, score the ranking.

Pure functions on plain dicts and arrays; reading files is task_emb/records.py's job.

For a target t, every candidate source s != t gets a predicted value (the cosine
similarity of their embeddings, or the source's training-set size for DataSize),
and the sources are ranked by it, best first. Two numbers score that ranking
against the ground truth score(s, t) (t's dev score after fine-tuning on s, then t):

- rho: the rank (1 = top) of the truly best source; averaged over targets, lower
  is better. Ties in the truth: when several sources share the highest score, rho
  is the rank of the first of them in the predicted order (choosing any of them
  is equally good).
- NDCG: DCG of the predicted order divided by DCG of the ideal order, with
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

from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

GAINS = ("linear", "exponential")
SCOPES = ("in_class", "all_class")
CLASSES = ("cr", "qa")
DATASIZE = "datasize"

# Method ids (from the embedding records) -> the paper's row names, in the paper's row order.
DISPLAY_NAMES = {
    DATASIZE: "DataSize",
    "textemb": "TextEmb",
    "fim-baseline": "TaskEmb",
    "prefix-baseline": "TuPaTE",
    "fim-fute": "FUTE + TaskEmb",
    "prefix-fute": "FUTE + TuPaTE",
}

# Cosine similarity reads long vectors (a t5-base FIM has ~2e8 floats, often memory-mapped
# float16) in slices of this many elements, so no float64 copy of a whole vector is made.
_CHUNK = 1 << 22


def display_name(method: str) -> str:
    return DISPLAY_NAMES.get(method, method)


def method_order(methods: Sequence[str]) -> list[str]:
    """The paper's rows first, in its order; any other method after them, alphabetically."""
    known = [m for m in DISPLAY_NAMES if m in methods]
    return known + sorted(m for m in set(methods) if m not in DISPLAY_NAMES)


def source_kind(method: str) -> str:
    """FUTE compares the MTE of the model fine-tuned on s with the DTE of t; baselines compare DTEs."""
    return "MTE" if method.endswith("-fute") else "DTE"


# ---------------------------------------------------------------- similarity


def _check_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise FuteError(f"cannot compare embeddings of shapes {a.shape} and {b.shape}; they come from different "
                        f"surrogates or methods")


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """a.b for 1-D arrays of equal length, accumulated in float64 slices (one pass over each)."""
    _check_shapes(a, b)
    total = 0.0
    for start in range(0, a.shape[0], _CHUNK):
        total += float(np.asarray(a[start:start + _CHUNK], dtype=np.float64)
                       @ np.asarray(b[start:start + _CHUNK], dtype=np.float64))
    return total


def squared_norm(a: np.ndarray) -> float:
    """|a|^2 of a 1-D array, accumulated in float64 slices."""
    total = 0.0
    for start in range(0, a.shape[0], _CHUNK):
        x = np.asarray(a[start:start + _CHUNK], dtype=np.float64)
        total += float(x @ x)
    return total


def cosine_from_parts(dot_ab: float, squared_norm_a: float, squared_norm_b: float) -> float:
    """a.b / sqrt(|a|^2 |b|^2); an all-zero embedding is an error."""
    if squared_norm_a == 0.0 or squared_norm_b == 0.0:
        raise FuteError("an embedding is all zeros, so its cosine similarity is undefined; recompute it")
    return dot_ab / math.sqrt(squared_norm_a * squared_norm_b)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b) = a.b / (|a| |b|) for 1-D arrays of equal length, accumulated in float64 slices."""
    _check_shapes(a, b)
    return cosine_from_parts(dot(a, b), squared_norm(a), squared_norm(b))


def cosine_matrix(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """[n, n] matrix of pairwise cosine similarities (symmetric, ones on the diagonal).

    Each vector's norm is computed once, so a pair costs one dot product.
    """
    n = len(vectors)
    norms = [squared_norm(v) for v in vectors]
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = cosine_from_parts(dot(vectors[i], vectors[j]), norms[i], norms[j])
    return matrix


# ---------------------------------------------------------------- ranking metrics


def rank_sources(predicted: Mapping[str, float]) -> list[str]:
    """Sources ordered best first: higher predicted value first, ties by name."""
    return sorted(predicted, key=lambda source: (-predicted[source], source))


def rank_of_best(order: Sequence[str], truth: Mapping[str, float]) -> int:
    """1-based rank in `order` of the truly best source (the first one in `order` when the best is tied)."""
    best = max(truth[source] for source in order)
    return next(rank for rank, source in enumerate(order, start=1) if truth[source] == best)


def gain(relevance: np.ndarray, kind: str) -> np.ndarray:
    """linear: rel; exponential: 2^rel - 1."""
    if kind == "linear":
        return relevance
    if kind == "exponential":
        return np.power(2.0, relevance) - 1.0
    raise FuteError(f"unknown NDCG gain {kind!r}; use one of {', '.join(GAINS)}")


def dcg(relevance_in_order: Sequence[float], gain_kind: str = "linear", k: int | None = None) -> float:
    """DCG@k = sum_{i=1..k} gain(rel_i) / log2(i + 1) over the given order (all items when k is None)."""
    rel = np.asarray(relevance_in_order, dtype=np.float64)[:k]
    discounts = np.log2(np.arange(2, rel.shape[0] + 2))
    with np.errstate(over="ignore"):
        gains = gain(rel, gain_kind)
    if not np.all(np.isfinite(gains)):
        raise FuteError(f"the {gain_kind} NDCG gain of relevance up to {rel.max():g} overflows; use a smaller "
                        f"--ndcg_scale or --ndcg_gain linear")
    return float(np.sum(gains / discounts))


def ndcg(relevance_in_order: Sequence[float], gain_kind: str = "linear", k: int | None = None,
         scale: float = 1.0) -> float:
    """DCG@k of the given order / DCG@k of the same relevances sorted best first, relevance multiplied by `scale`.

    Relevance must be non-negative (a negative gain makes the ratio meaningless).
    All-zero relevance gives 0, as sklearn.metrics.ndcg_score does.
    """
    if k is not None and k < 1:
        raise FuteError(f"--ndcg_k must be at least 1, got {k}")
    if not scale > 0:
        raise FuteError(f"--ndcg_scale must be positive, got {scale}")
    if any(r < 0 for r in relevance_in_order):
        raise FuteError("NDCG needs non-negative relevance; the transfer scores contain a negative value")
    scaled = [scale * r for r in relevance_in_order]
    ideal = dcg(sorted(scaled, reverse=True), gain_kind, k)
    return 0.0 if ideal == 0.0 else dcg(scaled, gain_kind, k) / ideal


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
    for method in method_order(list(summaries)):
        cells = [_cell(summaries[method][cls][scope][metric], metric) for cls, scope, metric in _columns()]
        lines.append("| " + " | ".join([display_name(method), *cells]) + " |")
    return "\n".join(lines) + "\n"


def summary_csv(summaries: Mapping[str, Mapping[str, Mapping[str, dict]]]) -> str:
    """One row per method; columns method, name, <class>_<scope>_<rho|ndcg|num_targets>; raw values (NDCG in [0, 1])."""
    keys = [(cls, scope, metric) for cls in CLASSES for scope in SCOPES for metric in ("rho", "ndcg", "num_targets")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "name", *[f"{c}_{s}_{m}" for c, s, m in keys]])
    for method in method_order(list(summaries)):
        values = [summaries[method][c][s][m] for c, s, m in keys]
        writer.writerow([method, display_name(method), *["" if v is None else v for v in values]])
    return buffer.getvalue()


def _number(value: float) -> str:
    """A training-set size as an integer, a similarity with four decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def targets_markdown(method: str, results: Mapping[str, Mapping[str, TargetResult]]) -> str:
    """Per target: rho, NDCG and the ranked sources with their predicted values and transfer scores."""
    lines = [f"## {display_name(method)} ({method})", ""]
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
