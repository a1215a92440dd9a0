"""What every table adds to its means: the ranking metrics' block, and each method against each FUTE row.

A table hands over its per-target values as `Samples`: method -> cell -> metric -> data_utils.statistics.Sample,
where a cell is one column group of the table (transfer: (class, scope); prompt: (LLM, genre); space: (view,)).
This module turns them into Markdown blocks and long CSV / JSON rows; the statistics are data_utils/statistics.py's.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from data_utils import statistics
from data_utils.ranking import AT_K, KS

Cell = tuple[str, ...]
Samples = Mapping[str, Mapping[Cell, Mapping[str, statistics.Sample]]]


@dataclass(frozen=True)
class Shown:
    """How a metric is shown in Markdown: its column label, the factor to its unit (100: percent) and decimals."""

    label: str
    scale: float = 100.0
    digits: int = 1


# The ranking metrics of data_utils/ranking.py, as the tables show them (percent; correlations as they are).
RANKING_SHOWN = {**{f"{name}@{k}": Shown(f"{name}@{k}{'↓' if name == 'regret' else '↑'}")
                    for name in AT_K for k in KS},
                 "spearman": Shown("ρ_s↑", 1.0, 2), "kendall_w": Shown("τ_w↑", 1.0, 2)}


def estimates(samples: Samples) -> dict[str, dict[Cell, dict[str, statistics.Estimate]]]:
    """The Estimate of every method, cell and metric."""
    return {method: {cell: {metric: statistics.estimate(sample) for metric, sample in metrics.items()}
                     for cell, metrics in cells.items()} for method, cells in samples.items()}


def paired_rows(samples: Samples, references: Sequence[str], cell_columns: Sequence[str]) -> list[dict]:
    """Every method against every reference (a FUTE row) on each cell and metric both have: one row each with
    method, reference, the cell's columns, metric, the difference (method - reference) Estimate and p-value. A pair
    of two references is compared once."""
    rows, done = [], set()
    for reference in references:
        for method in (m for m in samples if m != reference and frozenset((m, reference)) not in done):
            done.add(frozenset((method, reference)))
            for cell, metrics in samples[method].items():
                for metric, sample in metrics.items():
                    theirs = samples[reference].get(cell, {}).get(metric)
                    if theirs is None:
                        continue
                    paired = statistics.paired(sample, theirs)
                    if paired.difference.mean is None:
                        continue
                    rows.append({"method": method, "reference": reference, **dict(zip(cell_columns, cell)),
                                 "metric": metric, **paired.to_json()})
    return rows


def paired_markdown(rows: Sequence[dict], names: Callable[[str], str], cell_columns: Sequence[str],
                    shown: Mapping[str, Shown], cell_text: Callable[[str], str] = str) -> str:
    """The paired differences of the metrics in `shown` as a Markdown section ("" without rows); `cell_text` shows
    a cell's value (e.g. a model's short name)."""
    rows = [row for row in rows if row["metric"] in shown]
    if not rows:
        return ""
    header = ["Method", "vs FUTE row", *cell_columns, "metric", "difference [95% interval]", "p", "targets × seeds"]
    lines = ["## Paired differences against each FUTE row", "",
             "Method minus FUTE row on the targets (and seeds) both have, in the table's units: the mean difference, "
             "its 95% cluster-bootstrap interval over targets and the two-sided sign-flip permutation p-value "
             "(docs/statistics.md).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        show = shown[row["metric"]]
        number = lambda v: f"{show.scale * v:+.{show.digits}f}"  # noqa: E731
        interval = "" if row["low"] is None else f" [{number(row['low'])}, {number(row['high'])}]"
        p = "-" if row["p_value"] is None else f"{row['p_value']:.3f}"
        lines.append("| " + " | ".join([names(row["method"]), names(row["reference"]),
                                        *[cell_text(row[c]) for c in cell_columns], show.label,
                                        number(row["mean"]) + interval, p,
                                        f"{row['targets']} × {row['seeds']}"]) + " |")
    return "\n".join(lines) + "\n"


def ranking_markdown(table: Mapping[str, Mapping[Cell, Mapping[str, statistics.Estimate]]], order: Sequence[str],
                     names: Callable[[str], str], cell_columns: Sequence[str], cell_text: Callable[[str], str] = str
                     ) -> str:
    """The ranking metrics (RANKING_SHOWN) of every method and cell, mean ± half-width of the 95% interval; a cell
    with none defined (a single candidate) is left out."""
    metrics = [m for m in RANKING_SHOWN if any(m in by_metric for cells in table.values() for by_metric in
                                               cells.values())]
    header = ["Method", *cell_columns, "targets × seeds", *[RANKING_SHOWN[m].label for m in metrics]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in order:
        for cell, by_metric in table.get(method, {}).items():
            if all(by_metric[m].mean is None for m in metrics if m in by_metric):
                continue  # e.g. one candidate only: no order to score
            counts = max(((e.targets, e.seeds) for e in by_metric.values()), default=(0, 0))
            cells = [by_metric[m].cell(RANKING_SHOWN[m].scale, RANKING_SHOWN[m].digits) if m in by_metric else "-"
                     for m in metrics]
            lines.append("| " + " | ".join([names(method), *map(cell_text, cell),
                                            f"{counts[0]} × {counts[1]}", *cells]) + " |")
    return "\n".join(lines) + "\n"


def long_csv(columns: Sequence[str], rows: Sequence[Mapping]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: "" if row.get(c) is None else row[c] for c in columns} for row in rows)
    return buffer.getvalue()


ESTIMATE_COLUMNS = ("mean", "low", "high", "targets", "seeds")
PAIRED_COLUMNS = (*ESTIMATE_COLUMNS, "p_value")


def paired_csv(rows: Sequence[dict], cell_columns: Sequence[str]) -> str:
    return long_csv(("method", "reference", *cell_columns, "metric", *PAIRED_COLUMNS), rows)
