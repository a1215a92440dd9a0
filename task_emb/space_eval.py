"""The unified space, measured: does a model task embedding land next to its own task's dataset embedding?

FUTE's central claim is that the MTE of a model fine-tuned on task t lies next to the
DTE of t, because both are learned on the same surrogate. For every MTE of one method:

- own rank: the rank (1 = nearest) of the DTE of the model's own task among all DTEs of
  that method, by cosine similarity (ties broken by task name);
- family rank: the rank of the nearest DTE of the same task family (each dataset's `family`:
  sentiment, paraphrase, NLI, ...); an LLM + prompt MTE has no own task, only the family of
  its genre (SA: sentiment, NLI: nli);
- the mean reciprocal rank (MRR) of each over the MTEs.

A task is its dataset's data, not its name: the DTE of a dataset of one's own named like
another (rotten_tomatoes) is another task, told apart in every label and warned about
(data_utils/artifacts/data_identity.py), so an MTE's own task is the DTE of its own data only.

Each is computed twice: on the embeddings as they are, and on their displacements
e - e0 from the initialisation e0 that every prefix embedding of a run with the same
seed and surrogate starts from. Raw cosines of barely trained prefixes mostly compare
e0 with itself; displacements compare what training added. FIM embeddings have no e0:
their displacement columns stay empty.

Beside the ranks, each MTE's ranking of the DTEs gets the ranking metrics of data_utils/ranking.py,
with relevance 1 for the DTE(s) it should find (its own task's; its family's) and 0 for the others.
Seeds: every embedding names its seed; each seed's MTEs are ranked among that seed's DTEs, and every
summary number is a mean over MTEs and seeds with its 95% bootstrap interval (data_utils/statistics.py),
each method also compared with each FUTE method (data_utils/comparisons.py).

Embeddings whose runs flagged them as under-trained (task_emb/undertraining.py) are counted
per method, marked in the per-MTE ranks and listed with their reasons: their cosines say
little about their task.

An MTE whose x' share a source or text with a DTE's dataset is marked "†" (not known: "?"), and what it shares
is listed under the ranks (task_emb/leaks.py): its place near that DTE may come from the shared text.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, asdict, dataclass, field, replace

import numpy as np

from configs.datasets import GENRE_FAMILY
from configs.methods import METHODS_BY_ID
from data_utils import comparisons
from data_utils.artifacts.data_identity import TaskLabels, dataset_of
from data_utils.artifacts.embeddings import Embedding
from data_utils.artifacts.seeds import group_by_seed
from data_utils.comparisons import Shown
from data_utils.ranking import ranking_metrics
from data_utils.similarity import cosine, nearest_first
from data_utils.statistics import Estimate
from task_emb import leaks, space_controls
from task_emb.displacement import displaced, initial_embedding_of, views
from task_emb.space_select import check_seeds_alike, select

logger = logging.getLogger(__name__)

VIEWS = ("raw", "displacement")
# What an MTE should find: its own task's DTE (LM MTEs), its family's (LM MTEs; LLM + prompt MTEs).
RETRIEVALS = ("own-task", "family", "LLM family")
CELL_COLUMNS = ("view", "retrieval")
MRR_SHOWN = {"rr": Shown("MRR↑", 1.0, 3)}


@dataclass
class SpaceRank:
    """Where one MTE lands among the DTEs of its method, in one view (raw or displacement)."""

    method: str
    mte: str
    view: str
    llm: bool  # an LLM + prompt MTE, ranked only against its genre's family
    family: str | None
    own_rank: int | None
    family_rank: int | None
    nearest: str
    undertrained: bool  # the MTE's run flagged it
    seed: int = 42
    _: KW_ONLY  # the rest by name: a positional dict once landed in `leak`, shifting every metric by one field
    leak: str = ""  # its x' share a source or text with a DTE's dataset: "†"; not known: "?" (task_emb/leaks.py)
    own_metrics: dict[str, float | None] = field(default_factory=dict)  # data_utils.ranking, own task relevant
    family_metrics: dict[str, float | None] = field(default_factory=dict)  # the same, the family's DTEs relevant
    dtes: int = 0  # the DTEs it ranks
    kin: int = 0  # how many of them are of its family (what a random order is measured by: task_emb/space_controls)

    @property
    def target(self) -> str:
        """What the summary averages over: the MTE, an LLM + prompt one per genre (one label, two MTEs)."""
        return f"{self.mte} ({self.family})" if self.llm else self.mte


def retrieval_metrics(order: Sequence[str], similarity: Mapping[str, float], relevant: set[str]
                      ) -> dict[str, float | None]:
    """data_utils.ranking's metrics of `order` with relevance 1 for `relevant` DTEs, 0 for the others ({} when none
    is relevant: nothing to find)."""
    if not relevant:
        return {}
    return ranking_metrics(order, similarity, {task: float(task in relevant) for task in order})


def family_of(embedding: Embedding) -> str | None:
    """The task family of an embedding: its dataset's family, or for an LLM + prompt MTE its genre's."""
    identity = dataset_of(embedding)
    return GENRE_FAMILY.get(embedding.genre) if identity is None else identity.family


def evaluate_method(method: str, mtes: Sequence[Embedding], dtes: Sequence[Embedding],
                    e0: np.ndarray | None, labels: TaskLabels | None = None, seed: int = 42) -> list[SpaceRank]:
    """A SpaceRank per MTE and view; the displacement view only with `e0`. Tasks are named by `labels` (by
    default those of these embeddings); `seed`: the seed of these embeddings."""
    labels = labels or TaskLabels.of_embeddings([*mtes, *dtes])
    families = {labels.of(d): family_of(d) for d in dtes}
    ranks = []
    for view, shift in views(e0).items():
        dte_vectors = dict(zip(map(labels.of, dtes), displaced(dtes, shift)))
        for mte, vector in zip(mtes, displaced(mtes, shift)):
            order, similarity = nearest_first(vector, dte_vectors)
            task, family = labels.of(mte), family_of(mte)
            own = order.index(task) + 1 if task in order and not mte.info.llm else None
            kin = {dte for dte in order if family is not None and families[dte] == family}
            in_family = [i + 1 for i, dte in enumerate(order) if dte in kin]
            ranks.append(SpaceRank(method, task, view, mte.info.llm, family, own,
                                   in_family[0] if in_family else None, order[0], bool(mte.undertrained), seed,
                                   own_metrics=retrieval_metrics(order, similarity, {task} if own else set()),
                                   family_metrics=retrieval_metrics(order, similarity, kin), dtes=len(order),
                                   kin=len(kin)))
    return ranks


def _retrieval(rank: SpaceRank, retrieval: str) -> tuple[int | None, dict[str, float | None]] | None:
    """(the rank, the metrics) of `rank` under one of RETRIEVALS; None when it does not apply to that MTE."""
    if retrieval == "own-task":
        return None if rank.llm else (rank.own_rank, rank.own_metrics)
    if (retrieval == "LLM family") != rank.llm:
        return None
    return rank.family_rank, rank.family_metrics


def samples(ranks: Sequence[SpaceRank]) -> dict[str, dict[tuple[str, str], dict[str, dict]]]:
    """method -> (view, retrieval) -> metric -> (SpaceRank.target, seed) -> value: "rr" (the reciprocal rank; None
    with no DTE to find) and the ranking metrics."""
    found: dict = {}
    for r in ranks:
        for retrieval in RETRIEVALS:
            got = _retrieval(r, retrieval)
            if got is None:
                continue
            rank, metrics = got
            cell = found.setdefault(r.method, {}).setdefault((r.view, retrieval), {})
            for metric, value in {"rr": None if rank is None else 1.0 / rank, **metrics}.items():
                cell.setdefault(metric, {})[r.target, r.seed] = value
    return found


def summarise(ranks: Sequence[SpaceRank], undertrained: Mapping[str, int] | None = None) -> list[dict]:
    """Per method and view: counts of LM MTEs and LLM MTEs (distinct MTEs; `seeds`: how many seeds), the MRRs
    (own task and family of LM MTEs, family of LLM MTEs) as Estimates, every retrieval's ranking metrics
    (`metrics`: retrieval -> metric -> Estimate), and the number of the method's embeddings (MTEs and DTEs)
    flagged as under-trained (`undertrained`, by method)."""
    estimates = comparisons.estimates(samples(ranks))
    rows = []
    for method in sorted({r.method for r in ranks}):
        for view in VIEWS:
            chosen = [r for r in ranks if r.method == method and r.view == view]
            if not chosen:
                continue
            metrics = {retrieval: estimates[method].get((view, retrieval), {}) for retrieval in RETRIEVALS}
            mrr = {retrieval: metrics[retrieval].get("rr", Estimate(None, None, None, 0, 0))
                   for retrieval in RETRIEVALS}
            rows.append({"method": method, "view": view, "lm_mtes": len({r.target for r in chosen if not r.llm}),
                         "own_mrr": mrr["own-task"], "family_mrr": mrr["family"],
                         "llm_mtes": len({r.target for r in chosen if r.llm}), "llm_family_mrr": mrr["LLM family"],
                         "seeds": len({r.seed for r in chosen}), "undertrained": (undertrained or {}).get(method, 0),
                         "metrics": {k: v for k, v in metrics.items() if v}})
    return rows


def paired_rows(ranks: Sequence[SpaceRank]) -> list[dict]:
    """Every method against every FUTE method, per view, retrieval and metric (data_utils/comparisons.py)."""
    found = samples(ranks)
    fute = [m for m in sorted(found) if m in METHODS_BY_ID and METHODS_BY_ID[m].fute]
    return comparisons.paired_rows(found, fute, CELL_COLUMNS)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, Estimate):
        return value.cell(digits=3)
    if isinstance(value, bool):
        return "yes" if value else ""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


SUMMARY_COLUMNS = ("method", "view", "lm_mtes", "own_mrr", "family_mrr", "llm_mtes", "llm_family_mrr", "seeds",
                   "undertrained")
MRR_COLUMNS = ("own_mrr", "family_mrr", "llm_family_mrr")
RANK_COLUMNS = ("method", "view", "seed", "mte", "family", "own_rank", "family_rank", "nearest", "undertrained", "leak")
FLAG_COLUMNS = ("method", "kind", "embedding", "reasons", "path")


def summary_markdown(rows: Sequence[dict]) -> str:
    """Per method and view; each MRR the mean over MTEs and seeds ± half the width of its 95% interval."""
    header = ("| Method | View | LM MTEs | own-task MRR | family MRR | LLM MTEs | LLM family MRR | seeds "
              "| under-trained |\n|---|---|---|---|---|---|---|---|---|\n")
    return header + "".join("| " + " | ".join(_cell(row[c]) for c in SUMMARY_COLUMNS) + " |\n" for row in rows)


def summary_csv(rows: Sequence[dict]) -> str:
    """SUMMARY_COLUMNS, each MRR as Estimate.columns: its mean, 95% interval, targets (MTEs) and seeds."""
    columns = [c for column in SUMMARY_COLUMNS
               for c in (Estimate.columns(column) if column in MRR_COLUMNS else (column,))]
    flat = [{**row, **{k: v for c in MRR_COLUMNS for k, v in row[c].flat(c).items()}} for row in rows]
    return comparisons.long_csv(columns, flat)


def ranking_markdown(rows: Sequence[dict]) -> str:
    """Every method, view and retrieval's ranking metrics (data_utils/ranking.py)."""
    table = {}
    for row in rows:
        for retrieval, metrics in row["metrics"].items():
            table.setdefault(row["method"], {})[row["view"], retrieval] = metrics
    return comparisons.ranking_markdown(table, sorted(table), str, CELL_COLUMNS)


