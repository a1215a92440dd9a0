"""Does every dataset of the registry (and of the pool U) load from where it lives on the hub today?

`scripts/check_hub.py` runs these checks for a user with network access. Nothing is
downloaded in full: each split the project reads is opened in streaming mode and its
first rows are checked. Per (dataset, split) one status:

    ok             loads; the fields exist; labels match the registry
    ok (archive)   the hub's repository holds only a loading script, but the published
                   archive the registry names for that case is there (financial_phrasebank)
    moved          loads, but the hub answers under another id (a renamed repository)
    script-only    the repository holds only a loading script, which datasets>=4 refuses
    missing field  a field the project reads is not in the rows
    label mismatch the label names or order differ from the registry (read from the
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

from configs.datasets import DATASETS, MULTIQA_URL, DatasetSpec
from configs.unsup_pool import POOL_SOURCES, PoolSource
from data_utils.errors import FuteError
from data_utils.loading import label_index

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


def _stream(hub_id: str, config: str | None, split: str, revision: str | None):
    import datasets

    return datasets.load_dataset(hub_id, config, split=split, revision=revision, streaming=True)


def _canonical_id(hub_id: str) -> str:
    """The id the hub answers under (differs from `hub_id` for a renamed repository)."""
    from huggingface_hub import HfApi

    return HfApi().dataset_info(hub_id).id


def _archive_exists(hub_id: str, filename: str) -> bool:
    from huggingface_hub import file_exists

    return file_exists(hub_id, filename, repo_type="dataset")


def _url_exists(url: str) -> bool:
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
        return 200 <= response.status < 400


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def _is_script_only(err: Exception) -> bool:
    text = str(err).lower()
    return "scripts are no longer supported" in text or "loading script" in text


def _fetch(hub_id: str, config: str | None, split: str, revision: str | None, rows: int
           ) -> tuple[list[dict] | None, Any, HubCheck | None]:
    """(first rows, features, None) or (None, None, the failing verdict with empty name)."""
    try:
        data = _stream(hub_id, config, split, revision)
        return list(itertools.islice(iter(data), rows)), getattr(data, "features", None), None
    except Exception as err:  # noqa: BLE001 - every hub failure becomes a verdict
        status = "script-only" if _is_script_only(err) else "unreachable"
        return None, None, HubCheck("", hub_id, split, status, _first_line(err))


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
                status, detail = "unreachable", f"{url}: {_first_line(err)}"
            checks.append(HubCheck(spec.name, url, split, status, detail))
        return checks
    checks = []
    for split in splits:
        found, features, failure = _fetch(spec.hub_id, spec.hub_config, split, spec.revision, rows)
        if failure is not None:
            if spec.archive is not None and failure.status == "script-only":
                checks.append(_archive_check(spec, split, failure.detail))
            else:
                checks.append(HubCheck(spec.name, spec.hub_id, split, failure.status, failure.detail))
            continue
        checks.append(_check_rows(spec, split, found, features))
    return checks


def _archive_check(spec: DatasetSpec, split: str, why: str) -> HubCheck:
    try:
        exists = _archive_exists(spec.hub_id, spec.archive[0])
    except Exception as err:  # noqa: BLE001
        return HubCheck(spec.name, spec.hub_id, split, "unreachable", f"{why}; archive: {_first_line(err)}")
    if exists:
        return HubCheck(spec.name, spec.hub_id, split, "ok (archive)", f"reads {spec.archive[0]}")
    return HubCheck(spec.name, spec.hub_id, split, "script-only", f"{why}; no {spec.archive[0]} either")


def _check_rows(spec: DatasetSpec, split: str, rows: list[dict], features: Any) -> HubCheck:
    wanted = QA_FIELDS if spec.task == "qa" else (*spec.inputs, spec.label_field)
    present = _field_names(rows, features)
    missing = [field for field in wanted if field not in present]
    if missing:
        return HubCheck(spec.name, spec.hub_id, split, "missing field",
                        f"no {', '.join(missing)} (fields: {', '.join(sorted(present))})")
    if spec.task == "cr" and not spec.regression:
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
        return "" if tuple(names) == spec.labels else f"hub order {list(names)}, registry {list(spec.labels)}"
    for index, row in enumerate(rows):
        try:
            label_index(spec, row[spec.label_field], f"{spec.name} row", index)
        except FuteError as err:
            return str(err)
    return ""


def check_pool_source(name: str, source: PoolSource, rows: int = 20) -> HubCheck:
    """Whether a pool source loads and its templates find their fields in the first rows."""
    found, features, failure = _fetch(source.hub_id, source.config, source.split, source.revision, rows)
    if failure is not None:
        return HubCheck(name, source.hub_id, source.split, failure.status, failure.detail)
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
