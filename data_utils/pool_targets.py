"""Which x' pool sources are a target's own dataset, and a pool built without them.

A pool source is a target when its name is the target's once case, "-"/"_" and a GLUE / SuperGLUE prefix are set
aside (CrossFit's glue_sst2 is the registry's sst2), or when the hub pool's entry for it (configs/unsup_pool.py)
reads the repository and config the registry reads for the target. The leak guard (task_emb/leaks.py) marks MTEs
whose x' hold one; the demo leaves them out of its pool (`save_folder_pool`, and the hub's pool through
data_utils.unsup_pool.save_hub_pool's `leave_out`).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from configs.hparams import DEFAULT_SEED
from configs.unsup_pool import POOL_SOURCES
from data_utils.artifacts.data_identity import describe
from data_utils.artifacts.paths import record_path
from data_utils.declarations import DATASETS
from data_utils.errors import FuteError
from data_utils.io import read_json, read_jsonl, write_json
from data_utils.unsup_pool import (
    PoolExample,
    pool_lines,
    pool_record,
    sample_per_source,
    write_local_pool,
)

logger = logging.getLogger(__name__)

_PREFIX = re.compile(r"^(?:glue|superglue|super_glue)_")


def canonical(name: str) -> str:
    """A dataset name with case, "-" against "_" and a GLUE / SuperGLUE prefix set aside."""
    return _PREFIX.sub("", name.casefold().replace("-", "_"))


def is_dataset(source: str, name: str) -> bool:
    """Whether the pool source `source` is the registry dataset `name` (or a dataset of its name)."""
    if canonical(source) == canonical(name):
        return True
    pool, spec = POOL_SOURCES.get(source), DATASETS.get(name)
    return (pool is not None and spec is not None and spec.hub_id is not None
            and (pool.hub_id, pool.config) == (spec.hub_id, spec.hub_config))


def targets_among(sources: Iterable[str], targets: Iterable[str]) -> dict[str, str]:
    """{pool source: the target it is} for every source of `sources` that is one of `targets`."""
    targets = list(targets)
    return {source: target for source in sources for target in targets if is_dataset(source, target)}


def save_folder_pool(path: Path, folder: Path, targets: Sequence[str], per_source: int) -> dict:
    """A pool from the registry datasets in `folder` (one sub-folder each, the registry's local layout) that are
    none of `targets`: at most `per_source` training examples of each (a sample drawn with DEFAULT_SEED: one saved
    pool serves every seed, each step drawing its x' from it with its own), written to `path` with its
    record (`<path>.record.json`: the sources with their counts and data digests, the targets left out, the
    folders skipped and why). Returns the record. A CR example is its text (and text_pair), a QA one its question
    and context. A pool already at `path` with these examples and this record is kept untouched, so that a second
    run finds the steps that read it done."""
    from data_utils.loading import all_examples  # pandas: only when a pool is built

    examples, digests, skipped = [], {}, {}
    left_out = targets_among([sub.name for sub in sorted(folder.iterdir()) if sub.is_dir()], targets)
    for sub in sorted(folder.iterdir()):
        if not sub.is_dir() or sub.name in left_out:
            continue
        spec = DATASETS.get(sub.name)
        if spec is None:
            skipped[sub.name] = "not a registry dataset"
            continue
        rows = all_examples(spec, str(sub))["train"]
        fields = ("question", "context") if spec.task_class == "qa" else ("text", "text_pair")
        examples += [PoolExample(row[fields[0]], row.get(fields[1]) or None, spec.name) for row in rows]
        digests[spec.name] = describe(spec, str(sub))["digest"]
    for name, why in skipped.items():
        logger.warning("pool: folder %s/%s left out: %s", folder, name, why)
    if not examples:
        raise FuteError(f"{folder} holds no registry dataset other than the demo's tasks to draw x' from; add one "
                        f"(e.g. imdb/, cola/ or snli/ in the registry layout) or pass --pool FILE.jsonl")
    examples = sample_per_source(examples, per_source, DEFAULT_SEED)
    record = {"max_per_source": per_source, **pool_record(examples, {}, DEFAULT_SEED), "digests": digests,
              "left_out": left_out, "skipped": skipped}
    if (record_path(path).is_file() and read_json(record_path(path)) == record and path.is_file()
            and read_jsonl(path) == pool_lines(examples)):
        logger.info("x' pool %s holds these examples already: kept as it is", path)
        return record  # rewriting it would make every step that read it look stale
    write_local_pool(path, examples)
    write_json(record_path(path), record)
    return record
