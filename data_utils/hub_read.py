"""How one split of a registry entry is read from the hub: a `datasets.load_dataset` call, then the published archive.

The paper's datasets (`data_utils.loading`), the pool U (`data_utils.unsup_pool`) and the
hub check (`checks.hub`) all describe a read as a `HubRead` built from the
registry entry, so the check reports exactly the path the loaders take:

1. `datasets.load_dataset(hub_id, config, split=, revision=, data_dir=)`. A script-only
   repository is read from its automatic parquet conversion with
   `revision="refs/convert/parquet"`. That branch holds one folder per config
   (`<config>/<split>/0000.parquet`) and no metadata, so `datasets` >= 4 sees a single
   "default" config there: a config is chosen with `data_dir=<config>` and config None
   (a config name raises "BuilderConfig ... not found").
2. When that call fails and the entry names an `archive` (configs/archives.py), the file
   is downloaded from the repository (once, into the Hugging Face cache) and read by
   `data_utils.archives`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.archives import Archive
from configs.datasets import DatasetSpec
from configs.unsup_pool import PoolSource
from data_utils.archives import open_archive
from data_utils.errors import FuteError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HubRead:
    """Where one split of a registry entry lives on the hub."""

    hub_id: str
    config: str | None
    split: str
    revision: str | None = None
    data_dir: str | None = None
    archive: Archive | None = None

    @classmethod
    def of_dataset(cls, spec: DatasetSpec, split: str) -> HubRead:
        return cls(spec.hub_id, spec.hub_config, split, spec.revision, spec.data_dir, spec.archive)

    @classmethod
    def of_pool_source(cls, source: PoolSource) -> HubRead:
        return cls(source.hub_id, source.config, source.split, source.revision, source.data_dir, source.archive)

    def load(self, streaming: bool = False) -> Any:
        """Step 1: the `datasets` call (a Dataset; an IterableDataset when streaming)."""
        import datasets  # lazy: importing datasets is slow and most callers never need the hub

        return datasets.load_dataset(self.hub_id, self.config, split=self.split, revision=self.revision,
                                     data_dir=self.data_dir, streaming=streaming)


def read_split(read: HubRead) -> Any:
    """The split's rows: a `datasets.Dataset`, or an `ArchiveTable` when the `datasets` call fails and the entry
    names an archive. Without an archive the hub's own error is raised; when the archive fails too, a FuteError
    holding both reasons."""
    try:
        return read.load()
    except Exception as err:  # noqa: BLE001 - the hub raises many types; every one means "try the archive"
        if read.archive is None:
            raise
        why = describe_error(err)
    logger.info("%s: %s; reading its published %s instead", read.hub_id, why, read.archive.file)
    return open_archive(read.archive, download_archive(read, why))


def download_archive(read: HubRead, why: str) -> Path:
    """The entry's archive file, downloaded once into the Hugging Face cache; `why` the hub call failed."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(read.hub_id, read.archive.file, repo_type="dataset"))
    except Exception as err:  # noqa: BLE001 - offline, gone, gated: all mean the same to the user
        raise FuteError(f"{why}; cannot download {read.archive.file} of {read.hub_id} either "
                        f"({describe_error(err)})") from None


def describe_error(err: Exception) -> str:
    """One line naming a failure: "<type>: <first line of its message>" (a FuteError's message is already one)."""
    text = str(err).strip()
    first = text.splitlines()[0] if text else ""
    return first if isinstance(err, FuteError) else f"{type(err).__name__}: {first}"

