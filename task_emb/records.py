"""Reading what earlier steps wrote: task embeddings with their records, and fine-tuning scores.

Embeddings: `<name>.npy` (1-D float array) + `<name>.record.json` beside it, whose
"embedding" entry says {"task", "kind": "DTE"|"MTE", "method", "dim"}.
Fine-tuning scores: `<score>.json` (metrics + "best") + `<score>.record.json`, whose
config names "to_train_dataset" (the target), "source_dataset" (the dataset of the
--load_path checkpoint, null for a plain fine-tune) and "num_train_examples".

Vectors are memory-mapped, not read: a t5-base FIM has ~2e8 floats.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from configs.datasets import DATASETS
from data_utils.errors import FuteError
from data_utils.io import read_json
from task_emb.transfer_eval import cosine_from_parts, dot, source_kind, squared_norm

logger = logging.getLogger(__name__)

RECORD_SUFFIX = ".record.json"
KINDS = ("DTE", "MTE")


@dataclass(frozen=True)
class Embedding:
    """One task embedding on disk. task: the dataset it describes (or e.g. "llama-13b:p3" for an LLM MTE)."""

    path: Path
    task: str
    kind: str
    method: str
    dim: int
    config: dict = field(default_factory=dict, compare=False, repr=False)

    def vector(self) -> np.ndarray:
        """The [dim] vector, memory-mapped read-only."""
        return np.load(self.path, mmap_mode="r")


@dataclass(frozen=True)
class FinetuneRun:
    """One fine-tuning run: its best dev score on `target`, after `source` (None: a plain fine-tune)."""

    path: Path
    target: str
    source: str | None
    best: float
    num_train_examples: int | None


def _record_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(path.suffix)] + RECORD_SUFFIX)


def _require_folder(folder: str | Path, flag: str) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise FuteError(f"{flag} {folder} is not a folder; pass the folder the earlier step wrote to")
    return folder


# ---------------------------------------------------------------- embeddings


def natural_key(text: str) -> tuple:
    """A sort key that orders the numbers inside a text by value: "p2" before "p10"."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part)


def load_embeddings(folder: str | Path, flag: str = "--emb_dir") -> list[Embedding]:
    """Every `*.npy` under `folder` (recursively), each with its record, in natural path order (p2 before
    p10, so tables and plots list prompts in order); none at all is an error."""
    folder = _require_folder(folder, flag)
    embeddings = [_read_embedding(path) for path in sorted(folder.rglob("*.npy"), key=lambda p: natural_key(str(p)))]
    if not embeddings:
        raise FuteError(f"no embeddings (*.npy with a .record.json beside) under {folder}; check {flag}")
    return embeddings


def _read_embedding(path: Path) -> Embedding:
    record_path = _record_path(path)
    if not record_path.is_file():
        raise FuteError(f"{path} has no record {record_path.name} beside it; re-run run_task_emb.py for it "
                        f"or move it out of the folder")
    record = read_json(record_path)
    info = record.get("embedding") if isinstance(record, dict) else None
    if not isinstance(info, dict) or not {"task", "kind", "method"} <= info.keys():
        raise FuteError(f"{record_path}: no 'embedding' entry with task, kind and method; it is not an embedding "
                        f"record")
    if info["kind"] not in KINDS:
        raise FuteError(f"{record_path}: embedding kind {info['kind']!r} is not one of {', '.join(KINDS)}")
    try:
        vector = np.load(path, mmap_mode="r")
    except ValueError as err:
        raise FuteError(f"{path}: not a readable .npy file ({err})") from None
    if vector.ndim != 1 or not np.issubdtype(vector.dtype, np.floating):
        raise FuteError(f"{path}: expected a 1-D float array, got shape {vector.shape} dtype {vector.dtype}")
    if info.get("dim") is not None and int(info["dim"]) != vector.shape[0]:
        raise FuteError(f"{path}: holds {vector.shape[0]} values but its record says dim {info['dim']}; "
                        f"the pair is out of sync, re-run run_task_emb.py")
    return Embedding(path=path, task=str(info["task"]), kind=info["kind"], method=str(info["method"]),
                     dim=int(vector.shape[0]), config=record.get("config") or {})


def find_embedding(embeddings: Iterable[Embedding], method: str, kind: str, task: str, folder: str | Path,
                   methods_flag: str = "--methods") -> Embedding:
    """The one embedding of (method, kind, task); missing or ambiguous is an error naming all three."""
    found = [e for e in embeddings if (e.method, e.kind, e.task) == (method, kind, task)]
    return the_only(found,
                    missing=f"missing embedding: no {kind} of method {method} for task {task} in {folder}; compute "
                            f"it with run_task_emb.py, leave {task} out of --tasks or {method} out of {methods_flag}",
                    what=f"{kind} embeddings of method {method} for task {task}",
                    advice="keep one (e.g. put other models' embeddings in another folder)")


def the_only(found: Sequence[Embedding], missing: str, what: str, advice: str = "keep one") -> Embedding:
    """found[0] when it is the only one; none is FuteError(missing), several name their paths."""
    if not found:
        raise FuteError(missing)
    if len(found) > 1:
        raise FuteError(f"{len(found)} {what}: {', '.join(str(e.path) for e in found)}; {advice}")
    return found[0]


