"""Does every dataset of the registry (and of the pool U) load from where it lives on the hub today?

`scripts/check_hub.py` runs these checks for a user with network access. Each split is
checked along the path the loaders take (`data_utils.hub_read.HubRead`, built from the
same registry entry): the `datasets` call is made in streaming mode and its first rows
are checked; when it fails and the entry names an archive, the archive file's presence
is checked (nothing is downloaded in full). Per (dataset, split) one status:

    ok             loads; the fields exist; labels match the registry
    ok (archive)   the `datasets` call fails, but the archive the registry names for that
                   case is in the repository, so the loaders read it (financial_phrasebank
                   when its parquet conversion is gone; gigaword, search_qa, wiki_bio)
    moved          loads, but the hub answers under another id (a renamed repository)
    script-only    the repository holds only a loading script, which datasets>=4 refuses
    missing field  a field the project reads is not in the rows
    label mismatch the label names differ from the registry's, in any order (read from the
                   dataset's ClassLabel feature where it has one, else from the values seen)
    unreachable    anything else (offline, gone, gated: the message says which)

The MultiQA sets are files on a web server: their URLs are checked with a HEAD request.
"""
from __future__ import annotations

import itertools
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from configs.datasets import MULTIQA_URL, DatasetSpec
from configs.unsup_pool import POOL_SOURCES, PoolSource
from data_utils.declarations import DATASETS
from data_utils.errors import FuteError
from data_utils.examples import label_index
from data_utils.hub_read import HubRead, describe_error
from data_utils.label_order import named, order_by_name

OK = "ok"
FAILING = ("script-only", "missing field", "label mismatch", "unreachable")
QA_FIELDS = ("context", "question", "answers")


@dataclass
class HubCheck:
    """The verdict on one split of one dataset (or pool source)."""

    name: str
    hub_id: str
    split: str
    status: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILING


def _canonical_id(hub_id: str) -> str:
    """The id the hub answers under (differs from `hub_id` for a renamed repository)."""
    from huggingface_hub import HfApi

    return HfApi().dataset_info(hub_id).id


def _archive_exists(read: HubRead) -> bool:
    from huggingface_hub import file_exists

    return file_exists(read.hub_id, read.archive.file, repo_type="dataset")


def _url_exists(url: str) -> bool:
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
        return 200 <= response.status < 400


def _is_script_only(err: Exception) -> bool:
    text = str(err).lower()
    return "scripts are no longer supported" in text or "loading script" in text


def _fetch(name: str, read: HubRead, rows: int) -> tuple[list[dict] | None, Any, HubCheck | None]:
    """(first rows, features, None) or (None, None, the verdict on the failure, archive included)."""
    try:
        data = read.load(streaming=True)
        return list(itertools.islice(iter(data), rows)), getattr(data, "features", None), None
    except Exception as err:  # noqa: BLE001 - every hub failure becomes a verdict
        status = "script-only" if _is_script_only(err) else "unreachable"
        return None, None, _archive_check(name, read, status, describe_error(err))


def _archive_check(name: str, read: HubRead, status: str, why: str) -> HubCheck:
    """The verdict when the `datasets` call failed: the loaders then read the entry's archive, if it has one."""
    if read.archive is None:
        return HubCheck(name, read.hub_id, read.split, status, why)
    try:
        exists = _archive_exists(read)
    except Exception as err:  # noqa: BLE001
        return HubCheck(name, read.hub_id, read.split, "unreachable", f"{why}; archive: {describe_error(err)}")
    if exists:
        return HubCheck(name, read.hub_id, read.split, "ok (archive)", f"reads {read.archive.file}")
    return HubCheck(name, read.hub_id, read.split, status, f"{why}; no {read.archive.file} either")


def _moved(hub_id: str) -> str | None:
    try:
        canonical = _canonical_id(hub_id)
    except Exception:  # noqa: BLE001 - the rows loaded; the id lookup is a courtesy
        return None
    return canonical if canonical != hub_id else None


