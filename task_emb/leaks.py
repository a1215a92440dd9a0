"""The leak guard of the unified space: which MTEs learned on x' that hold a target's own text.

An MTE placed near a DTE because its x' hold that DTE's dataset measures the pool, not the model: the MTE of a
model fine-tuned on sst2, learned on x' drawn from sst2's own sentences, lands near sst2's DTE for the wrong
reason. The paper draws x' from CrossFit tasks other than the targets. For every MTE of the space table and
every DTE beside it, the x' share

- a source, when a pool source of the MTE's x' (as the pool record names it: data_utils.unsup_pool.pool_record)
  is the DTE's dataset: the same name once case, "-"/"_" and a "glue_" / "superglue_" / "super_glue_" prefix are
  set aside (CrossFit's glue_sst2 is sst2), the same hub repository and config (configs/unsup_pool.py against
  the registry; both: data_utils/pool_targets.py), or the same data digest (data_utils/artifacts/data_identity.py)
  where the pool recorded one (a pool built from dataset folders: data_utils.pool_targets.save_folder_pool);
- text, when at least SHARED_TEXTS_MIN of the texts the x' were drawn from equal texts of the DTE's dataset
  (any split, the whole dataset: not only the DTE's sample), compared by their fingerprints
  (data_utils/artifacts/text_prints.py: exact match after normalising, texts of MIN_WORDS words or more). One
  shared text is enough: a pool source renamed, or a copy of the target's rows under another name, still shares
  its texts, while two unrelated datasets share no sentence of five words or more but by rare accident.

Each MTE gets one status: "shared" (one of the above with some DTE; the table marks it "†" and names the DTE,
the source and the count of shared texts), "unknown" (no leak found, but its record, or a DTE's, does not say
what it was learned from: records written before sources and fingerprints were recorded, or a fingerprint file
removed since; never read as clean), or "clean".
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from configs.hparams import DEFAULT_SEED
from data_utils.artifacts.data_identity import TaskLabels, dataset_of
from data_utils.artifacts.embeddings import Embedding
from data_utils.artifacts.text_prints import read_prints, shared_count
from data_utils.pool_targets import canonical, is_dataset

SHARED_TEXTS_MIN = 1
MARKS = {"shared": "†", "unknown": "?", "clean": ""}


@dataclass
class Leak:
    """What one MTE's x' share with the DTEs' datasets: `status` (shared, unknown, clean), one entry per DTE
    shared with ({"dte", "sources": the pool sources that are its dataset, "texts": the count of shared texts}),
    and why the status is unknown where it is."""

    method: str
    mte: str
    status: str
    shared: list[dict] = field(default_factory=list)
    unknown: str = ""
    seed: int = DEFAULT_SEED  # of the MTE (a table of several seeds finds each seed's own x')

    @property
    def mark(self) -> str:
        return MARKS[self.status]


def is_source_of(source: str, dte: Embedding, digests: dict[str, str]) -> bool:
    """Whether the pool source `source` is the DTE's dataset: by the data digest the pool recorded for it (`digests`:
    source -> digest), or by name and hub entry (data_utils.pool_targets.is_dataset; a dataset declared in a file
    of one's own by its name only)."""
    identity = dataset_of(dte)
    if identity is None:
        return False
    if identity.digest is not None and digests.get(source) == identity.digest:
        return True
    return canonical(source) == canonical(identity.name) if identity.declared else is_dataset(source, identity.name)


class _Prints:
    """Fingerprints read once per embedding (a DTE's can hold hundreds of thousands of hashes)."""

    def __init__(self) -> None:
        self._read: dict = {}

    def of(self, embedding: Embedding) -> np.ndarray | None:
        if embedding.path not in self._read:
            self._read[embedding.path] = read_prints(embedding.path, embedding.config.get("texts"))
        return self._read[embedding.path]


def find(method: str, mtes: Sequence[Embedding], dtes: Sequence[Embedding], labels: TaskLabels,
         prints: _Prints | None = None) -> list[Leak]:
    """A Leak per MTE of `method` against every DTE of it, both named by `labels`."""
    prints = prints or _Prints()
    found = []
    for mte in mtes:
        pool = mte.config.get("pool")
        sources = sorted((pool or {}).get("sources", {}))
        digests = (pool or {}).get("digests", {})
        texts = prints.of(mte)
        leak = Leak(method, labels.of(mte), "clean")
        missing = [] if pool else ["its record names no pool"]
        if texts is None:
            missing.append("its record holds no fingerprint of its x'")
        for dte in dtes:
            named = [source for source in sources if is_source_of(source, dte, digests)]
            theirs = prints.of(dte)
            shared = shared_count(texts, theirs) if texts is not None and theirs is not None else 0
            if theirs is None and texts is not None:
                missing.append(f"the DTE {labels.of(dte)} holds no fingerprint of its dataset")
            if named or shared >= SHARED_TEXTS_MIN:
                leak.shared.append({"dte": labels.of(dte), "sources": named, "texts": shared})
        if leak.shared:
            leak.status = "shared"
        elif missing:
            leak.status, leak.unknown = "unknown", "; ".join(missing)
        found.append(leak)
    return found


def rows(leaks: Sequence[Leak]) -> list[dict]:
    """The leaks as JSON rows (each Leak's fields and its mark)."""
    return [{**asdict(leak), "mark": leak.mark} for leak in leaks]


def markdown(leaks: Sequence[Leak]) -> str:
    """A section naming each marked MTE ("" when every one is clean)."""
    marked = [leak for leak in leaks if leak.status != "clean"]
    if not marked:
        return ""
    lines = []
    for leak in marked:
        if leak.status == "shared":
            why = "; ".join(f"{entry['dte']}: " + ", ".join(
                [*(f"pool source {source}" for source in entry["sources"]), f"{entry['texts']} shared texts"])
                for entry in leak.shared)
        else:
            why = f"unknown: {leak.unknown}"
        lines.append(f"| {leak.method} | {leak.seed} | {leak.mte} | {leak.mark} | {why} |\n")
    return ("\n## x' shared with the targets\n\n† the MTE's x' share a source or text with a DTE's dataset "
            "(task_emb/leaks.py): its place near that DTE may come from the shared text, not from the model. "
            "? its record, or a DTE's, does not say what it was learned from (written before sources were "
            "recorded): not known to be clean.\n\n| Method | seed | MTE | | x' shared with |\n|---|---|---|---|---|\n"
            + "".join(lines))
