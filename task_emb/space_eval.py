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

Embeddings whose runs flagged them as under-trained (task_emb/undertraining.py) are counted
per method, marked in the per-MTE ranks and listed with their reasons: their cosines say
little about their task.

An MTE whose x' share a source or text with a DTE's dataset is marked "†" (not known: "?"), and what it shares
is listed under the ranks (task_emb/leaks.py): its place near that DTE may come from the shared text.
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from configs.datasets import GENRE_FAMILY
from configs.methods import METHODS_BY_ID
from data_utils.artifacts.data_identity import TaskLabels, dataset_of
from data_utils.artifacts.embeddings import Embedding, check_same_dim, natural_key
from data_utils.errors import FuteError
from data_utils.similarity import cosine
from task_emb import leaks
from task_emb.displacement import displaced, initial_embedding_of

logger = logging.getLogger(__name__)

VIEWS = ("raw", "displacement")


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
    leak: str = ""  # its x' share a source or text with a DTE's dataset: "†"; not known: "?" (task_emb/leaks.py)


def select(embeddings: Sequence[Embedding], methods: Sequence[str] | None, where: str,
           dtes: Sequence[str] | None = None, mtes: Sequence[str] | None = None
           ) -> dict[str, tuple[list[Embedding], list[Embedding]]]:
    """method -> (its MTEs, its DTEs) in natural order of their labels (p2 before p10), for every method
    (of `methods`) that has both kinds; only the DTEs `dtes` and the MTEs `mtes` name when given (a sweep names
    what it declared, so the table never depends on what else the folder holds). Both name embeddings as
    `TaskLabels.named` reads them: a dataset's name (every dataset of that name), "<name>@<digest>" as a
    table labels one of two datasets of one name, a declaration file, or an LLM + prompt ("<llm>:p<k>").

    Raises FuteError naming a method, DTE or MTE that was asked for and is not in `where`."""
    chosen = {}
    for method in sorted({e.method for e in embeddings}):
        own = [e for e in embeddings if e.method == method and (methods is None or method in methods)]
        labels = TaskLabels.of_embeddings(own, warn=False)  # the table built from those chosen warns
        rows, absent_mtes = _named(own, "MTE", mtes, labels)
        columns, absent_dtes = _named(own, "DTE", dtes, labels)
        if not (rows and columns):
            continue
        absent = [f"MTE {m}" for m in absent_mtes] + [f"DTE {d}" for d in absent_dtes]
        if absent:
            raise FuteError(f"{', '.join(absent)} of method {method} not in {where}; run the steps that make "
                            f"them, or leave them out of --mtes/--dtes")
        check_same_dim([*rows, *columns], f"method {method}")
        chosen[method] = (sorted(rows, key=lambda e: natural_key(labels.of(e))),
                          sorted(columns, key=lambda e: natural_key(labels.of(e))))
    missing = sorted(set(methods or ()) - set(chosen))
    if missing or not chosen:
        raise FuteError(f"no DTEs and MTEs of method(s) {', '.join(missing) or 'any'} in {where}; the unified space "
                        f"needs both kinds of one method")
    return chosen


def _named(embeddings: Sequence[Embedding], kind: str, asked: Sequence[str] | None, labels: TaskLabels
           ) -> tuple[list[Embedding], list[str]]:
    """(the embeddings of `kind` that `asked` names, all when None; the names in `asked` that name none)."""
    found = [e for e in embeddings if e.kind == kind]
    if asked is None:
        return found, []
    shown = {labels.of(e) for e in found}
    wanted = {name: set(labels.named([name])) & shown for name in asked}
    picked = set().union(*wanted.values())
    return [e for e in found if labels.of(e) in picked], [name for name, hits in wanted.items() if not hits]


def rank_dtes(mte: np.ndarray, dtes: Mapping[str, np.ndarray]) -> list[str]:
    """DTE task names, nearest first by cosine with `mte`; equal cosines in name order."""
    similarity = {task: cosine(mte, vector) for task, vector in dtes.items()}
    return sorted(similarity, key=lambda task: (-similarity[task], task))