def summary_json(rows: Sequence[dict]) -> list[dict]:
    return [{**{k: v.to_json() if isinstance(v, Estimate) else v for k, v in row.items() if k != "metrics"},
             "metrics": {retrieval: {m: e.to_json() for m, e in metrics.items()}
                         for retrieval, metrics in row["metrics"].items()}} for row in rows]


def ranks_markdown(ranks: Sequence[SpaceRank]) -> str:
    header = ("| Method | View | seed | MTE | Family | own rank | family rank | nearest DTE | under-trained MTE "
              "| x' leak |\n|---|---|---|---|---|---|---|---|---|---|\n")
    return header + "".join("| " + " | ".join(_cell(asdict(r)[c]) for c in RANK_COLUMNS) + " |\n" for r in ranks)


def similarity_matrix(mtes: Sequence[Embedding], dtes: Sequence[Embedding], e0: np.ndarray | None) -> np.ndarray:
    """[MTEs, DTEs] cosines, of displacements when `e0` is given."""
    columns = displaced(dtes, e0)
    return np.array([[cosine(row, column) for column in columns] for row in displaced(mtes, e0)])


def flagged(embeddings: Sequence[Embedding], labels: Sequence[str] | None = None) -> list[dict]:
    """One row (FLAG_COLUMNS) per embedding its run flagged as under-trained, named by `labels` (default: as
    tables name them), with the reasons."""
    labels = labels or [e.info.label for e in embeddings]
    return [{"method": e.method, "kind": e.kind, "embedding": label, "reasons": "; ".join(e.undertrained),
             "path": str(e.path)} for e, label in zip(embeddings, labels) if e.undertrained]


