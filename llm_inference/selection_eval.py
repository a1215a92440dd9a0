"""Prompt-selection evaluation (the paper's second table): score each method's choice of prompt.

Pure functions on plain arrays; reading files is llm_inference/selection_files.py's job.

For one LLM and one dataset, each method gives a score per prompt s [P] (higher =
better) and each prompt has its actual task metric m [P] (accuracy for SA,
macro-F1 for NLI). The prompts are ranked by s, best first; ties go to the lower
prompt number, so every run gives the same order.

- selected prompt  p* = the first prompt of that ranking (argmax s, lowest number on a tie)
- Performance      = m[p*]
- Rate             = m[p*] / max_p m[p]   (1.0 when every prompt scores 0: any choice is the best)
- NDCG             = NDCG of the ranking with relevance m (gain and cut-off as chosen by the caller)

Per LLM, each number is averaged over the datasets of a genre (SA: sst2, imdb,
rotten_tomatoes; NLI: cb, anli, wanli; whichever of them were evaluated). A method
without scores for one of those datasets gets no average for that genre. The tables
show how many datasets each LLM's genre average covers, and a warning is logged when
LLMs in one table are averaged over different datasets.

NDCG is computed with the table's gain, cut-off and scale (a data_utils.metrics.NdcgSettings).
Beside them, each ranking gets the metrics of data_utils/ranking.py (regret@k, hit@k, NDCG@k,
Spearman's rho_s, weighted Kendall tau). An (LLM, dataset) may be evaluated under several seeds
(its inference files' seed): each summary number is the mean over the genre's datasets (each the
mean over its seeds) with its 95% bootstrap interval (data_utils/statistics.py).
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from configs.datasets import GENRES
from configs.models import model_slug
from data_utils import comparisons
from data_utils.comparisons import Shown
from data_utils.errors import FuteError
from data_utils.metrics import NdcgSettings
from data_utils.ranking import metric_names, ranking_metrics
from data_utils.statistics import Estimate, estimate

logger = logging.getLogger(__name__)

GENRE_NAMES = {"sa": "SA", "nli": "NLI"}
NUMBERS = ("performance", "rate", "ndcg")
NUMBER_NAMES = {"performance": "Performance", "rate": "Rate", "ndcg": "NDCG"}
METRICS = (*NUMBERS, *metric_names())
NUMBERS_SHOWN = {number: Shown(name) for number, name in NUMBER_NAMES.items()}
CELL_COLUMNS = ("llm", "genre")

def rank_prompts(scores: Sequence[float]) -> list[int]:
    """Prompt numbers best first: higher score first, ties by lower prompt number."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.all(np.isfinite(scores)):
        raise FuteError(f"prompt scores must be a 1-D list of finite numbers, got {scores.tolist()}")
    return sorted(range(len(scores)), key=lambda p: (-scores[p], p))


@dataclass
class MethodResult:
    """One method on one (LLM, dataset). ranking: prompt numbers best first."""

    selected: int
    performance: float
    rate: float
    ndcg: float
    ranking: list[int]
    scores: list[float]
    metrics: dict[str, float | None]  # data_utils.ranking.ranking_metrics of the ranking

    def value(self, metric: str) -> float | None:
        """One of METRICS."""
        return getattr(self, metric) if metric in NUMBERS else self.metrics.get(metric)


def evaluate_scores(scores: Sequence[float], performance: Sequence[float], ndcg: NdcgSettings) -> MethodResult:
    """Selected prompt, Performance, Rate, NDCG and the ranking metrics of one method's scores [P] against the
    metrics [P]."""
    performance = np.asarray(performance, dtype=np.float64)
    if len(scores) != len(performance):
        raise FuteError(f"{len(scores)} scores for {len(performance)} prompts; the score file and the inference "
                        f"files do not belong together")
    ranking = rank_prompts(scores)
    selected, best = ranking[0], float(performance.max())
    return MethodResult(
        selected=selected,
        performance=float(performance[selected]),
        rate=1.0 if best == 0.0 else float(performance[selected]) / best,
        ndcg=float(ndcg([float(performance[p]) for p in ranking])),
        ranking=ranking,
        scores=[float(s) for s in scores],
        metrics=ranking_metrics(ranking, dict(enumerate(map(float, scores))), dict(enumerate(performance.tolist())),
                                ndcg.gain, ndcg.scale),
    )


