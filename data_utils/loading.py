"""Raw data -> train/dev lists of examples, from the hub or from local files.

Only the registry in `configs/datasets.py` says what a dataset looks like; this
module reads it. Local data (`--dataset_path`) is a folder with one file per
split named after the split (`train.jsonl`, `validation.jsonl`, `dev_r3.csv`,
...) in JSONL, JSON, CSV, TSV or parquet, with the hub dataset's field names; a
`validation*` split may also be named `dev*` (GLUE's `dev.tsv`, `dev_matched.tsv`).
QA data may also be SQuAD-format JSON (optionally gzipped), which is how the MultiQA
sets are published.

Files as everyday tools write them are read as meant: CSV/TSV cells are kept as text
(a sentence "1.50" or "NA" stays that text), a UTF-8 byte-order mark is ignored, JSON
in any of pandas' `to_json` layouts is accepted, TSV is read without quoting (GLUE's
files hold bare quote characters) with GLUE's column names mapped to the hub's, and a
label may come as "1", "1.0", 1.0, " positive", "TRUE" or a boolean (see `label_index`).

CR examples come out as {"text", "text_pair" (pairs only), "label"}; QA examples
as {"id", "title", "context", "question", "answers": {"text": [...],
"answer_start": [...]}}.

(Longer than the project's other modules, on purpose: every source a dataset can come from
ends in the same two example layouts, and the rules for reading them belong together.)
"""
from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import os
import random
import tempfile
import urllib.request
from pathlib import Path

from configs.datasets import DATASETS, MULTIQA_URL, DatasetSpec
from configs.hparams import DEV_SPLIT
from data_utils.archives import open_archive
from data_utils.errors import FuteError
from data_utils.hub_read import HubRead, describe_error, read_split
from data_utils.io import iter_jsonl

logger = logging.getLogger(__name__)

LOCAL_SUFFIXES = (".jsonl", ".json", ".json.gz", ".csv", ".tsv", ".parquet")
# A dataset where more than this fraction of examples has no gold label is
# refused rather than silently shrunk (the reference used the same bound).
MAX_MISSING_LABEL_FRACTION = 0.1


def get_spec(name: str, task: str | None = None) -> DatasetSpec:
    """The registry entry of `name`; an unknown name lists the known ones."""
    spec = DATASETS.get(name)
    if spec is None or (task is not None and spec.task != task):
        known = sorted(n for n, s in DATASETS.items() if task is None or s.task == task)
        script = {"cr": "run_cr_train.py", "qa": "run_qa_train.py"}.get(task or "", "this script")
        raise FuteError(f"unknown dataset {name!r} for {script}; known: {', '.join(known)}")
    return spec


def cache_dir() -> Path:
    """Where downloaded MultiQA files are kept: $FUTE_CACHE, else ~/.cache/fute."""
    return Path(os.environ.get("FUTE_CACHE", Path.home() / ".cache" / "fute"))


# ----------------------------------------------------------------------------- reading files

def find_split_file(folder: Path, split: str) -> Path | None:
    """`<split>.<suffix>` in folder; for a validation split also `dev...` (GLUE's file names)."""
    names = [split] + ([split.replace("validation", "dev", 1)] if split.startswith("validation") else [])
    for name in names:
        for suffix in LOCAL_SUFFIXES:
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def read_table(path: Path, spec: DatasetSpec | None = None) -> list[dict]:
    """Rows of a JSONL/JSON/CSV/TSV/parquet file; SQuAD-format JSON is flattened to one row per question.

    A TSV file of a dataset with GLUE column names (`spec.tsv_rename`/`tsv_columns`) gets the hub's names.
    """
    name = path.name
    if name.endswith(".jsonl"):
        return list(iter_jsonl(path))
    if name.endswith(".csv") or name.endswith(".tsv"):
        return _read_delimited(path, spec)
    if name.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict(orient="records")
    if name.endswith(".json") or name.endswith(".json.gz"):
        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8-sig") as handle:
                content = json.load(handle)
        except (json.JSONDecodeError, OSError, EOFError, UnicodeDecodeError) as err:  # EOFError: a truncated .gz
            raise FuteError(f"{path}: cannot be read as JSON ({err})") from None
        if isinstance(content, dict) and "data" in content and "schema" not in content and "columns" not in content:
            return flatten_squad(content)
        rows = _json_rows(content)
        if rows is None:
            raise FuteError(f"{path}: expected a list of rows, a pandas to_json layout or SQuAD-format JSON with a "
                            f"'data' key")
        return rows
    raise FuteError(f"{path}: unsupported file type; use one of {', '.join(LOCAL_SUFFIXES)}")


