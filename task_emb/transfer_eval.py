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

Beside rho and NDCG, each target's ranking gets the metrics of data_utils/ranking.py (regret@k,
hit@k, NDCG@k, Spearman's rho_s, weighted Kendall tau). Each seed's targets are evaluated on
their own; every summary number is the mean over targets (of each target's mean over seeds) with
its 95% bootstrap interval (data_utils/statistics.py).
"""
from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from configs.methods import METHODS_BY_ID, method_order, paper_name
from data_utils import comparisons
from data_utils.comparisons import Shown
from data_utils.errors import FuteError
from data_utils.metrics import ndcg
from data_utils.ranking import metric_names, ranking_metrics
from data_utils.statistics import Estimate, estimate

logger = logging.getLogger(__name__)

SCOPES = ("in_class", "all_class")
CLASSES = ("cr", "qa")
# The baseline that needs no embedding: rank sources by training-set size.
DATASIZE = "datasize"
# Every number per target, the paper's two first; how the summary shows rho and NDCG.
METRICS = ("rho", "ndcg", *metric_names())
HEADLINE = {"rho": Shown("ρ↓", 1.0), "ndcg": Shown("NDCG↑")}
CELL_COLUMNS = ("class", "scope")
# One seed's results of one method: scope -> target -> TargetResult; of every seed: seed -> that.
Results = Mapping[str, Mapping[str, "TargetResult"]]
BySeed = Mapping[int, Results]


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
    """One target under one method and scope. ranking: (source, predicted value, transfer score), best first;
    metrics: data_utils.ranking.ranking_metrics of that ranking."""

    target: str
    target_class: str
    ranking: list[tuple[str, float, float]]
    best_sources: list[str]
    rho: int
    ndcg: float
    metrics: dict[str, float | None]

    def value(self, metric: str) -> float | None:
        """One of METRICS."""
        return float(getattr(self, metric)) if metric in ("rho", "ndcg") else self.metrics.get(metric)

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
    truth_values = {s: float(v) for s, v in truth.items()}
    return TargetResult(
        target=target,
        target_class=target_class,
        ranking=[(s, float(predicted[s]), float(truth[s])) for s in order],
        best_sources=sorted(s for s in order if truth[s] == best),
        rho=rank_of_best(order, truth),
        ndcg=ndcg([max(truth[s], 0.0) for s in order], gain_kind, k, scale),
        metrics=ranking_metrics(order, predicted, truth_values, gain_kind, scale),
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


def samples(by_seed: BySeed) -> dict[tuple[str, str], dict[str, dict[tuple[str, int], float | None]]]:
    """(class, scope) -> metric -> (target, seed) -> value, for one method's results of every seed."""
    found: dict = {(cls, scope): {metric: {} for metric in METRICS} for cls in CLASSES for scope in SCOPES}
    for seed, results in by_seed.items():
        for scope in SCOPES:
            for target, result in results[scope].items():
                for metric in METRICS:
                    found[result.target_class, scope][metric][target, seed] = result.value(metric)
    return found


def summarise(by_seed: BySeed) -> dict[str, dict[str, dict[str, Estimate]]]:
    """class -> scope -> metric -> Estimate (mean over targets and seeds, its 95% interval, n)."""
    found = samples(by_seed)
    return {cls: {scope: {metric: estimate(sample) for metric, sample in found[cls, scope].items()} for scope in SCOPES}
            for cls in CLASSES}


def fute_rows(methods: Sequence[str]) -> list[str]:
    """The FUTE methods (configs/methods.py) among `methods`, in row order: every method is compared with them."""
    return [m for m in row_order(methods) if m in METHODS_BY_ID and METHODS_BY_ID[m].fute]


def paired_rows(by_method: Mapping[str, BySeed]) -> list[dict]:
    """Every method against every FUTE row, per class, scope and metric (data_utils/comparisons.paired_rows)."""
    return comparisons.paired_rows({m: samples(by_seed) for m, by_seed in by_method.items()},
                                   fute_rows(list(by_method)), CELL_COLUMNS)


# ---------------------------------------------------------------- tables


def _columns() -> list[tuple[str, str, str]]:
    return [(cls, scope, metric) for cls in CLASSES for scope in SCOPES for metric in ("rho", "ndcg")]


def summary_markdown(summaries: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Estimate]]]]) -> str:
    """The slides' first table: rows = methods; columns = class x {in-class, all-class} x {rho, NDCG}; each cell
    the mean ± half-width of its 95% interval (rho as a rank, NDCG in percent)."""
    header = ["Method"] + [f"{cls.upper()} {scope.replace('_', '-')} {'ρ↓' if metric == 'rho' else 'NDCG↑'}"
                           for cls, scope, metric in _columns()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in row_order(list(summaries)):
        cells = [summaries[method][cls][scope][metric].cell(HEADLINE[metric].scale)
                 for cls, scope, metric in _columns()]
        lines.append("| " + " | ".join([row_name(method), *cells]) + " |")
    return "\n".join(lines) + "\n"


def ranking_markdown(summaries: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Estimate]]]]) -> str:
    """The ranking metrics of every method, class and scope with targets."""
    table = {method: {(cls, scope): metrics for cls, by_scope in summary.items() for scope, metrics in by_scope.items()
                      if metrics["rho"].targets} for method, summary in summaries.items()}
    return comparisons.ranking_markdown(table, row_order(list(summaries)), row_name, CELL_COLUMNS, _cell_text)


