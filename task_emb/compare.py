"""Cosine similarities between any chosen task embeddings, as numbers (run_eval.py compare).

For n embeddings of one dimension (files, or a selection of a folder as `run_eval.py plot` makes
it), the [n, n] cosines of the embeddings as they are ("raw") and, where they share an
initialisation e0 (prefix embeddings of one surrogate and seed: task_emb/displacement.py), of
their displacements e - e0, what training added. Every cosine is data_utils.similarity's.
Embeddings their runs flagged as under-trained (task_emb/undertraining.py) are marked; two datasets of
one name made from different data are told apart in the labels, with a warning
(data_utils/artifacts/data_identity.py).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from configs.methods import FAMILIES
from data_utils.artifacts.data_identity import TaskLabels
from data_utils.artifacts.embeddings import Embedding, check_same_dim, record_task
from data_utils.errors import FuteError
from data_utils.similarity import cosine_matrix
from task_emb.displacement import NO_DISPLACEMENT, displaced, initial_embedding_of
from task_emb.plots import embedding_labels
from data_utils.comparisons import long_csv
from task_emb.space_eval import flagged, flagged_markdown, warn_flagged

PAIR_COLUMNS = ("a", "b", "raw_cosine", "displacement_cosine", "a_undertrained", "b_undertrained")
DECIMALS = 4  # in the Markdown; CSV and JSON hold every digit


@dataclass
class Comparison:
    """The embeddings compared, their labels, the [n, n] raw cosines and, with a shared e0, the [n, n] cosines of
    their displacements (else None, and `no_displacement` says why)."""

    embeddings: list[Embedding]
    labels: list[str]
    raw: np.ndarray
    displacement: np.ndarray | None
    no_displacement: str = ""
    notes: list[str] = field(default_factory=list)  # datasets of one name told apart (TaskLabels), embeddings left out

    def pairs(self) -> list[dict]:
        """One row per pair (i < j): labels, both cosines, and whether each embedding is flagged as under-trained."""
        n = len(self.labels)
        return [{"a": self.labels[i], "b": self.labels[j], "raw_cosine": float(self.raw[i, j]),
                 "displacement_cosine": None if self.displacement is None else float(self.displacement[i, j]),
                 "a_undertrained": bool(self.embeddings[i].undertrained),
                 "b_undertrained": bool(self.embeddings[j].undertrained)}
                for i in range(n) for j in range(i + 1, n)]

    def summary_markdown(self) -> str:
        """The matrices, for the log."""
        text = "Cosine similarity (raw)\n\n" + _matrix_markdown(self.raw, self.labels)
        if self.displacement is not None:
            text += "\nCosine similarity of the displacements e - e0\n\n" + _matrix_markdown(self.displacement,
                                                                                             self.labels)
        return text

    def markdown(self) -> str:
        rows = "".join(f"| {label} | {e.method} | {e.kind} | {'yes' if e.undertrained else ''} | {e.path} |\n"
                       for label, e in zip(self.labels, self.embeddings))
        text = ("# Cosine similarity of task embeddings\n\n" + "".join(f"Warning: {note}.\n\n" for note in self.notes)
                + "| Embedding | Method | Kind | under-trained | File |\n"
                "|---|---|---|---|---|\n" + rows + "\n## Raw\n\n" + _matrix_markdown(self.raw, self.labels))
        if self.displacement is not None:
            text += ("\n## Displacements from the shared initialisation e0 (cosine of e - e0)\n\n"
                     + _matrix_markdown(self.displacement, self.labels))
        else:
            text += f"\nNo displacement view: {self.no_displacement}.\n"
        return text + flagged_markdown(flagged(self.embeddings, self.labels))

    def csv(self) -> str:
        return long_csv(PAIR_COLUMNS, self.pairs())

    def extra_files(self) -> dict[str, str]:
        return {}  # cosines of chosen embeddings: no targets, so nothing to compare

    def to_json(self) -> dict:
        return {"embeddings": [{"label": label, "path": str(e.path), "method": e.method, "kind": e.kind,
                                "task": record_task(e.info), "model": e.info.model, "surrogate": e.info.surrogate,
                                "undertrained": e.undertrained} for label, e in zip(self.labels, self.embeddings)],
                "raw": self.raw.tolist(),
                "displacement": None if self.displacement is None else self.displacement.tolist(),
                "no_displacement": self.no_displacement or None, "pairs": self.pairs(), "notes": self.notes}


def _matrix_markdown(matrix: np.ndarray, labels: Sequence[str]) -> str:
    header = "| | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels) + "\n"
    return header + "".join(f"| {label} | " + " | ".join(f"{value:.{DECIMALS}f}" for value in row) + " |\n"
                            for label, row in zip(labels, matrix))


def compare(embeddings: Sequence[Embedding], displacement: bool = True, surrogate: str | None = None) -> Comparison:
    """Raw cosines of `embeddings` (at least 2, one dimension) and, with `displacement` and a shared e0 (rebuilt
    from the surrogate the records name, or `surrogate`, a copy of it), the cosines of their displacements."""
    embeddings = list(embeddings)
    if len(embeddings) < 2:
        raise FuteError(f"{len(embeddings)} embedding(s) chosen; a comparison needs at least 2")
    check_same_dim(embeddings, "the compared embeddings")
    tasks = TaskLabels.of_embeddings(embeddings)
    labels = embedding_labels(embeddings, tasks)
    raw = cosine_matrix([e.vector() for e in embeddings])
    e0 = initial_embedding_of(embeddings, "compared", surrogate) if displacement else None
    moved = None if e0 is None else cosine_matrix(displaced(embeddings, e0))
    families = ", ".join(sorted({str(e.info.family) for e in embeddings}))
    shared = ", ".join(family.name for family in FAMILIES if family.shared_init)
    why = (f"{NO_DISPLACEMENT} was given" if not displacement else
           f"only {shared} embeddings start from a shared initialisation, these are {families}")
    warn_flagged(flagged(embeddings, labels))
    return Comparison(embeddings, labels, raw, moved, "" if moved is not None else why, tasks.notes)
