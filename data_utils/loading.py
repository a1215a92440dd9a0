"""Raw data -> train/dev lists of examples, from the hub, MultiQA's published files or local files.

Only a dataset's DatasetSpec (the registry's, or a declaration's: data_utils/declarations.py)
says what it looks like; this module finds its splits and hands their rows to
data_utils/examples.py. Local data is the files a declaration names, or `--dataset_path`: a
folder with one file per split named after the split (`train.jsonl`, `validation.jsonl`,
`dev_r3.csv`, ...), or one file, the training split (its dev split a seeded cut); how each
file type is read is data_utils/local_files.py. A dataset without a dev split gets a seeded
80/20 cut of train, as the reference did.
"""
from __future__ import annotations

import logging
import os
import random
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from configs.datasets import DEV_CUT, MULTIQA_URL, DatasetSpec
from configs.hparams import DEV_SPLIT
from data_utils.archives import open_archive
from data_utils.errors import FuteError
from data_utils.examples import cr_examples, qa_examples, yes_no_rows
from data_utils.hub_read import HubRead, describe_error, read_split
from data_utils.label_order import labels_by_name
from data_utils.local_files import LOCAL_SUFFIXES, find_split_file, read_table

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where downloaded MultiQA files are kept: $FUTE_CACHE, else ~/.cache/fute."""
    return Path(os.environ.get("FUTE_CACHE", Path.home() / ".cache" / "fute"))


def download_multiqa(spec: DatasetSpec, split: str) -> Path:
    """Download a MultiQA file once into the cache (atomically) and return its path."""
    url = MULTIQA_URL.format(name=spec.multiqa_name, split=split)
    target = cache_dir() / "multiqa" / Path(url).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # A private temporary name: parallel runs of a sweep may download the same file at once.
    handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    tmp = Path(tmp_name)
    logger.info("downloading %s", url)
    try:
        urllib.request.urlretrieve(url, tmp)
    except OSError as err:
        if tmp.exists():
            tmp.unlink()
        raise FuteError(f"cannot download {url} ({err}); put the file at {target} "
                        f"or pass --dataset_path with train/dev files") from None
    os.replace(tmp, target)
    return target


# ----------------------------------------------------------------------------- splits


def load_raw_splits(spec: DatasetSpec, dataset_path: str | None = None) -> dict[str, list[dict]]:
    """{'train': rows, 'dev': rows}. The dev split is cut 80/20 from train (seed 42) for a dataset without one,
    and when `dataset_path` is one file: the training split."""
    return {role: split.rows for role, split in raw_splits(spec, dataset_path).items()}


@dataclass(frozen=True)
class RawSplit:
    """The rows of one role (train or dev); `where` names the file they were read from (and its split) in
    errors, `numbers` gives each row's index in that file, in file order (the dev cut shuffles them)."""

    rows: list[dict]
    where: str
    numbers: list[int]


def raw_splits(spec: DatasetSpec, dataset_path: str | None = None) -> dict[str, RawSplit]:
    """`load_raw_splits`, each role's rows with where they come from and their row numbers there."""
    one_file = dataset_path is not None and _one_file(spec, Path(dataset_path))
    wanted = {"train": spec.train_split, "dev": None if one_file else spec.dev_split}
    read = {role: load_split(spec, split, dataset_path) for role, split in wanted.items() if split is not None}
    splits = {role: RawSplit(rows, f"{spec.name} {role} ({origin})", list(range(len(rows))))
              for role, (rows, origin) in read.items()}
    if "dev" not in splits:
        rows, origin = read["train"]
        for role, order in zip(("train", "dev"), dev_cut(len(rows))):
            splits[role] = RawSplit([rows[i] for i in order], f"{spec.name} {role} ({origin})", order)
        logger.info("%s: %s, so dev is a seeded cut of train: %d train / %d dev (seed %d)", spec.name,
                    f"--dataset_path {dataset_path} is one file" if one_file else "no dev split",
                    len(splits["train"].rows), len(splits["dev"].rows), DEV_SPLIT["seed"])
    return splits


