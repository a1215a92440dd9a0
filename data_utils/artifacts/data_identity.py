"""Which data an output was made from, so that two datasets of one name are never taken for one.

A dataset's name does not say which data it is: a declaration of one's own may reuse a registry
name (rotten_tomatoes), two declarations may share one, and one registry dataset may be read from
the hub or from a --dataset_path. Every record of an output made from a dataset (fine-tuning
scores and checkpoints, task embeddings: `config.data`; a transfer run also `config.source_data`,
the data its --load_path model was fine-tuned on; LLM inference files: `data`) carries the entry
`describe` writes:

    {"name", "task", "family", "digest",
     "declaration": {"given", "path", "sha256"} | null,      (the file that declared it; null: the registry)
     "spec": the declaration itself | null,                  (data_utils/declaration_parser.py to_declaration)
     "sources": [{"split", "path", "sha256"} | {"split", "hub"}, ...]}

digest = SHA-256 of the name, the declaration's SHA-256 and each split's data: a local file's
SHA-256, or where on the hub it is read from. The splits are those the dataset names (train, dev,
the LLM's) that its source holds; a --dataset_path that is one file is one source (split null).
Tables name a task by its dataset's name, or, where one name comes with several digests in the files
they read, "<name>@<first 8 hex digits>", and warn (`TaskLabels`).
Records written before this entry existed (and the MTE of a model fine-tuned elsewhere) read as the dataset
their config names, with no digest: the one recorded dataset of that name where there is one (said in a
note), else "<name>@unrecorded" beside the recorded ones.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.datasets import DatasetSpec
from data_utils.artifacts.completion import sha256_of
from data_utils.declaration_parser import to_declaration
from data_utils.declarations import DATASETS, is_declaration
from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

DIGEST_SHOWN = 8  # hex digits of a digest in a table's label


@dataclass(frozen=True)
class DataIdentity:
    """One dataset as a record names it: name, task class (cr / qa; the record's "task"), family, digest (None: an
    older record), where the data came from, for messages (`origin`), and the SHA-256 of the file that declared
    it (`declared`; None: the registry)."""

    name: str
    task_class: str | None
    family: str | None
    digest: str | None
    origin: str
    declared: str | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return self.name, self.digest


def describe(spec: DatasetSpec, dataset_path: str | None = None) -> dict[str, Any]:
    """The record entry of `spec` read from `dataset_path` (None: the declaration's files, or the hub)."""
    from data_utils.loading import split_source  # pandas: only for writers, never for the tables' readers

    sources, hashes = [], {}
    splits = dict.fromkeys(s for s in (spec.train_split, spec.dev_split, spec.llm_eval_split) if s)
    if dataset_path is not None and Path(dataset_path).is_file():
        splits = {None: None}  # one file: whichever split the step reads
    for split in splits:
        try:
            path = split_source(spec, split, dataset_path) if split else Path(dataset_path)
        except FuteError:  # a split its source does not hold (a dev cut; a folder of one split)
            continue
        if path is None:
            where = spec.multiqa_name or " ".join(filter(None, (spec.hub_id, spec.hub_config or spec.data_dir,
                                                                spec.revision)))
            sources.append({"split": split, "hub": where})
        else:
            hashes.setdefault(path, sha256_of(path))
            sources.append({"split": split, "path": str(path.resolve()), "sha256": hashes[path]})
    declaration = spec.declaration
    facts = [spec.name, declaration.sha256 if declaration else None,
             [[s["split"], s.get("sha256", s.get("hub"))] for s in sources]]
    return {"name": spec.name, "task": spec.task_class, "family": spec.family,
            "digest": hashlib.sha256(json.dumps(facts).encode("utf-8")).hexdigest(),
            "declaration": None if declaration is None else vars(declaration).copy(),
            "spec": None if declaration is None else to_declaration(spec), "sources": sources}


def identity_of(entry: dict[str, Any]) -> DataIdentity:
    """The DataIdentity of a record's `data` entry (see `describe`)."""
    declaration = entry.get("declaration") or {}
    sources = entry.get("sources") or []
    paths = [Path(s["path"]).parent for s in sources if "path" in s]
    hub = [s["hub"] for s in sources if "hub" in s]
    origin = declaration.get("path") or (f"hub {hub[0]}" if hub else str(paths[0]) if paths else "unrecorded")
    return DataIdentity(str(entry["name"]), entry.get("task"), entry.get("family"), entry.get("digest"), origin,
                        declaration.get("sha256"))


def from_config(config: dict[str, Any], name: str | None = None, key: str = "data") -> DataIdentity | None:
    """The data a run's config names: its `key` entry, or for a record written before it, the registry dataset
    of `name` (else config.to_train_dataset), with no digest; None when it names none."""
    entry = config.get(key)
    if isinstance(entry, dict) and entry.get("name"):
        return identity_of(entry)
    name = name or config.get("to_train_dataset")
    if not name:
        return None
    spec = DATASETS.get(str(name))
    task_class = spec.task_class if spec else config.get("task_type") if key == "data" else None
    return DataIdentity(str(name), task_class, spec.family if spec else None, None,
                        "unrecorded (a record written before data was recorded)")


def dataset_of(embedding) -> DataIdentity | None:
    """The data a task embedding (data_utils/artifacts/embeddings.py Embedding) describes: a DTE's dataset, or
    the dataset an LM's MTE's model was fine-tuned on; None for an LLM + prompt MTE."""
    return None if embedding.info.llm else from_config(embedding.config, embedding.dataset)


class TaskLabels:
    """How a table names the task of each of its inputs: by the dataset's name, or "<name>@<digest>" where the
    inputs hold one name with several digests (each such name is listed in `notes` and, with `warn`, logged as a
    warning)."""

    def __init__(self, identities: Iterable[DataIdentity], what: str = "the inputs", warn: bool = True):
        found: dict[str, dict[str | None, DataIdentity]] = {}
        for identity in identities:
            found.setdefault(identity.name, {}).setdefault(identity.digest, identity)
        self._labels: dict[tuple[str, str | None], str] = {}
        self.notes: list[str] = []
        for name, by_digest in found.items():
            recorded = [identity for digest, identity in by_digest.items() if digest is not None]
            if None in by_digest and len(recorded) == 1:
                # Unrecorded data (an older record, a model fine-tuned elsewhere and named with --to_train_dataset)
                # is taken to be the one dataset of its name that is recorded: the user's claim, said in a note.
                self._labels[recorded[0].key] = name  # first: `identity` of the label is the recorded one
                self._labels[(name, None)] = name
                self.notes.append(f"{what}: some of {name}'s records do not say which data they were made from; "
                                  f"they are taken to be the one {name} recorded ({recorded[0].origin})")
                logger.info("%s", self.notes[-1])
                continue
            for digest, identity in by_digest.items():
                shown = digest[:DIGEST_SHOWN] if digest else "unrecorded"
                self._labels[identity.key] = name if len(by_digest) == 1 else f"{name}@{shown}"
            if len(by_digest) > 1:
                listed = "; ".join(sorted(f"{self._labels[i.key]}: {i.origin}" for i in by_digest.values()))
                self.notes.append(f"{what} hold {len(by_digest)} different datasets named {name} ({listed}); they "
                                  f"are told apart by their data, and none counts as another's task")
                if warn:
                    logger.warning("%s", self.notes[-1])
        self._identities = {i.key: i for by_digest in found.values() for i in by_digest.values()}

    @classmethod
    def of_embeddings(cls, embeddings: Iterable, what: str = "the embeddings", warn: bool = True) -> TaskLabels:
        return cls(filter(None, map(dataset_of, embeddings)), what, warn)

    def __call__(self, identity: DataIdentity) -> str:
        return self._labels[identity.key]

    def of(self, embedding) -> str:
        """How a table names an embedding: by its dataset's label, an LLM + prompt MTE by its own ("<llm>:p<k>")."""
        identity = dataset_of(embedding)
        return embedding.info.label if identity is None else self(identity)

    def named(self, tasks: Iterable[str]) -> list[str]:
        """The labels `tasks` select, in the order given: a label, a name (every label of that name) or a
        declaration file (the datasets declared by a file of its content, whatever its name or place now); a task
        found nowhere is kept as given, for the caller to refuse."""
        chosen = []
        for task in tasks:
            if is_declaration(task):
                declared = sha256_of(task) if Path(task).is_file() else "no such file"
                found = [label for key, label in self._labels.items() if self._identities[key].declared == declared]
            else:
                found = [label for key, label in self._labels.items() if task in (label, key[0])]
            chosen += found or [task]
        return list(dict.fromkeys(chosen))

    def identity(self, label: str) -> DataIdentity:
        return next(self._identities[key] for key, shown in self._labels.items() if shown == label)
