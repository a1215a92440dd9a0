"""What the unified space's MRRs are read against: a random order, and the DTEs' own neighbourhoods.

An MRR of 0.7 means little alone: with four DTEs of two families, an MTE that ranks the DTEs at random
already finds its family at 1/1 half of the time. Two references go beside every method and view:

- **Random order.** An MTE that ranks its method's N DTEs in a uniformly random order finds the first of
  its m relevant DTEs at rank R with P(R = r) = C(N - r, m - 1) / C(N, m), r = 1 .. N - m + 1 (the first
  relevant of m items placed uniformly among N: the other m - 1 take m - 1 of the N - r later places), so
  its expected reciprocal rank is E[1/R] = sum_r P(R = r) / r; for one relevant DTE (own task) H_N / N.
  The random MRR of a method is the mean of E[1/R] over the MTEs the MRR averages (their own N and m).
- **DTE-only nearest neighbours (leave one out).** Each DTE ranks the method's other DTEs of its seed by
  cosine (in the same view: raw, or displacements from e0), and its reciprocal rank is that of the first
  DTE of its own task family. DTEs that sit apart from their family give an MTE nothing to find its
  family by: when this control is at its random value, so is any MTE's family MRR, whatever the MTEs
  learned. Its mean over DTEs and seeds comes with the bootstrap interval of data_utils/statistics.py; a
  DTE whose family has no other DTE has nothing to find and is left out (counted in its `targets`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

from data_utils import comparisons
from data_utils.artifacts.data_identity import TaskLabels
from data_utils.artifacts.embeddings import Embedding
from data_utils.similarity import nearest_first
from data_utils.statistics import Estimate, estimate
from task_emb.displacement import displaced, views

COLUMNS = ("method", "view", "random_own_mrr", "random_family_mrr", "random_llm_family_mrr", "dte_family_mrr",
           "random_dte_family_mrr")


def random_reciprocal_rank(candidates: int, relevant: int) -> float | None:
    """E[1 / rank of the first relevant item] when `candidates` items, `relevant` of them relevant, are put in a
    uniformly random order (module docstring); None when none is relevant."""
    if not 0 < relevant <= candidates:
        return None
    total = comb(candidates, relevant)
    return sum(comb(candidates - r, relevant - 1) / r for r in range(1, candidates - relevant + 2)) / total


@dataclass(frozen=True)
class Neighbour:
    """One DTE's leave-one-out family retrieval among its method's other DTEs of its seed, in one view."""

    method: str
    view: str
    dte: str
    seed: int
    family_rank: int | None  # rank of the first DTE of its family among the others; None: its family has no other
    others: int  # the other DTEs it ranks
    kin: int  # how many of them are of its family


def dte_neighbours(method: str, dtes: Sequence[Embedding], families: Sequence[str | None], e0: np.ndarray | None,
                   labels: TaskLabels, seed: int) -> list[Neighbour]:
    """A Neighbour per DTE and view (raw; displacement with `e0`); `families`: each DTE's task family (None: none),
    ties broken by task name as task_emb.space_eval ranks the MTEs."""
    names = [labels.of(d) for d in dtes]
    family_by_name = dict(zip(names, families))
    found = []
    for view, shift in views(e0).items():
        vectors = dict(zip(names, displaced(dtes, shift)))
        for name, family in family_by_name.items():
            order, _ = nearest_first(vectors[name], {other: v for other, v in vectors.items() if other != name})
            kin = {other for other in order if family is not None and family_by_name[other] == family}
            ranks = [k + 1 for k, other in enumerate(order) if other in kin]
            found.append(Neighbour(method, view, name, seed, ranks[0] if ranks else None, len(order), len(kin)))
    return found


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def rows(ranks: Sequence, neighbours: Sequence[Neighbour]) -> list[dict]:
    """Per method and view (as the summary lists them): the random MRRs of the MTEs' retrievals (`ranks`:
    task_emb.space_eval.SpaceRank, each with its DTE count and family size), the DTE-only family MRR (an Estimate)
    and its random value."""
    found = []
    for method, view in sorted({(r.method, r.view) for r in ranks}, key=lambda mv: (mv[0], mv[1] != "raw")):
        chosen = [r for r in ranks if (r.method, r.view) == (method, view)]
        lm, llm = [r for r in chosen if not r.llm], [r for r in chosen if r.llm]
        neighbours_of = [n for n in neighbours if (n.method, n.view) == (method, view)]
        found.append({
            "method": method, "view": view,
            "random_own_mrr": _mean([random_reciprocal_rank(r.dtes, 1) for r in lm if r.own_rank is not None]),
            "random_family_mrr": _mean([random_reciprocal_rank(r.dtes, r.kin) for r in lm]),
            "random_llm_family_mrr": _mean([random_reciprocal_rank(r.dtes, r.kin) for r in llm]),
            "dte_family_mrr": estimate({(n.dte, n.seed): None if n.family_rank is None else 1.0 / n.family_rank
                                        for n in neighbours_of}),
            "random_dte_family_mrr": _mean([random_reciprocal_rank(n.others, n.kin) for n in neighbours_of]),
        })
    return found


def _number(value) -> str:
    if value is None:
        return "-"
    return value.cell(digits=3) if isinstance(value, Estimate) else f"{value:.3f}"


def markdown(control_rows: Sequence[dict]) -> str:
    """The references as a Markdown section ("" without rows)."""
    if not control_rows:
        return ""
    header = ("| Method | View | own-task MRR, random | family MRR, random | LLM family MRR, random "
              "| DTE → DTE family MRR | its random |\n|---|---|---|---|---|---|---|\n")
    return ("\n## Against chance and the DTEs' own neighbourhoods\n\nWhat a random order of the DTEs gives each "
            "MRR above (its exact expectation), and the DTE-only control: each DTE's nearest other DTE of its "
            "family, leave one out, mean ± half its 95% interval over DTEs and seeds. An MTE's family MRR can only "
            "mean something where the control is above its random value (task_emb/space_controls.py).\n\n"
            + header + "".join("| " + " | ".join(_number(row[c]) if c not in ("method", "view") else row[c]
                                                 for c in COLUMNS) + " |\n" for row in control_rows))


def csv(control_rows: Sequence[dict]) -> str:
    """COLUMNS, the control's Estimate as Estimate.columns("dte_family_mrr")."""
    columns = [*COLUMNS[:-1], *Estimate.columns("dte_family_mrr"), COLUMNS[-1]]
    return comparisons.long_csv(columns, [{**row, **row["dte_family_mrr"].flat("dte_family_mrr")}
                                          for row in control_rows])


def to_json(control_rows: Sequence[dict]) -> list[dict]:
    return [{k: v.to_json() if isinstance(v, Estimate) else v for k, v in row.items()} for row in control_rows]