def paired_markdown(rows: Sequence[dict]) -> str:
    return comparisons.paired_markdown(rows, row_name, CELL_COLUMNS, HEADLINE, _cell_text)


def _cell_text(value: str) -> str:
    """A class or scope as the tables show it (in-class, all-class)."""
    return value.replace("_", "-")


def summary_csv(summaries: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Estimate]]]]) -> str:
    """One row per method; columns method, name, then per class and scope <class>_<scope>_<metric> (the mean, raw:
    NDCG in [0, 1]), <..>_<metric>_low and _high (its 95% interval) for every metric, <class>_<scope>_num_targets
    and _num_seeds."""
    keys = [(cls, scope, metric, part) for cls in CLASSES for scope in SCOPES
            for metric in METRICS for part in ("mean", "low", "high")]
    counts = [(cls, scope) for cls in CLASSES for scope in SCOPES]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "name", *[f"{c}_{s}_{m}" + ("" if p == "mean" else f"_{p}") for c, s, m, p in keys],
                     *[f"{c}_{s}_num_{n}" for c, s in counts for n in ("targets", "seeds")]])
    for method in row_order(list(summaries)):
        values = [getattr(summaries[method][c][s][m], p) for c, s, m, p in keys]
        values += [getattr(summaries[method][c][s]["rho"], n) for c, s in counts for n in ("targets", "seeds")]
        writer.writerow([method, row_name(method), *["" if v is None else v for v in values]])
    return buffer.getvalue()


def _number(value: float) -> str:
    """A training-set size as an integer, a similarity with four decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def targets_markdown(method: str, by_seed: BySeed) -> str:
    """Per seed and target: rho, NDCG and the ranked sources with their predicted values and transfer scores."""
    lines = [f"## {row_name(method)} ({method})", ""]
    for seed, results in by_seed.items():
        for scope in SCOPES:
            if not results[scope]:
                continue
            lines += [f"### {scope.replace('_', '-')}, seed {seed}", "",
                      "| target | class | ρ | NDCG | ranking: source (predicted; transfer score) |",
                      "|---|---|---|---|---|"]
            for target, result in results[scope].items():
                ranking = ", ".join(f"{s} ({_number(p)}; {t:.4g})" for s, p, t in result.ranking)
                lines.append(f"| {target} | {result.target_class} | {result.rho} | {100 * result.ndcg:.1f} | "
                             f"{ranking} |")
            lines.append("")
    return "\n".join(lines)