def family_of(embedding: Embedding) -> str | None:
    """The task family of an embedding: its dataset's family, or for an LLM + prompt MTE its genre's."""
    identity = dataset_of(embedding)
    return GENRE_FAMILY.get(embedding.task) if identity is None else identity.family


def evaluate_method(method: str, mtes: Sequence[Embedding], dtes: Sequence[Embedding],
                    e0: np.ndarray | None, labels: TaskLabels | None = None) -> list[SpaceRank]:
    """A SpaceRank per MTE and view; the displacement view only with `e0`. Tasks are named by `labels` (by
    default those of these embeddings)."""
    labels = labels or TaskLabels.of_embeddings([*mtes, *dtes])
    views = {"raw": None, **({"displacement": e0} if e0 is not None else {})}
    families = {labels.of(d): family_of(d) for d in dtes}
    ranks = []
    for view, shift in views.items():
        dte_vectors = dict(zip(map(labels.of, dtes), displaced(dtes, shift)))
        for mte, vector in zip(mtes, displaced(mtes, shift)):
            order = rank_dtes(vector, dte_vectors)
            task, family = labels.of(mte), family_of(mte)
            own = order.index(task) + 1 if task in order and not mte.info.llm else None
            in_family = [i + 1 for i, dte in enumerate(order) if family is not None and families[dte] == family]
            ranks.append(SpaceRank(method, task, view, mte.info.llm, family, own,
                                   in_family[0] if in_family else None, order[0], bool(mte.undertrained)))
    return ranks


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float | None:
    found = [1.0 / rank for rank in ranks if rank is not None]
    return float(np.mean(found)) if found else None


def summarise(ranks: Sequence[SpaceRank], undertrained: Mapping[str, int] | None = None) -> list[dict]:
    """Per method and view: counts and MRRs of LM MTEs (own task, family) and LLM MTEs (family), and the number of
    the method's embeddings (MTEs and DTEs) flagged as under-trained (`undertrained`, by method)."""
    rows = []
    for method in sorted({r.method for r in ranks}):
        for view in VIEWS:
            chosen = [r for r in ranks if r.method == method and r.view == view]
            if not chosen:
                continue
            lm = [r for r in chosen if not r.llm]
            llm = [r for r in chosen if r.llm]
            rows.append({"method": method, "view": view, "lm_mtes": len(lm),
                         "own_mrr": mean_reciprocal_rank([r.own_rank for r in lm]),
                         "family_mrr": mean_reciprocal_rank([r.family_rank for r in lm]),
                         "llm_mtes": len(llm),
                         "llm_family_mrr": mean_reciprocal_rank([r.family_rank for r in llm]),
                         "undertrained": (undertrained or {}).get(method, 0)})
    return rows


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


SUMMARY_COLUMNS = ("method", "view", "lm_mtes", "own_mrr", "family_mrr", "llm_mtes", "llm_family_mrr",
                   "undertrained")
RANK_COLUMNS = ("method", "view", "mte", "family", "own_rank", "family_rank", "nearest", "undertrained", "leak")
FLAG_COLUMNS = ("method", "kind", "embedding", "reasons", "path")


def summary_markdown(rows: Sequence[dict]) -> str:
    header = ("| Method | View | LM MTEs | own-task MRR | family MRR | LLM MTEs | LLM family MRR | under-trained |\n"
              "|---|---|---|---|---|---|---|---|\n")
    return header + "".join("| " + " | ".join(_cell(row[c]) for c in SUMMARY_COLUMNS) + " |\n" for row in rows)