def flagged_markdown(rows: Sequence[dict]) -> str:
    """The under-trained embeddings as a Markdown section ("" when there are none)."""
    if not rows:
        return ""
    return ("\n## Under-trained embeddings\n\nTheir runs flagged them (task_emb/undertraining.py): their cosines say "
            "little about their task.\n\n| Method | Kind | Embedding | Why | File |\n|---|---|---|---|---|\n"
            + "".join("| " + " | ".join(row[c].replace("|", "\\|") for c in FLAG_COLUMNS) + " |\n" for row in rows))


def warn_flagged(rows: Sequence[dict]) -> None:
    if rows:
        logger.warning("%d embedding(s) flagged as under-trained by their runs, listed in the table: %s", len(rows),
                       ", ".join(f"{row['embedding']} ({row['method']} {row['kind']})" for row in rows))


@dataclass
class SpaceTable:
    """Ranks of every MTE (per method, view and seed), their summary, the paired comparisons with the FUTE methods,
    per method (and seed, when several) the [MTEs, DTEs] cosines, and the embeddings flagged as under-trained."""

    ranks: list[SpaceRank]
    summary: list[dict]
    matrices: dict[str, tuple[np.ndarray, list[str], list[str], str]]  # method -> (matrix, rows, columns, view)
    undertrained: list[dict]
    notes: list[str] = field(default_factory=list)  # datasets of one name told apart (TaskLabels), embeddings left out
    paired: list[dict] = field(default_factory=list)
    leaks: list[leaks.Leak] = field(default_factory=list)  # per method, seed and MTE: x' shared with a DTE's dataset
    controls: list[dict] = field(default_factory=list)  # per method and view: random MRRs, DTE-only control

    def summary_markdown(self) -> str:
        return summary_markdown(self.summary)

    def markdown(self) -> str:
        warnings = "".join(f"Warning: {note}.\n\n" for note in self.notes)
        return ("# Unified space\n\n" + warnings + "Each MRR: the mean reciprocal rank over MTEs (each the mean over "
                "its seeds) ± half the width of its 95% bootstrap interval (bounds in the CSV and JSON; "
                "docs/statistics.md).\n\n" + summary_markdown(self.summary) + space_controls.markdown(self.controls)
                + "\n## Ranking metrics\n\nEach MTE ranks its method's DTEs; relevant are its own task's DTE "
                "(own-task) or its family's (family): regret@k (percent; 100 when no relevant DTE is in the top k), "
                "hit@k and NDCG@k (percent), Spearman's ρ_s and weighted Kendall τ_w of cosine against relevance; "
                "k of 1, 3, 5 where there are more than k DTEs.\n\n" + ranking_markdown(self.summary) + "\n"
                + comparisons.paired_markdown(self.paired, str, CELL_COLUMNS, MRR_SHOWN) + "\n## Per MTE\n\n"
                + ranks_markdown(self.ranks) + leaks.markdown(self.leaks) + flagged_markdown(self.undertrained))

    def csv(self) -> str:
        return summary_csv(self.summary)

    def ranks_csv(self) -> str:
        return comparisons.long_csv(RANK_COLUMNS, [asdict(r) for r in self.ranks])

    def extra_files(self) -> dict[str, str]:
        return {"_paired.csv": comparisons.paired_csv(self.paired, CELL_COLUMNS),
                "_controls.csv": space_controls.csv(self.controls)}

    def to_json(self) -> dict:
        return {"summary": summary_json(self.summary), "paired": self.paired, "ranks": [asdict(r) for r in self.ranks],
                "undertrained": self.undertrained, "notes": self.notes, "leaks": leaks.rows(self.leaks),
                "controls": space_controls.to_json(self.controls)}