def dev_cut(size: int) -> tuple[list[int], list[int]]:
    """(train, dev) row indices of a split of `size` rows: shuffled with a fixed seed and cut at 80%, as the
    reference did."""
    order = list(range(size))
    random.Random(DEV_SPLIT["seed"]).shuffle(order)
    cut = int(size * DEV_SPLIT["train_fraction"])
    return order[:cut], order[cut:]


def load_split(spec: DatasetSpec, split: str, dataset_path: str | None = None) -> tuple[list[dict], str]:
    """(rows, origin) of one named split, from `split_source`: a local file (or the registry's archive), else the
    hub or MultiQA's published files. Columns a declaration renames (QA) come under their fields' names."""
    source = split_source(spec, split, dataset_path)
    if source is None and spec.multiqa_name is not None:
        path = download_multiqa(spec, "train" if split == spec.train_split else "dev")
        rows, origin = read_table(path), str(path)
    elif source is None:
        rows, origin = _read_hub_split(spec, split), spec.hub_id or ""
    elif _local_archive(spec, source) == source:
        rows, origin = open_archive(spec.archive, source).to_list(), str(source)
    else:
        rows, origin = read_table(source, spec), str(source)
    rows = _renamed(spec, rows, origin)
    return (yes_no_rows(rows, origin) if spec.yes_no else rows), origin


def load_eval_split(spec: DatasetSpec, split: str, dataset_path: str | None = None) -> RawSplit:
    """The rows an LLM answers, where they come from and their row numbers there (`RawSplit`): `load_split`,
    except that "dev" of a dataset without a dev split is its dev cut (the examples a fine-tune is scored on),
    and a `dataset_path` file is the split itself."""
    if split != DEV_CUT or spec.dev_split is not None or (dataset_path is not None and Path(dataset_path).is_file()):
        rows, origin = load_split(spec, split, dataset_path)
        return RawSplit(rows, f"{spec.name} {split} ({origin})", list(range(len(rows))))
    return raw_splits(spec, dataset_path)["dev"]


def split_source(spec: DatasetSpec, split: str, dataset_path: str | None = None) -> Path | None:
    """The local file split `split` is read from: in (or as) `dataset_path`, else the file its declaration names;
    None for data from the hub or MultiQA. A missing file is a FuteError naming what to pass."""
    if dataset_path is None:
        if spec.files:
            if split not in dict(spec.files):
                raise FuteError(f"{spec.name} names no file for split {split!r} (files: {', '.join(dict(spec.files))})")
            return Path(dict(spec.files)[split])
        if spec.hub_id is None and spec.multiqa_name is None:
            where = spec.declaration.given if spec.declaration else "its declaration"
            raise FuteError(f"{spec.name} names no data: pass --dataset_path, or name its files in {where} "
                            f"(files: {{train: ...}})")
        return None
    path = Path(dataset_path)
    archive = _local_archive(spec, path)
    if archive is not None or path.is_file():
        return archive or path
    if not path.is_dir():
        raise FuteError(f"--dataset_path {path} does not exist; give a folder with one file per split, e.g. "
                        f"{split}.jsonl, or one file holding the split")
    found = find_split_file(path, split)
    if found is None:
        raise FuteError(f"no file for split {split!r} of {spec.name} in {path}; expected {split}.jsonl "
                        f"(or {', '.join(s for s in LOCAL_SUFFIXES[1:])}), or pass one file as --dataset_path")
    return found


def _one_file(spec: DatasetSpec, path: Path) -> bool:
    """A --dataset_path that is one data file (not the registry's archive, which holds every split)."""
    return path.is_file() and _local_archive(spec, path) is None