@dataclass
class DatasetEvaluation:
    """Every method on one (LLM, dataset) under one seed; performance[p] is prompt p's actual metric."""

    model: str
    dataset: str
    genre: str
    metric: str
    performance: list[float]
    methods: dict[str, MethodResult]
    seed: int = 42

    @property
    def best_prompts(self) -> list[int]:
        best = max(self.performance)
        return [p for p, value in enumerate(self.performance) if value == best]

    @property
    def prompts_tie(self) -> bool:
        """Every prompt scores the same: any selection is the best one, so this dataset cannot rank methods."""
        return len(set(self.performance)) == 1

    def to_json(self) -> dict:
        return {**asdict(self), "best_prompts": self.best_prompts, "prompts_tie": self.prompts_tie}


def evaluate_dataset(model: str, dataset: str, genre: str, metric: str, performance: Sequence[float],
                     scores: Mapping[str, Sequence[float]], ndcg: NdcgSettings, seed: int = 42) -> DatasetEvaluation:
    """Evaluate every method's scores (method -> [P]) on one (LLM, dataset) under one seed."""
    if genre not in GENRES:
        raise FuteError(f"unknown task genre {genre!r}; use one of {', '.join(GENRES)}")
    return DatasetEvaluation(model=model, dataset=dataset, genre=genre, metric=metric,
                             performance=[float(v) for v in performance],
                             methods={m: evaluate_scores(s, performance, ndcg) for m, s in scores.items()}, seed=seed)


def samples(evaluations: Sequence[DatasetEvaluation]) -> dict[str, dict[tuple[str, str], dict[str, dict]]]:
    """method -> (model, genre) -> metric -> (dataset, seed) -> value."""
    found: dict = {}
    for e in evaluations:
        for method, result in e.methods.items():
            cell = found.setdefault(method, {}).setdefault((e.model, e.genre), {})
            for metric in METRICS:
                cell.setdefault(metric, {})[e.dataset, e.seed] = result.value(metric)
    return found


def summarise(evaluations: Sequence[DatasetEvaluation]) -> dict[str, dict[str, dict[str, dict | None]]]:
    """model -> genre -> method -> {metric: Estimate for each of METRICS, "datasets": [...]}: means over the genre's
    datasets (each the mean over its seeds) with their 95% intervals.

    A cell is None when the method lacks one of the (model, genre)'s datasets or seeds.
    """
    found = samples(evaluations)
    summary: dict[str, dict[str, dict[str, dict | None]]] = {}
    for model in sorted({e.model for e in evaluations}):
        summary[model] = {}
        for genre in GENRES:
            chosen = [e for e in evaluations if e.model == model and e.genre == genre]
            if not chosen:
                continue
            methods = sorted({m for e in chosen for m in e.methods})
            summary[model][genre] = {
                method: {**{metric: estimate(sample) for metric, sample in found[method][model, genre].items()},
                         "datasets": list(dict.fromkeys(e.dataset for e in chosen))}
                if all(method in e.methods for e in chosen) else None
                for method in methods
            }
    for genre, by_model in genre_datasets(summary).items():
        if len({tuple(sorted(datasets)) for datasets in by_model.values()}) > 1:
            listed = "; ".join(f"{model}: {', '.join(datasets)}" for model, datasets in by_model.items())
            logger.warning("the %s averages cover different datasets per LLM (%s); compare them with care",
                           GENRE_NAMES[genre], listed)
    return summary


def genre_datasets(summary: Mapping[str, Mapping[str, Mapping[str, dict | None]]]) -> dict[str, dict[str, list[str]]]:
    """genre -> model -> the datasets its averages cover (models with no averaged cell in the genre left out)."""
    found: dict[str, dict[str, list[str]]] = {}
    for model in sorted(summary):
        for genre, cells in summary[model].items():
            datasets = next((cell["datasets"] for cell in cells.values() if cell is not None), None)
            if datasets is not None:
                found.setdefault(genre, {})[model] = list(datasets)
    return found


# ---------------------------------------------------------------- tables


def _methods(summary: Mapping[str, Mapping[str, Mapping[str, dict | None]]], genre: str,
             order: Sequence[str]) -> list[str]:
    present = {m for by_genre in summary.values() for m in by_genre.get(genre, {})}
    return [m for m in order if m in present] + sorted(present - set(order))


def _rows(summary, order: Sequence[str], names: Mapping[str, str], cell: Callable[[Estimate | None], list]):
    """(genre, method key, method name, cells) per row; cells per model x {Performance, Rate, NDCG}."""
    models = sorted(summary)
    for genre in GENRES:
        for method in _methods(summary, genre, order):
            cells = []
            for model in models:
                value = summary[model].get(genre, {}).get(method)
                cells += [c for number in NUMBERS for c in cell(None if value is None else value[number])]
            yield genre, method, names.get(method, method), cells