def build_space_table(embeddings: Sequence[Embedding], methods: Sequence[str] | None, where: str,
                      displacement: bool, surrogate: str | None = None, dte_tasks: Sequence[str] | None = None,
                      mte_labels: Sequence[str] | None = None) -> SpaceTable:
    """Own-task and family ranks of every MTE among its method's DTEs of its seed, raw and (with `displacement`, for
    methods with a shared initialisation) as displacements from that seed's e0 (rebuilt from the surrogate the
    records name, or from `surrogate`, a copy of it); `dte_tasks` and `mte_labels` narrow the choice as `select`'s
    `dtes` and `mtes` do. Every seed must hold the same MTEs and DTEs (`check_seeds_alike`)."""
    ranks, matrices, undertrained, shared, neighbours = [], {}, [], [], []
    by_seed = group_by_seed(embeddings, lambda e: e.info.seed)
    chosen_of = {seed: select(of_seed, methods, f"{where} (seed {seed})" if len(by_seed) > 1 else where, dte_tasks,
                              mte_labels) for seed, of_seed in by_seed.items()}
    labels = TaskLabels.of_embeddings([e for chosen in chosen_of.values() for mtes, dtes in chosen.values()
                                       for e in (*mtes, *dtes)])
    check_seeds_alike(chosen_of, labels)
    # A baseline method (TuPaTE, TaskEmb, TextEmb) has DTEs only, by design; any other with one kind is named.
    asked = {e.method for e in embeddings if methods is None or e.method in methods}
    chosen_methods = {method for chosen in chosen_of.values() for method in chosen}
    for method in sorted(m for m in asked - chosen_methods if m not in METHODS_BY_ID or METHODS_BY_ID[m].fute):
        kinds = sorted({e.kind for e in embeddings if e.method == method})
        note = (f"{method} is left out: {where} holds its {' and '.join(kinds)}s only, and the unified space needs "
                f"both DTEs and MTEs of a method")
        logger.warning(note)
        labels.notes.append(note)
    for seed, chosen in chosen_of.items():
        for method, (mtes, dtes) in chosen.items():
            e0 = initial_embedding_of([*mtes, *dtes], method, surrogate) if displacement else None
            found = [replace(leak, seed=seed) for leak in leaks.find(method, mtes, dtes, labels)]
            shared.extend(found)
            marks = {(labels.of(mte), family_of(mte)): leak.mark for mte, leak in zip(mtes, found)}
            ranks.extend(replace(rank, leak=marks[rank.mte, rank.family])
                         for rank in evaluate_method(method, mtes, dtes, e0, labels, seed))
            neighbours.extend(space_controls.dte_neighbours(method, dtes, [family_of(d) for d in dtes], e0, labels,
                                                            seed))
            view = "displacement from e0" if e0 is not None else "raw"
            key = method if len(chosen_of) == 1 else f"{method}_seed{seed}"
            matrices[key] = (similarity_matrix(mtes, dtes, e0), [labels.of(m) for m in mtes],
                             [labels.of(d) for d in dtes], view)
            undertrained.extend(flagged([*mtes, *dtes], [labels.of(e) for e in (*mtes, *dtes)]))
    warn_flagged(undertrained)
    counts = {method: sum(row["method"] == method for row in undertrained) for method in chosen_methods}
    return SpaceTable(ranks, summarise(ranks, counts), matrices, undertrained, labels.notes, paired_rows(ranks),
                      shared, space_controls.rows(ranks, neighbours))