def _read_delimited(path: Path, spec: DatasetSpec | None) -> list[dict]:
    """CSV (comma, standard quoting) or TSV (tab, no quoting), every cell as text; "" is an empty cell."""
    import pandas as pd

    tsv = path.name.endswith(".tsv")
    names = list(spec.tsv_columns) if tsv and spec is not None and spec.tsv_columns else None
    try:
        frame = pd.read_csv(path, sep="\t" if tsv else ",", quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
                            dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            header=None if names else "infer", names=names)
    except UnicodeDecodeError:
        raise FuteError(f"{path}: not UTF-8 text; save it as UTF-8 (a spreadsheet's \"CSV UTF-8\" format)") from None
    except pd.errors.ParserError as err:
        raise FuteError(f"{path}: cannot be read as {'TSV' if tsv else 'CSV'}: {str(err).strip()}") from None
    if tsv and spec is not None and spec.tsv_rename:
        frame = frame.rename(columns=dict(spec.tsv_rename))
    return frame.to_dict(orient="records")


def _json_rows(content) -> list[dict] | None:
    """Rows of JSON in any layout pandas' `to_json` writes; None for none of them.

    records: [{col: v}, ...]; table: {"schema", "data": records}; split: {"columns", "index", "data": [[...]]};
    columns: {col: {index: v}}; index: {index: {col: v}}; values: [[...]] has no names and is refused.
    """
    if isinstance(content, list):
        return content if all(isinstance(row, dict) for row in content) else None
    if not isinstance(content, dict) or not content:
        return None
    if "schema" in content and isinstance(content.get("data"), list):
        return [{k: v for k, v in row.items() if k != "index"} for row in content["data"]]
    if {"columns", "data"} <= set(content):
        return [dict(zip(content["columns"], values)) for values in content["data"]]
    if not all(isinstance(value, dict) for value in content.values()):
        return None
    inner = [set(value) for value in content.values()]
    if all(keys == inner[0] for keys in inner) and all(str(key).lstrip("-").isdigit() for key in content):
        return [dict(content[key]) for key in content]  # index layout: one object per row
    index = list(next(iter(content.values())))
    return [{column: values.get(row) for column, values in content.items()} for row in index]  # columns layout


def flatten_squad(content: dict) -> list[dict]:
    """SQuAD-format JSON (articles -> paragraphs -> questions) -> one QA row per question."""
    rows = []
    for article in content["data"]:
        title = article.get("title", "")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                rows.append({
                    "id": str(qa["id"]),
                    "title": title,
                    "context": context,
                    "question": qa["question"],
                    "answers": {"text": [a["text"] for a in answers],
                                "answer_start": [int(a["answer_start"]) for a in answers]},
                })
    return rows


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
    """{'train': rows, 'dev': rows}; a dataset without a dev split is cut 80/20 (seed 42)."""
    wanted = {"train": spec.train_split, "dev": spec.dev_split}
    rows: dict[str, list[dict]] = {}
    for role, split in wanted.items():
        if split is None:
            continue
        if dataset_path is None and spec.multiqa_name is not None:
            rows[role] = read_table(download_multiqa(spec, "train" if role == "train" else "dev"))
        else:
            local_archive = dataset_path is not None and _local_archive(spec, Path(dataset_path)) is not None
            if dataset_path is not None and not Path(dataset_path).is_dir() and not local_archive:
                raise FuteError(f"--dataset_path {dataset_path} is not a folder; it must hold one file per split, "
                                f"e.g. {spec.train_split}.jsonl")
            rows[role] = load_split(spec, split, dataset_path)[0]
    if "dev" not in rows:
        rows["train"], rows["dev"] = split_train_dev(rows["train"])
        logger.info("%s has no dev split: cut %d train / %d dev (seed %d)",
                    spec.name, len(rows["train"]), len(rows["dev"]), DEV_SPLIT["seed"])
    return rows