def as_csv(columns: Sequence[str], rows: Sequence[Mapping]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def ranks_markdown(ranks: Sequence[SpaceRank]) -> str:
    header = ("| Method | View | MTE | Family | own rank | family rank | nearest DTE | under-trained MTE | x' leak |\n"
              "|---|---|---|---|---|---|---|---|---|\n")
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
    """Ranks of every MTE (per method and view), their summary, per method the [MTEs, DTEs] cosines, and the
    embeddings flagged as under-trained."""

    ranks: list[SpaceRank]
    summary: list[dict]
    matrices: dict[str, tuple[np.ndarray, list[str], list[str], str]]  # method -> (matrix, rows, columns, view)
    undertrained: list[dict]
    notes: list[str] = field(default_factory=list)  # datasets of one name told apart (TaskLabels), embeddings left out
    leaks: list[leaks.Leak] = field(default_factory=list)  # per method and MTE: x' shared with a DTE's dataset

    def summary_markdown(self) -> str:
        return summary_markdown(self.summary)

    def markdown(self) -> str:
        warnings = "".join(f"Warning: {note}.\n\n" for note in self.notes)
        return ("# Unified space\n\n" + warnings + summary_markdown(self.summary) + "\n## Per MTE\n\n"
                + ranks_markdown(self.ranks) + leaks.markdown(self.leaks) + flagged_markdown(self.undertrained))

    def csv(self) -> str:
        return as_csv(SUMMARY_COLUMNS, self.summary)

    def ranks_csv(self) -> str:
        return as_csv(RANK_COLUMNS, [asdict(r) for r in self.ranks])

    def to_json(self) -> dict:
        return {"summary": self.summary, "ranks": [asdict(r) for r in self.ranks], "undertrained": self.undertrained,
                "notes": self.notes, "leaks": leaks.rows(self.leaks)}


def build_space_table(embeddings: Sequence[Embedding], methods: Sequence[str] | None, where: str,
                      displacement: bool, surrogate: str | None = None, dte_tasks: Sequence[str] | None = None,
                      mte_labels: Sequence[str] | None = None) -> SpaceTable:
    """Own-task and family ranks of every MTE among its method's DTEs, raw and (with `displacement`, for
    methods with a shared initialisation) as displacements from e0 (rebuilt from the surrogate the records
    name, or from `surrogate`, a copy of it); `dte_tasks` and `mte_labels` narrow the choice as `select`'s
    `dtes` and `mtes` do."""
    ranks, matrices, undertrained, shared = [], {}, [], []
    chosen = select(embeddings, methods, where, dte_tasks, mte_labels)
    labels = TaskLabels.of_embeddings([e for mtes, dtes in chosen.values() for e in (*mtes, *dtes)])
    # A baseline method (TuPaTE, TaskEmb, TextEmb) has DTEs only, by design; any other with one kind is named.
    asked = {e.method for e in embeddings if methods is None or e.method in methods}
    for method in sorted(m for m in asked - set(chosen) if m not in METHODS_BY_ID or METHODS_BY_ID[m].fute):
        kinds = sorted({e.kind for e in embeddings if e.method == method})
        note = (f"{method} is left out: {where} holds its {' and '.join(kinds)}s only, and the unified space needs "
                f"both DTEs and MTEs of a method")
        logger.warning(note)
        labels.notes.append(note)
    for method, (mtes, dtes) in chosen.items():
        e0 = initial_embedding_of([*mtes, *dtes], method, surrogate) if displacement else None
        shared.extend(leaks.find(method, mtes, dtes, labels))
        marks = {leak.mte: leak.mark for leak in shared if leak.method == method}
        ranks.extend(replace(rank, leak=marks[rank.mte]) for rank in evaluate_method(method, mtes, dtes, e0, labels))
        view = "displacement from e0" if e0 is not None else "raw"
        matrices[method] = (similarity_matrix(mtes, dtes, e0), [labels.of(m) for m in mtes],
                            [labels.of(d) for d in dtes], view)
        undertrained.extend(flagged([*mtes, *dtes], [labels.of(e) for e in (*mtes, *dtes)]))
    warn_flagged(undertrained)
    counts = {method: sum(row["method"] == method for row in undertrained) for method in matrices}
    return SpaceTable(ranks, summarise(ranks, counts), matrices, undertrained, labels.notes, shared)
