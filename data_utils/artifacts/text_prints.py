"""Fingerprints of the texts an output was learned from, so that x' holding a target's own text can be found.

A fingerprint is the sorted, unique uint64 array of the 64-bit BLAKE2b hashes of the texts' normal forms
(`normal_form`). It sits beside the output it describes as `<name>.text_hashes`, in NumPy's .npy format (a
name not ending in .npy, so that no reader of a folder of embeddings takes it for one):

    emb/<method>/<d>_dte.npy    ->  <d>_dte.text_hashes      every text of dataset d's train and dev splits
    emb/<method>/<d>_mte.npy    ->  <d>_mte.text_hashes      every text of the pool x' were drawn from
    llm_te/<g>_x.jsonl          ->  <g>_x.text_hashes        likewise, for the LLM's x' (and its MTEs)

Each text of a pair (text and text_pair; a QA example's question and context) is a text of its own. Eight bytes
per text: a dataset of 400,000 pairs takes at most 6.4 MB. Two different texts share a hash with probability
2^-64 per pair, negligible for any pool and dataset compared here.

Texts shorter than MIN_WORDS words after normalising are left out: short strings ("yes", "What is it?") recur
in unrelated datasets by chance, and the leak guard (task_emb/leaks.py) must name a shared dataset, not a
shared phrase.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from data_utils.io import atomic_open

SUFFIX = ".text_hashes"
MIN_WORDS = 5
# A leading field label ("premise: ", "question: ", "sentence 1: ") that CrossFit's pool templates
# (configs/unsup_pool.py) put before a text and the dataset itself does not have.
_FIELD_LABEL = re.compile(r"^[a-z_]+(?: [a-z0-9_]+)?: ")


def normal_form(text: str) -> str:
    """The text as it is compared: Unicode NFKC, case-folded, runs of whitespace as one space, a leading field
    label removed."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return _FIELD_LABEL.sub("", text, count=1)


def text_hashes(texts: Iterable[str | None]) -> np.ndarray:
    """The fingerprint of `texts` (None and texts under MIN_WORDS words skipped): sorted unique uint64 [n]."""
    hashes = {int.from_bytes(hashlib.blake2b(form.encode("utf-8"), digest_size=8).digest(), "little")
              for form in map(normal_form, filter(None, texts)) if len(form.split()) >= MIN_WORDS}
    return np.array(sorted(hashes), dtype=np.uint64)


def prints_path(output: str | Path) -> Path:
    """`<name>.text_hashes` beside `<name>.<ext>`."""
    output = Path(output)
    return output.with_name((output.name[: -len(output.suffix)] if output.suffix else output.name) + SUFFIX)


def write_prints(output: str | Path, hashes: np.ndarray) -> dict:
    """Write the fingerprint of `output` beside it (atomically); returns the entry its record holds:
    {"file": the sidecar's name, "texts": how many hashes, "min_words": MIN_WORDS}."""
    path = prints_path(output)
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(hashes, dtype=np.uint64))
    return {"file": path.name, "texts": int(len(hashes)), "min_words": MIN_WORDS}


def read_prints(output: str | Path, entry: dict | None) -> np.ndarray | None:
    """The fingerprint a record's `entry` (`write_prints`) names beside `output`; None when the record has none or
    the file is gone (the reader then cannot tell: "unknown", never "clean")."""
    if not entry:
        return None
    path = Path(output).with_name(entry["file"])
    return np.load(path) if path.is_file() else None


def shared_count(a: np.ndarray, b: np.ndarray) -> int:
    """How many texts two fingerprints share."""
    return int(np.intersect1d(a, b, assume_unique=True).size)