def split_train_dev(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Shuffle with a fixed seed and cut at 80%, as the reference did."""
    order = list(range(len(rows)))
    random.Random(DEV_SPLIT["seed"]).shuffle(order)
    cut = int(len(rows) * DEV_SPLIT["train_fraction"])
    return [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]


def load_split(spec: DatasetSpec, split: str, dataset_path: str | None = None) -> tuple[list[dict], str]:
    """(rows, origin) of one named split: from the hub, a local folder (`<split>.jsonl`, ...) or,
    when `dataset_path` is a file, that file itself."""
    if dataset_path is None:
        return _read_hub_split(spec, split), spec.hub_id or ""
    path = Path(dataset_path)
    archive = _local_archive(spec, path)
    if archive is not None:
        return open_archive(spec.archive, archive).to_list(), str(archive)
    if path.is_file():
        return read_table(path, spec), str(path)
    if not path.is_dir():
        raise FuteError(f"--dataset_path {path} does not exist; give a folder with one file per split, e.g. "
                        f"{split}.jsonl, or one file holding the split")
    found = find_split_file(path, split)
    if found is None:
        raise FuteError(f"no file for split {split!r} of {spec.name} in {path}; expected {split}.jsonl "
                        f"(or {', '.join(s for s in LOCAL_SUFFIXES[1:])})")
    return read_table(found, spec), str(found)


def _read_hub_split(spec: DatasetSpec, split: str) -> list[dict]:
    """The split from the hub, or from the archive the registry names (the read: data_utils/hub_read.py)."""
    try:
        return read_split(HubRead.of_dataset(spec, split)).to_list()
    except Exception as err:  # the hub raises many types; all mean the same to the user
        local = _local_archive_names(spec) if spec.archive else ""
        raise FuteError(f"cannot load {spec.hub_id} ({spec.hub_config or spec.data_dir or 'default'}) split {split} "
                        f"from the hub: {describe_error(err)}; pass --dataset_path with local files{local}") from None


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

def cr_examples(spec: DatasetSpec, rows: list[dict], where: str) -> list[dict]:
    """Rows -> {"text", "text_pair"?, "label"}; examples without a gold label are dropped."""
    examples, missing = [], 0
    for index, row in enumerate(rows):
        _check_fields(row, (*spec.inputs, spec.label_field), where, index)
        label = label_index(spec, row[spec.label_field], where, index)
        if label is None:
            missing += 1
            continue
        example = {"text": str(row[spec.inputs[0]]), "label": label}
        if spec.is_pair:
            example["text_pair"] = str(row[spec.inputs[1]])
        examples.append(example)
    _check_not_empty(examples, missing, where)
    if missing:
        logger.warning("%s: %d examples have no gold label and are left out", where, missing)
    return examples


def label_index(spec: DatasetSpec, value, where: str, index: int) -> int | float | None:
    """A raw gold label -> its index in spec.labels (a float for regression); None = no gold label.

    No gold label: None, an empty cell, NaN (parquet, pandas' JSON null) or the hub's -1.
    A label may be a label name (exact, or in other letter case: Excel's "TRUE"), an
    index as a number or as text ("1", "1.0": pandas writes a label column with a gap as
    floats), or a boolean (boolq's False/True); surrounding spaces are ignored. A
    non-integral number is refused, never rounded.
    """
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if spec.regression:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise FuteError(f"{where}: example {index} has label {value!r}, not a number (a regression "
                            f"target)") from None
    if spec.label_transform == "first_char":
        value = str(value)[:1]
    if isinstance(value, str):
        if value in spec.labels:
            return spec.labels.index(value)
        same_letters = [i for i, label in enumerate(spec.labels) if label.lower() == value.lower()]
        if len(same_letters) == 1:
            return same_letters[0]
        try:
            value = float(value)
        except ValueError:
            raise FuteError(f"{where}: example {index} has label {value!r}, not one of {list(spec.labels)} "
                            f"nor an index 0..{len(spec.labels) - 1}") from None
    if isinstance(value, float) and not value.is_integer():
        raise FuteError(f"{where}: example {index} has label {value!r}, which is not a class index "
                        f"0..{len(spec.labels) - 1} ({', '.join(spec.labels)})")
    number = int(value)
    if number == -1:  # the hub's marker for "no gold label" (snli, glue test splits)
        return None
    if not 0 <= number < len(spec.labels):
        raise FuteError(f"{where}: example {index} has label {number}, outside 0..{len(spec.labels) - 1} "
                        f"({', '.join(spec.labels)})")
    return number


def qa_examples(rows: list[dict], where: str) -> list[dict]:
    """Validate SQuAD-style rows and give each a string id (the row number where a row has none).

    Answers come as {"text": [...], "answer_start": [...]} (the hub's layout; CSV stores it as
    JSON text) or as SQuAD's per-question list [{"text", "answer_start"}, ...]. Ids must be
    unique: post-processing and scoring pair predictions with questions by id.
    """
    examples, seen = [], {}
    for index, row in enumerate(rows):
        _check_fields(row, ("context", "question", "answers"), where, index)
        texts, starts = _answer_lists(row["answers"], where, index)
        if len(texts) != len(starts):
            raise FuteError(f"{where}: example {index} has {len(texts)} answer texts but {len(starts)} answer starts")
        raw_id = row.get("id")
        has_id = raw_id is not None and raw_id != "" and not (isinstance(raw_id, float) and math.isnan(raw_id))
        question_id = str(raw_id) if has_id else str(index)
        if question_id in seen:
            raise FuteError(f"{where}: examples {seen[question_id]} and {index} share the id {question_id!r}; "
                            f"question ids must be unique (drop the id field to number the rows)")
        seen[question_id] = index
        examples.append({
            "id": question_id,
            "title": str(row.get("title", "")),
            "context": str(row["context"]),
            "question": str(row["question"]),
            "answers": {"text": texts, "answer_start": starts},
        })
    _check_not_empty(examples, 0, where)
    return examples


def _answer_lists(answers, where: str, index: int) -> tuple[list[str], list[int]]:
    """(texts, starts) of a row's answers in either layout (see qa_examples)."""
    if isinstance(answers, str):  # CSV stores the nested value as JSON text
        try:
            answers = json.loads(answers)
        except json.JSONDecodeError:
            raise FuteError(f"{where}: example {index} has answers {answers[:60]!r}, which is not JSON; write "
                            '{"text": [...], "answer_start": [...]} in that cell') from None
    if isinstance(answers, list):  # SQuAD's per-question layout
        answers = {"text": [a.get("text") for a in answers], "answer_start": [a.get("answer_start") for a in answers]}
    if not isinstance(answers, dict):
        raise FuteError(f"{where}: example {index} has answers of type {type(answers).__name__}; expected "
                        '{"text": [...], "answer_start": [...]} or a list of {"text", "answer_start"}')
    return [str(t) for t in answers.get("text", [])], [int(s) for s in answers.get("answer_start", [])]


def load_examples(spec: DatasetSpec, dataset_path: str | None = None, max_train_examples: int | None = None,
                  seed: int = 42, max_dev_examples: int | None = None) -> dict[str, list[dict]]:
    """{'train': examples, 'dev': examples} ready for tokenisation; each split optionally cut to a seeded
    sample of at most `max_train_examples` / `max_dev_examples` examples (in file order)."""
    raw = load_raw_splits(spec, dataset_path)
    origin = dataset_path or spec.hub_id or spec.multiqa_name
    splits = {}
    for role, rows in raw.items():
        where = f"{spec.name} {role} ({origin})"
        splits[role] = qa_examples(rows, where) if spec.task == "qa" else cr_examples(spec, rows, where)
    for role, limit in (("train", max_train_examples), ("dev", max_dev_examples)):
        if limit is not None and len(splits[role]) > limit:
            keep = sorted(random.Random(seed).sample(range(len(splits[role])), limit))
            splits[role] = [splits[role][i] for i in keep]
    logger.info("%s: %d train / %d dev examples", spec.name, len(splits["train"]), len(splits["dev"]))
    return splits


def _check_fields(row: dict, fields: tuple[str, ...], where: str, index: int) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        # A spreadsheet in a locale with decimal commas exports CSV with ";" between cells.
        hint = ("; the file looks ';'-separated: export it as comma-separated CSV" if len(row) == 1
                and ";" in next(iter(row)) else "; local files must use the hub dataset's field names")
        raise FuteError(f"{where}: example {index} has no field {missing[0]!r} (fields: {', '.join(sorted(row))})"
                        f"{hint}")


def _check_not_empty(examples: list[dict], missing: int, where: str) -> None:
    if not examples:
        raise FuteError(f"{where}: no usable examples; check the file or the split name")
    fraction = missing / (missing + len(examples))
    if fraction > MAX_MISSING_LABEL_FRACTION:
        raise FuteError(f"{where}: {missing} of {missing + len(examples)} examples have no gold label; "
                        f"is this an unlabelled (test) split?")
