"""Task embeddings on disk: `<name>.npy` (a 1-D float array) + `<name>.record.json` beside it.

The record is `data_utils.io.run_record` (command, config, versions) plus an "embedding"
entry, `EmbeddingInfo` as JSON: what the embedding is. Its `dataset` and `genre` are one key
there, "task" (the key's name since the first records, so that every record written still
reads): `record_task` writes the dataset, or an LLM + prompt MTE's genre, and `_info` reads it
back as one or the other by the entry's "llm". Records written before that entry was complete
({"task", "kind", "method", "dim", "dtype"}, an LLM MTE's task "<llm>:p<k>") are read from the
run's config, which has always held the rest (llm_mode, task_type, prompt_number,
lm_model_name, task_emb_model_lm_name, seed).

Vectors are memory-mapped, not read: a t5-base FIM has ~2e8 floats.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from configs.datasets import GENRES
from configs.methods import METHODS_BY_ID
from configs.models import llm_label
from data_utils.artifacts import seeds
from data_utils.artifacts.completion import begin, is_pending, rerun_hint
from data_utils.artifacts.paths import RECORD_SUFFIX, output_of_record, record_path
from data_utils.artifacts.model_ref import ModelRef, ref_from_json
from data_utils.errors import FuteError
from data_utils.io import atomic_open, read_json, require_folder, write_json
from data_utils.similarity import cosine_from_parts, dot, squared_norm

logger = logging.getLogger(__name__)

KINDS = ("DTE", "MTE")
# What an unfinished run leaves beside (or instead of) its `<name>.npy`: task_emb.trainer.resume_path_for's
# training state, data_utils.locks.lock_path's lock, and its pending record (completion.begin).
TRAINING_STATE_SUFFIX = ".training_state.pt"


@dataclass(frozen=True)
class EmbeddingInfo:
    """What one task embedding describes and how it was computed.

    method: the id in configs/methods.py (prefix-fute, fim-baseline, textemb, ...);
    family: prefix | fim | text; fute: computed under FUTE's schedule;
    kind: "DTE" (of a dataset) or "MTE" (of a model);
    dataset: the dataset (a DTE), or the dataset the model was fine-tuned on (an LM's MTE); None for an
        LLM + prompt MTE, whose `genre` is the task genre sa | nli (None otherwise);
    model: the model embedded (an MTE; None for a DTE or when the run did not name it); for an LLM, as
        the LLM scripts were given it (alias, hub id or path), which is how inference files name it;
    llm: an LLM + prompt MTE; prompt: its prompt number (0-12), else None;
    surrogate: the model T the embedding was learned on, as given; seed: the run's seed (a prefix's e0);
    dim: the number of values; dtype: their storage type;
    surrogate_ref: where T was read from (paths, hub commit, content hash: data_utils/artifacts/model_ref.py);
    model_ref: the same for the fine-tuned checkpoint an LM's MTE describes (None for DTEs and LLM MTEs);
    both None in records written before they existed.
    """

    method: str
    family: str | None
    fute: bool
    kind: str
    dataset: str | None
    genre: str | None
    model: str | None
    llm: bool
    prompt: int | None
    surrogate: str | None
    seed: int | None
    dim: int
    dtype: str = "float32"
    surrogate_ref: ModelRef | None = None
    model_ref: ModelRef | None = None

    def __post_init__(self) -> None:
        if (self.genre is not None, self.dataset is not None) != (self.llm, not self.llm):
            raise ValueError(f"{self}: an LLM + prompt MTE names a genre and no dataset, any other embedding a "
                             f"dataset and no genre")

    @property
    def label(self) -> str:
        """How tables and plots name it: the dataset, or "<llm>:p<k>" for an LLM + prompt MTE (configs.models.llm_label)."""
        if not self.llm:
            return self.dataset
        return llm_label(self.model or "llm", self.prompt)


@dataclass(frozen=True)
class Embedding:
    """One task embedding on disk: its path, what it is, and the config of the run that made it."""

    path: Path
    info: EmbeddingInfo
    config: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def method(self) -> str:
        return self.info.method

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def dataset(self) -> str | None:
        return self.info.dataset

    @property
    def genre(self) -> str | None:
        return self.info.genre

    @property
    def dim(self) -> int:
        return self.info.dim

    def vector(self) -> np.ndarray:
        """The [dim] vector, memory-mapped read-only."""
        return np.load(self.path, mmap_mode="r")

    @property
    def undertrained(self) -> list[str]:
        """Why its run flagged it as under-trained (task_emb/undertraining.py); empty when it did not. A record
        written before reasons were recorded gives its displacement from e0, then the only reason."""
        diagnostics = self.config.get("diagnostics") or {}
        if not diagnostics.get("undertrained"):
            return []
        return list(diagnostics.get("undertrained_reasons")
                    or [f"relative displacement from e0 {diagnostics.get('relative_displacement', float('nan')):.2f}"])


# ---------------------------------------------------------------- writer


def record_task(info: EmbeddingInfo) -> str:
    """The record's "task" (its key since the first records): the dataset, or an LLM + prompt MTE's genre."""
    return str(info.genre if info.llm else info.dataset)


def _entry(info: EmbeddingInfo) -> dict[str, Any]:
    """`info` as its record's "embedding" entry: dataset and genre written as one "task", where it always stood."""
    entry = {}
    for key, value in asdict(info).items():
        if key == "dataset":
            entry["task"] = record_task(info)
        elif key != "genre":
            entry[key] = value
    return entry