def _renamed(spec: DatasetSpec, rows: list[dict], origin: str) -> list[dict]:
    """Rows with a declaration's QA columns (spec.columns) under their fields' names; a column no row has is
    a FuteError naming the declaration's key."""
    if not spec.columns:
        return rows
    renames = dict(spec.columns)
    for column, field in renames.items():
        if rows and not any(column in row for row in rows):
            raise FuteError(f"{origin}: no column {column!r}, which {spec.name}'s columns.{field} names (columns: "
                            f"{', '.join(sorted(rows[0]))})")
    return [{renames.get(key, key): value for key, value in row.items()} for row in rows]


def _read_hub_split(spec: DatasetSpec, split: str) -> list[dict]:
    """The split from the hub, or from the archive the registry names (the read: data_utils/hub_read.py)."""
    try:
        table = read_split(HubRead.of_dataset(spec, split))
        rows = table.to_list()
    except Exception as err:  # the hub raises many types; all mean the same to the user
        local = _local_archive_names(spec) if spec.archive else ""
        raise FuteError(f"cannot load {spec.hub_id} ({spec.hub_config or spec.data_dir or 'default'}) split {split} "
                        f"from the hub: {describe_error(err)}; pass --dataset_path with local files{local}") from None
    features = getattr(table, "features", None)  # a datasets.Dataset's; an archive's table has none
    return labels_by_name(rows, features.to_dict() if features is not None else {}, spec, spec.hub_id or spec.name)


def _local_archive(spec: DatasetSpec, path: Path) -> Path | None:
    """A local copy of `spec.archive`: its zip, or, for a one-member archive, the member file given or in a folder."""
    if spec.archive is None:
        return None
    if path.is_file() and path.suffix == ".zip":
        return path
    if len(spec.archive.members) != 1:
        return None
    member = Path(spec.archive.members[0]).name
    if path.is_file() and path.suffix == Path(member).suffix:
        return path
    return path / member if (path / member).is_file() else None


def _local_archive_names(spec: DatasetSpec) -> str:
    """The local copies of `spec.archive` that --dataset_path takes (see `_local_archive`), for an error message."""
    members = spec.archive.members
    one_member = f" or {Path(members[0]).name}" if len(members) == 1 else ""
    return f", or a copy of {Path(spec.archive.file).name}{one_member}"


# ----------------------------------------------------------------------------- examples

def load_examples(spec: DatasetSpec, dataset_path: str | None = None, max_train_examples: int | None = None,
                  seed: int = 42, max_dev_examples: int | None = None) -> dict[str, list[dict]]:
    """{'train': examples, 'dev': examples} ready for tokenisation; each split optionally cut to a seeded
    sample of at most `max_train_examples` / `max_dev_examples` examples (in file order)."""
    return sample_examples(spec, all_examples(spec, dataset_path), max_train_examples, seed, max_dev_examples)


def all_examples(spec: DatasetSpec, dataset_path: str | None = None) -> dict[str, list[dict]]:
    """{'train': examples, 'dev': examples}: every example of both splits, uncut."""
    return {role: qa_examples(raw.rows, raw.where) if spec.task_class == "qa" else
            cr_examples(spec, raw.rows, raw.where, raw.numbers) for role, raw in raw_splits(spec, dataset_path).items()}


def sample_examples(spec: DatasetSpec, splits: dict[str, list[dict]], max_train_examples: int | None, seed: int,
                    max_dev_examples: int | None) -> dict[str, list[dict]]:
    """`all_examples`' splits, each cut to a seeded sample of at most `max_train_examples` / `max_dev_examples`
    examples (in file order)."""
    splits = dict(splits)
    for role, limit in (("train", max_train_examples), ("dev", max_dev_examples)):
        if limit is not None and len(splits[role]) > limit:
            keep = sorted(random.Random(seed).sample(range(len(splits[role])), limit))
            splits[role] = [splits[role][i] for i in keep]
    logger.info("%s: %d train / %d dev examples", spec.name, len(splits["train"]), len(splits["dev"]))
    return splits