def check_dataset(spec: DatasetSpec, rows: int = 20) -> list[HubCheck]:
    """One verdict per split the project reads of a registry dataset."""
    splits = [s for s in dict.fromkeys((spec.train_split, spec.dev_split, spec.llm_eval_split)) if s]
    if spec.multiqa_name is not None:
        checks = []
        for split, file_split in (("train", "train"), ("validation", "dev")):
            url = MULTIQA_URL.format(name=spec.multiqa_name, split=file_split)
            try:
                status = OK if _url_exists(url) else "unreachable"
                detail = url
            except Exception as err:  # noqa: BLE001
                status, detail = "unreachable", f"{url}: {describe_error(err)}"
            checks.append(HubCheck(spec.name, url, split, status, detail))
        return checks
    checks = []
    for split in splits:
        found, features, failure = _fetch(spec.name, HubRead.of_dataset(spec, split), rows)
        checks.append(failure or _check_rows(spec, split, found, features))
    return checks


def _check_rows(spec: DatasetSpec, split: str, rows: list[dict], features: Any) -> HubCheck:
    renamed = {field: column for column, field in spec.columns}  # QA fields under the data's own column names
    wanted = tuple(renamed.get(f, f) for f in QA_FIELDS) if spec.task_class == "qa" else (*spec.inputs,
                                                                                           spec.label_field)
    present = _field_names(rows, features)
    missing = [field for field in wanted if field not in present]
    if missing:
        return HubCheck(spec.name, spec.hub_id, split, "missing field",
                        f"no {', '.join(missing)} (fields: {', '.join(sorted(present))})")
    if spec.task_class == "cr" and not spec.regression:
        mismatch = _label_mismatch(spec, rows, features)
        if mismatch:
            return HubCheck(spec.name, spec.hub_id, split, "label mismatch", mismatch)
    moved = _moved(spec.hub_id)
    if moved:
        return HubCheck(spec.name, spec.hub_id, split, "moved", f"the hub answers as {moved}")
    return HubCheck(spec.name, spec.hub_id, split, OK, f"{len(rows)} rows read")


def _field_names(rows: list[dict], features: Any) -> set[str]:
    """The dataset's fields: from its features where the stream declares them, else from the rows read."""
    if features:
        return set(features)
    return set().union(*(row.keys() for row in rows)) if rows else set()


def _label_mismatch(spec: DatasetSpec, rows: list[dict], features: Any) -> str:
    """Why the labels do not match the registry, or ""."""
    feature = features.get(spec.label_field) if features else None
    names = getattr(feature, "names", None)
    if names is not None and spec.label_transform is None:
        # The loader reads a ClassLabel by its names (data_utils.label_order), so only names that are not the
        # registry's labels in some order would be misread.
        if not named(names) or order_by_name(names, spec.labels) is not None:
            return ""
        return f"hub labels {list(names)} are not the registry's {list(spec.labels)} in any order"
    for index, row in enumerate(rows):
        try:
            label_index(spec, row[spec.label_field], f"{spec.name} row", index)
        except FuteError as err:
            return str(err)
    return ""


def check_pool_source(name: str, source: PoolSource, rows: int = 20) -> HubCheck:
    """Whether a pool source loads and its templates find their fields in the first rows."""
    found, features, failure = _fetch(name, HubRead.of_pool_source(source), rows)
    if failure is not None:
        return failure
    present = _field_names(found, features)
    wanted = {field.split("[")[0] for template in source.templates
              for field in _template_fields(template)}
    missing = sorted(wanted - present)
    if missing:
        return HubCheck(name, source.hub_id, source.split, "missing field",
                        f"no {', '.join(missing)} (fields: {', '.join(sorted(present))})")
    moved = _moved(source.hub_id)
    if moved:
        return HubCheck(name, source.hub_id, source.split, "moved", f"the hub answers as {moved}")
    return HubCheck(name, source.hub_id, source.split, OK, f"{len(found)} rows read")


def _template_fields(template: str) -> list[str]:
    from string import Formatter

    return [field for _, field, _, _ in Formatter().parse(template) if field]


def run_checks(dataset_names: Iterable[str], pool_names: Iterable[str] = (), rows: int = 20,
               progress: Callable[[HubCheck], None] | None = None) -> list[HubCheck]:
    """Every verdict, registry datasets first; `progress` is called with each as it comes."""
    checks = []
    for name in dataset_names:
        for check in check_dataset(DATASETS[name], rows):
            checks.append(check)
            if progress:
                progress(check)
    for name in pool_names:
        check = check_pool_source(name, POOL_SOURCES[name], rows)
        check.name = f"pool:{name}"
        checks.append(check)
        if progress:
            progress(check)
    return checks


def as_rows(checks: Iterable[HubCheck]) -> list[dict[str, str]]:
    return [asdict(check) for check in checks]
