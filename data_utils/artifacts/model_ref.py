"""Where a model was read from, recorded so that a reader finds it again from another folder or machine.

A run records each model it reads (the surrogate of a task embedding, the fine-tuned checkpoint of
an MTE) as a `ModelRef`: the name as given, and for a local model its absolute path, its path
relative to the record's folder and a content hash; for a hub id, the commit it was read at and the
hash of that snapshot. A reader that needs the model again (run_eval.py space, plot and compare
rebuild e0 from the surrogate) tries, in order (`local_candidates`): the absolute path; the
relative path from the record's folder (results and models copied together); the name as given,
from the current folder and from the record's folder; then the hub id at its commit. A local
candidate counts only when its content hash is the recorded one.

The content hash (`content_hash`) is SHA-256 over the files that define the weights: `config.json`
and the weight files `from_pretrained` reads (the `*.safetensors` files and their index when there
are any, else `*.bin`, else `*.pt`/`*.pth`; a GGUF or other single file is itself), each as its
name, its size and its bytes, where a file over WHOLE_FILE_BYTES contributes BLOCKS evenly
spaced blocks of BLOCK_BYTES (the first at its start, the last at its end) instead of all of them.
Why not every byte: it is read on every run that records the model, and a whole-file hash reads
0.9 GB for t5-base and 130 GB for Llama-2-70B; the blocks cost ~2 MiB per file. The first block
holds a safetensors file's header (every tensor's name, dtype, shape and offset), and training
changes essentially every value, so two checkpoints of one architecture get different hashes.
What it cannot see: a change confined to bytes between the blocks (e.g. a file that differs only
in a small retrained head). Tokenizer files, READMEs and `.gitattributes` are left out, so adding
a README or re-saving a tokenizer keeps the hash; `save_pretrained` writes a new config.json
(transformers records its version there), so a re-saved model gets a new one.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

WHOLE_FILE_BYTES = 8 << 20
BLOCKS = 32
BLOCK_BYTES = 64 << 10
# Weight files by preference, as from_pretrained chooses them: the first pattern that matches is hashed.
WEIGHT_PATTERNS = (("*.safetensors", "*.safetensors.index.json"), ("*.bin", "*.bin.index.json"), ("*.pt", "*.pth"))


@dataclass(frozen=True)
class ModelRef:
    """A model as a run read it.

    given: the name as typed (alias, hub id, relative or absolute path); path: the absolute path of
    a local folder or file (None for a hub id); relative: that path relative to the folder of the
    record that holds this reference; hub_id, revision: a hub model and the commit it was read at
    (None where the hub cache gave none); sha256: `content_hash` of the files read.
    """

    given: str
    path: str | None = None
    relative: str | None = None
    hub_id: str | None = None
    revision: str | None = None
    sha256: str | None = None

    def describe(self) -> str:
        """For messages: the name given, and where it was."""
        where = self.path or (f"{self.hub_id}@{self.revision}" if self.revision else self.hub_id)
        return self.given if where in (None, self.given) else f"{self.given} ({where})"


def local_ref(given: str, path: str | Path, record_folder: str | Path, hashed: str | Path,
              hub_id: str | None = None, revision: str | None = None) -> ModelRef:
    """The reference of the model given as `given`, found at `path` (absolute or from the current folder),
    whose files are in `hashed` (the folder from_pretrained reads, or the file), for a record in
    `record_folder`."""
    absolute = Path(path).resolve()
    relative = os.path.relpath(absolute, Path(record_folder).resolve())
    return ModelRef(given=given, path=str(absolute), relative=relative, hub_id=hub_id, revision=revision,
                    sha256=content_hash(hashed))


def hashed_files(source: Path) -> list[Path]:
    """The files `content_hash` covers: config.json and the preferred weight files of a folder, or the file."""
    if source.is_file():
        return [source]
    files = [source / "config.json"] if (source / "config.json").is_file() else []
    for patterns in WEIGHT_PATTERNS:
        weights = sorted({path for pattern in patterns for path in source.glob(pattern) if path.is_file()})
        if weights:
            return files + weights
    return files


def content_hash(source: str | Path) -> str:
    """SHA-256 (hex) of `hashed_files(source)`: per file its name, size and bytes (blocks of a large file)."""
    digest = hashlib.sha256()
    for path in hashed_files(Path(source)):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= WHOLE_FILE_BYTES:
                digest.update(handle.read())
                continue
            for index in range(BLOCKS):
                handle.seek((size - BLOCK_BYTES) * index // (BLOCKS - 1))
                digest.update(handle.read(BLOCK_BYTES))
    return digest.hexdigest()


def local_candidates(ref: ModelRef, record_folder: str | Path) -> list[Path]:
    """Where a local copy of `ref` may be, in the order to try: the absolute path, the path relative to the
    record's folder, the name as given from the current folder, then from the record's folder; each once."""
    record_folder = Path(record_folder)
    places = [ref.path, record_folder / ref.relative if ref.relative else None, ref.given, record_folder / ref.given]
    found: list[Path] = []
    for place in places:
        if place is not None and Path(place).exists() and Path(place).resolve() not in found:
            found.append(Path(place).resolve())
    return found


def ref_from_json(entry: dict | None) -> ModelRef | None:
    """A ModelRef from its JSON (a record's entry); None stays None."""
    return None if entry is None else ModelRef(**{key: entry.get(key) for key in ModelRef.__dataclass_fields__})