def check_same_dim(embeddings: Sequence[Embedding], what: str) -> None:
    """Embeddings compared with each other must have one length (one surrogate, one method)."""
    dims = sorted({e.dim for e in embeddings})
    if len(dims) > 1:
        examples = ", ".join(f"{e.path.name}={e.dim}" for e in embeddings[:6])
        raise FuteError(f"{what}: embeddings of different dimensions {dims} ({examples}); they come from different "
                        f"surrogates or settings, keep one kind per method")


class CosineCache:
    """Cosine similarities of embeddings, each embedding's norm computed once (per path).

    A FIM vector has ~2e8 floats; with the norms cached, a pair costs one pass (the dot product)
    instead of three. The numbers are exactly those of transfer_eval.cosine.
    """

    def __init__(self) -> None:
        self._squared_norms: dict[Path, float] = {}

    def squared_norm(self, embedding: Embedding) -> float:
        if embedding.path not in self._squared_norms:
            self._squared_norms[embedding.path] = squared_norm(embedding.vector())
        return self._squared_norms[embedding.path]

    def cosine(self, a: Embedding, b: Embedding) -> float:
        return cosine_from_parts(dot(a.vector(), b.vector()), self.squared_norm(a), self.squared_norm(b))


def similarity_table(embeddings: Sequence[Embedding], method: str, pairs: dict[str, Sequence[str]],
                     folder: str | Path) -> dict[str, dict[str, float]]:
    """predicted[t][s] = cosine(source embedding of s, DTE of t) for every target t and its sources s.

    The source embedding is the MTE for FUTE methods ("*-fute") and the DTE otherwise.
    """
    kind = source_kind(method)
    targets = {t: find_embedding(embeddings, method, "DTE", t, folder) for t in pairs}
    sources = {s: find_embedding(embeddings, method, kind, s, folder) for srcs in pairs.values() for s in srcs}
    check_same_dim([*targets.values(), *sources.values()], f"method {method}")
    cache = CosineCache()
    return {t: {s: cache.cosine(sources[s], targets[t]) for s in srcs} for t, srcs in pairs.items()}


# ---------------------------------------------------------------- fine-tuning scores


def load_finetune_runs(folder: str | Path, flag: str = "--score_dir") -> list[FinetuneRun]:
    """Every `<score>.json` under `folder` that has a `<score>.record.json` naming its dataset.

    JSON files without such a record (checkpoint configs), embedding records and records with no score
    file beside them are not scores and are skipped.
    """
    folder = _require_folder(folder, flag)
    runs = []
    for record_path in sorted(folder.rglob("*" + RECORD_SUFFIX)):
        record = read_json(record_path)
        config = record.get("config") if isinstance(record, dict) else None
        if not isinstance(config, dict) or "to_train_dataset" not in config or "embedding" in record:
            continue
        score_path = record_path.with_name(record_path.name[: -len(RECORD_SUFFIX)] + ".json")
        if not score_path.is_file():  # e.g. the record of an x' JSONL written by run_task_emb.py
            logger.debug("%s has no score file beside it; skipped", record_path)
            continue
        scores = read_json(score_path)
        if not isinstance(scores, dict) or "best" not in scores:
            raise FuteError(f"{score_path}: no 'best' score; it was not written by run_cr_train.py/run_qa_train.py")
        best = scores["best"]
        if isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best):
            raise FuteError(f"{score_path}: 'best' is {best!r}, not a finite number; the run failed or the file was "
                            f"edited: re-run it or move it out of {flag}")
        if config.get("source_dataset") is None and config.get("load_path"):
            logger.warning("%s: continued from %s of unknown dataset; not used", score_path, config["load_path"])
            continue
        runs.append(FinetuneRun(path=score_path, target=str(config["to_train_dataset"]),
                                source=config.get("source_dataset"), best=float(best),
                                num_train_examples=config.get("num_train_examples")))
    if not runs:
        raise FuteError(f"no fine-tuning scores (<name>.json + <name>.record.json) under {folder}; check {flag}")
    return runs


def transfer_scores(runs: Iterable[FinetuneRun]) -> dict[str, dict[str, float]]:
    """truth[t][s] = best dev score on t after fine-tuning on s then t; one run per (s, t)."""
    truth: dict[str, dict[str, float]] = {}
    paths: dict[tuple[str, str], Path] = {}
    for run in runs:
        if run.source is None:
            continue
        key = (run.source, run.target)
        if key in paths:
            raise FuteError(f"two transfer runs {run.source} -> {run.target}: {paths[key]} and {run.path}; keep one")
        paths[key] = run.path
        truth.setdefault(run.target, {})[run.source] = run.best
    return truth


def train_sizes(runs: Iterable[FinetuneRun]) -> dict[str, int]:
    """Training-set size of each dataset, from its plain fine-tuning runs (DataSize baseline)."""
    sizes: dict[str, int] = {}
    for run in runs:
        if run.source is not None or run.num_train_examples is None:
            continue
        if sizes.get(run.target, run.num_train_examples) != run.num_train_examples:
            raise FuteError(f"plain fine-tuning runs of {run.target} disagree on the training-set size "
                            f"({sizes[run.target]} vs {run.num_train_examples} in {run.path}); keep one")
        sizes[run.target] = int(run.num_train_examples)
    return sizes


def task_class(task: str) -> str:
    """'cr' or 'qa', from configs/datasets.py."""
    if task not in DATASETS:
        raise FuteError(f"unknown dataset {task!r}: its class (cr/qa) is not in configs/datasets.py; add it there "
                        f"or leave it out of --tasks")
    return DATASETS[task].task