def write_embedding(path: str | Path, vector: np.ndarray, info: EmbeddingInfo, record: dict[str, Any]) -> None:
    """Save `vector` ([dim]) atomically, then its record (`record` + the "embedding" entry) beside it: the
    record is the embedding's completion marker (data_utils/artifacts/completion.py). A vector holding NaN
    or inf is a FuteError: its cosines would be NaN in every table."""
    if vector.ndim != 1 or vector.shape[0] != info.dim or str(vector.dtype) != info.dtype:
        raise ValueError(f"vector of shape {vector.shape} dtype {vector.dtype} does not match {info}")
    if not np.isfinite(vector).all():
        raise FuteError(f"{path}: the {info.method} embedding holds {np.count_nonzero(~np.isfinite(vector))} NaN or "
                        f"inf values (a diverged run); nothing is written")
    begin(path, record)
    with atomic_open(path, "wb") as handle:
        np.save(handle, vector)
    write_json(record_path(path), {**record, "embedding": _entry(info)})


# ---------------------------------------------------------------- reader


def natural_key(text: str) -> tuple:
    """A sort key that orders the numbers inside a text by value: "p2" before "p10"."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part)


class Embeddings(list):
    """The finished embeddings of a folder (a list of Embedding), and `skipped`: one line per embedding left out
    as unfinished, naming it and why, for the tables' notes (a table must not look complete when it is not)."""

    def __init__(self, embeddings: Iterable[Embedding] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(embeddings)
        self.skipped = list(skipped)


def load_embeddings(folders: str | Path, flag: str = "--emb_dir") -> Embeddings:
    """Every finished `*.npy` under `folders` (one folder, or several comma-separated: data_utils/artifacts/seeds.py),
    recursively, each with its record, in natural path order per folder (p2 before p10, so tables and plots list
    prompts in order). An unfinished one (`unfinished_embeddings`) is left out with a warning, and named in the
    result's `skipped`; none finished at all in a folder is an error."""
    found = [_load_folder(folder, flag) for folder in seeds.folders(str(folders), flag)]
    return Embeddings([e for part in found for e in part], [line for part in found for line in part.skipped])


def _load_folder(folder: str | Path, flag: str) -> Embeddings:
    folder = require_folder(folder, flag)
    unfinished = unfinished_embeddings(folder)
    for line in unfinished.values():
        logger.warning("%s", line)
    paths = sorted((p for p in folder.rglob("*.npy") if p not in unfinished), key=lambda p: natural_key(str(p)))
    embeddings = Embeddings(map(read_embedding, paths), unfinished.values())
    if not embeddings:
        skipped = f" ({len(unfinished)} unfinished: {'; '.join(unfinished.values())})" if unfinished else ""
        raise FuteError(f"no embeddings (*.npy with a .record.json beside) under {folder}{skipped}; check {flag}")
    return embeddings


def unfinished_embeddings(folder: Path) -> dict[Path, str]:
    """`<name>.npy` -> "<path> is left out: why it is not finished; what finishes it", for every embedding
    under `folder` that a run began and did not finish (killed, or still running): its record is pending, or
    it has none; or there is no .npy yet beside a training state, a lock or a pending record. A pending record
    of another output of run_task_emb.py (an LLM's x', `--generate_model_data_only`) is not an embedding's."""
    outputs: dict[Path, list[str]] = {}
    for path in folder.rglob("*"):
        name = path.name
        if name.endswith(TRAINING_STATE_SUFFIX):
            output = path.with_name(name[: -len(TRAINING_STATE_SUFFIX)] + ".npy")
        elif name.startswith(".") and name.endswith(".npy.lock"):
            output = path.with_name(name[1: -len(".lock")])
        elif name.endswith(RECORD_SUFFIX) or path.suffix == ".npy":
            output = output_of_record(path, ".npy") if path.suffix != ".npy" else path
        else:
            continue
        outputs.setdefault(output, []).append(name)
    found = {}
    for output, beside in sorted(outputs.items()):
        why = _why_unfinished(output, beside)
        if why:
            found[output] = f"{output} is left out: {why}"
    return found


def _why_unfinished(output: Path, beside: Sequence[str]) -> str | None:
    """Why the embedding `output` is not finished, given the files of its run `beside` it; None when it is."""
    marker = record_path(output)
    record = read_json(marker) if marker.is_file() else None
    if isinstance(record, dict) and not is_pending(record):
        return None  # finished (a training state a kill left after the record is discarded by the next run)
    if is_pending(record):
        if (record.get("config") or {}).get("generate_model_data_only"):
            return None  # an LLM's x', not an embedding
        return f"a run began writing it and did not finish (killed, or still running); {rerun_hint(record)}"
    if output.is_file():
        return (f"no record {marker.name} beside it (written last): its run was killed before it, or it is not "
                f"run_task_emb.py's; run the run_task_emb.py command with --save_path {output} again")
    state = output.with_name(output.stem + TRAINING_STATE_SUFFIX)
    if state.name in beside:
        return (f"a run was killed or is running: its training state {state.name} is there and no embedding yet; "
                f"run the run_task_emb.py command with --save_path {output} again, which continues from its last "
                f"finished epoch")
    return "a run is writing it, or was killed as it began (its lock is there, nothing else yet)"


def read_embedding(path: str | Path) -> Embedding:
    """One embedding and its record; a missing or foreign record, or a vector that disagrees with it, is an error."""
    path = Path(path)
    beside = record_path(path)
    if not beside.is_file():
        raise FuteError(f"{path} has no record {beside.name} beside it; re-run run_task_emb.py for it "
                        f"or move it out of the folder")
    record = read_json(beside)
    if is_pending(record):
        raise FuteError(f"{path}: the run writing it did not finish, or is still running; {rerun_hint(record)}")
    entry = record.get("embedding") if isinstance(record, dict) else None
    if not isinstance(entry, dict) or not {"task", "kind", "method"} <= entry.keys():
        raise FuteError(f"{beside}: no 'embedding' entry with task, kind and method; it is not an embedding record")
    if entry["kind"] not in KINDS:
        raise FuteError(f"{beside}: embedding kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
    try:
        vector = np.load(path, mmap_mode="r")
    except ValueError as err:
        raise FuteError(f"{path}: not a readable .npy file ({err})") from None
    if vector.ndim != 1 or not np.issubdtype(vector.dtype, np.floating):
        raise FuteError(f"{path}: expected a 1-D float array, got shape {vector.shape} dtype {vector.dtype}")
    if entry.get("dim") is not None and int(entry["dim"]) != vector.shape[0]:
        raise FuteError(f"{path}: holds {vector.shape[0]} values but its record says dim {entry['dim']}; "
                        f"the pair is out of sync, re-run run_task_emb.py")
    config = record.get("config") or {}
    info = _info(entry, config, dim=int(vector.shape[0]), dtype=str(vector.dtype))
    return Embedding(path=path, info=info, config=config)


def _info(entry: dict, config: dict, dim: int, dtype: str) -> EmbeddingInfo:
    """EmbeddingInfo from a record's "embedding" entry, completed from the run's config for older records; its
    "task" is the genre of an LLM + prompt MTE ("llm"), else the dataset."""
    method = str(entry["method"])
    known = METHODS_BY_ID.get(method)
    llm = bool(entry.get("llm", config.get("llm_mode", False)))
    if "family" in entry:
        family, fute = entry["family"], bool(entry["fute"])
    else:
        family = known.family if known else config.get("task_emb_type")
        fute = known.fute if known else not config.get("is_baseline", False)
    task = str(entry["task"])
    model = entry.get("model")
    prompt = entry.get("prompt")
    if "model" not in entry:  # an older record
        named = config.get("lm_model_name")
        model = config.get("llm_model") or named if llm else named
        model = None if model == "none" else model
        if llm:
            task = config.get("task_type") if config.get("task_type") in GENRES else task
            prompt = config.get("prompt_number")
        elif entry["kind"] == "DTE":
            model = None
    return EmbeddingInfo(method=method, family=family, fute=fute, kind=entry["kind"],
                         dataset=None if llm else task, genre=task if llm else None,
                         model=None if model is None else str(model), llm=llm,
                         prompt=None if prompt is None else int(prompt),
                         surrogate=entry.get("surrogate", config.get("task_emb_model_lm_name")),
                         seed=entry.get("seed", config.get("seed")), dim=dim, dtype=dtype,
                         surrogate_ref=ref_from_json(entry.get("surrogate_ref")),
                         model_ref=ref_from_json(entry.get("model_ref")))


# ---------------------------------------------------------------- choosing


def the_only(found: Sequence[Embedding], missing: str, what: str, advice: str = "keep one") -> Embedding:
    """found[0] when it is the only one; none is FuteError(missing), several name their paths."""
    if not found:
        raise FuteError(missing)
    if len(found) > 1:
        raise FuteError(f"{len(found)} {what}: {', '.join(str(e.path) for e in found)}; {advice}")
    return found[0]


def find_embedding(embeddings: Iterable[Embedding], method: str, kind: str, task: str, folder: str | Path,
                   methods_flag: str = "--methods", task_of: Callable[[Embedding], str] | None = None) -> Embedding:
    """The one embedding of (method, kind, task) that is not an LLM's (its task as `task_of` names it, by default
    its dataset's name); missing or ambiguous is an error."""
    found = [e for e in embeddings if (e.method, e.kind) == (method, kind) and not e.info.llm
             and (task_of(e) if task_of else e.dataset) == task]
    return the_only(found,
                    missing=f"missing embedding: no {kind} of method {method} for task {task} in {folder}; compute "
                            f"it with run_task_emb.py, leave {task} out of --tasks or {method} out of {methods_flag}",
                    what=f"{kind} embeddings of method {method} for task {task}",
                    advice="keep one (e.g. put other models' embeddings in another folder)")


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
    instead of three. The numbers are exactly those of data_utils.similarity.cosine.
    """

    def __init__(self) -> None:
        self._squared_norms: dict[Path, float] = {}

    def squared_norm(self, embedding: Embedding) -> float:
        if embedding.path not in self._squared_norms:
            self._squared_norms[embedding.path] = squared_norm(embedding.vector())
        return self._squared_norms[embedding.path]

    def cosine(self, a: Embedding, b: Embedding) -> float:
        return cosine_from_parts(dot(a.vector(), b.vector()), self.squared_norm(a), self.squared_norm(b))