def summary_markdown(summary, order: Sequence[str], names: Mapping[str, str]) -> str:
    """The slides' second table: rows = category x method; columns = LLM x {Performance, Rate, NDCG}, in percent,
    each the mean ± half the width of its 95% interval.

    Each genre starts with a row "datasets averaged": per LLM, n (the datasets).
    """
    models = sorted(summary)
    header = ["Category", "Method"] + [f"{model_slug(model)} {NUMBER_NAMES[n]}" for model in models
                                       for n in NUMBERS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    covered = genre_datasets(summary)
    current = None
    for genre, _, name, cells in _rows(summary, order, names, lambda v: ["-" if v is None else v.cell(100)]):
        if genre != current:
            current = genre
            counts = []
            for model in models:
                datasets = covered.get(genre, {}).get(model)
                counts += [f"{len(datasets)} ({', '.join(datasets)})" if datasets else "-", "", ""]
            lines.append("| " + " | ".join([GENRE_NAMES[genre], "*datasets averaged*", *counts]) + " |")
        lines.append("| " + " | ".join([GENRE_NAMES[genre], name, *cells]) + " |")
    return "\n".join(lines) + "\n"


def summary_csv(summary, order: Sequence[str], names: Mapping[str, str]) -> str:
    """The same table as CSV: category, method, name, then per model <model>_<number> (the mean, raw in [0, 1]),
    <model>_<number>_low and _high (its 95% interval), <model>_num_datasets (how many datasets the row's averages
    cover) and <model>_num_seeds."""
    models = sorted(summary)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["category", "method", "name",
                     *[f"{model}_{column}" for model in models
                       for column in (*[f"{n}{part}" for n in NUMBERS for part in ("", "_low", "_high")],
                                      "num_datasets", "num_seeds")]])
    def bounds(value: Estimate | None) -> list:
        return ["", "", ""] if value is None else ["" if x is None else x for x in (value.mean, value.low, value.high)]

    width = 3 * len(NUMBERS)
    for genre, method, name, cells in _rows(summary, order, names, bounds):
        row = []
        for i, model in enumerate(models):
            value = summary[model].get(genre, {}).get(method)
            row += [*cells[i * width:(i + 1) * width],
                    *(["", ""] if value is None else [len(value["datasets"]), value["performance"].seeds])]
        writer.writerow([GENRE_NAMES[genre], method, name, *row])
    return buffer.getvalue()


def summary_json(summary) -> dict:
    """The summary with every Estimate as its dict (mean, low, high, targets, seeds)."""
    return {model: {genre: {method: None if cell is None else
                            {k: v.to_json() if isinstance(v, Estimate) else v for k, v in cell.items()}
                            for method, cell in by_method.items()} for genre, by_method in by_genre.items()}
            for model, by_genre in summary.items()}


def ranking_markdown(summary, order: Sequence[str], names: Mapping[str, str]) -> str:
    """The ranking metrics of every method, LLM and genre (data_utils/comparisons.ranking_markdown)."""
    table: dict = {}
    for model, by_genre in summary.items():
        for genre, by_method in by_genre.items():
            for method, cell in by_method.items():
                if cell is not None:
                    table.setdefault(method, {})[model_slug(model), GENRE_NAMES[genre]] = {
                        metric: cell[metric] for metric in METRICS}
    return comparisons.ranking_markdown(table, [m for m in _all(order, table)], lambda m: names.get(m, m),
                                        CELL_COLUMNS)


def _all(order: Sequence[str], present) -> list[str]:
    return [m for m in order if m in present] + sorted(set(present) - set(order))


def paired_rows(evaluations: Sequence[DatasetEvaluation], fute_methods: Sequence[str]) -> list[dict]:
    """Every method against every FUTE method, per LLM, genre and metric (data_utils/comparisons.py)."""
    found = {method: {(model, GENRE_NAMES[genre]): metrics for (model, genre), metrics in cells.items()}
             for method, cells in samples(evaluations).items()}
    return comparisons.paired_rows(found, list(fute_methods), CELL_COLUMNS)


def paired_markdown(rows: Sequence[dict], names: Mapping[str, str]) -> str:
    return comparisons.paired_markdown(rows, lambda m: names.get(m, m), CELL_COLUMNS, NUMBERS_SHOWN, model_slug)
