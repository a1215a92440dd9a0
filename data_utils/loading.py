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
in any of pandas' `to_json` layouts is accepted, and so is JSON Lines under a `.json`
name (what `datasets.Dataset.to_json` writes by default), TSV is read without quoting
(GLUE's files hold bare quote characters) with GLUE's column names mapped to the hub's,
and a label may come as "1", "1.0", 1.0, " positive", "TRUE" or a boolean (see `label_index`).

"No gold label" has many spellings, all read as one (`no_label`): JSON null or NaN, a
parquet/pandas null, an empty label cell or any of pandas' missing-value texts ("NA",
"NaN", "null", "None", "N/A", "#N/A", ... in any letter case), and the hub's -1 (for
regression only outside the dataset's `label_range`). Such examples are left out and
counted, as are examples with an empty input (null, NaN, an empty or blank text); more
than 10% of either stops the run (`check_kept`).

CR examples come out as {"text", "text_pair" (pairs only), "label"}; QA examples
as {"id", "title", "context", "question", "answers": {"text": [...],
"answer_start": [...]}}.

(Longer than the project's other modules, on purpose: every source a dataset can come from
ends in the same two example layouts, and the rules for reading them belong together.)
"""
from __future__ import annotations

import ast
import csv
import gzip
import json
import logging
import math
import os
import random
import tempfile
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

from configs.datasets import DATASETS, MULTIQA_URL, DatasetSpec
from configs.hparams import DEV_SPLIT
from data_utils.archives import open_archive
from data_utils.errors import FuteError
from data_utils.hub_read import HubRead, describe_error, read_split
from data_utils.io import iter_jsonl
from data_utils.label_order import labels_by_name

logger = logging.getLogger(__name__)

LOCAL_SUFFIXES = (".jsonl", ".json", ".json.gz", ".csv", ".tsv", ".parquet")
# A split where more than this fraction of examples has no gold label (or the same input empty) is
# refused rather than silently shrunk (the reference used the same bound for labels).
MAX_LEFT_OUT_FRACTION = 0.1
# Label text that means "no value": pandas' read_csv defaults (its `na_values` list, which holds R's NA,
# Excel's #N/A and the C library's spellings of NaN; listed here, as pandas keeps its copy private) and
# Python's None, compared in lower case. Only a label is read this way: an input text "NA" stays text.
MISSING_LABEL_TEXTS = frozenset(text.lower() for text in (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null"))
# The hub's gold label of an unlabelled example (snli's no-consensus pairs, GLUE's test splits).
HUB_NO_LABEL = -1


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
    A file without rows (0 bytes, blank lines only, a CSV header alone, JSON `[]`, a parquet file of no rows,
    a gzip of nothing) is an error saying so, in every format alike.
    """
    if path.is_file() and path.stat().st_size == 0:
        raise FuteError(f"{path} is empty (0 bytes); write the split's examples into it, one row each")
    rows = _file_rows(path, spec)
    if not rows:
        raise FuteError(f"{path} holds no rows{_header_note(path)}; write the split's examples into it, one row each")
    return rows


def _header_note(path: Path) -> str:
    """", only a header (a, b)" for a CSV/TSV file that has one, else nothing: what an empty table holds."""
    if not path.name.endswith((".csv", ".tsv")):
        return ""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = next((line.strip() for line in handle if line.strip()), "")
    return f", only a header ({header[:80]})" if header else ""


def _file_rows(path: Path, spec: DatasetSpec | None) -> list[dict]:
    """read_table's reading, by file type."""
    name = path.name
    if name.endswith(".jsonl"):
        return list(iter_jsonl(path))
    if name.endswith(".csv") or name.endswith(".tsv"):
        return _read_delimited(path, spec)
    if name.endswith(".parquet"):
        import pandas as pd  # slow to import (~0.5 s): only reading a file needs it

        try:
            rows = pd.read_parquet(path).to_dict(orient="records")
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise FuteError(f"{path}: cannot be read as parquet ({str(err).splitlines()[0]}); write it with "
                            f"pandas' to_parquet or datasets' to_parquet") from None
        return labels_by_name(rows, _parquet_features(path), spec, str(path))
    if name.endswith(".json") or name.endswith(".json.gz"):
        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8-sig") as handle:
                text = handle.read()
            if not text.strip():
                return []
            content = json.loads(text)
        except json.JSONDecodeError as err:
            if err.msg == "Extra data" and _is_json_object(next((ln for ln in text.splitlines() if ln.strip()), "")):
                return _json_lines(path)
            raise FuteError(f"{path}: cannot be read as JSON ({err})") from None
        except (OSError, EOFError, UnicodeDecodeError) as err:  # EOFError: a truncated .gz
            raise FuteError(f"{path}: cannot be read as JSON ({err})") from None
        if isinstance(content, dict) and "data" in content and "schema" not in content and "columns" not in content:
            return flatten_squad(content)
        rows = _json_rows(content)
        if rows is None:
            raise FuteError(f"{path}: expected a list of rows, a pandas to_json layout or SQuAD-format JSON with a "
                            f"'data' key")
        return rows
    raise FuteError(f"{path}: unsupported file type; use one of {', '.join(LOCAL_SUFFIXES)}")


def _parquet_features(path: Path) -> dict:
    """The datasets Features (dict form) that datasets' to_parquet stores in the file's metadata; {} without."""
    import pyarrow.parquet as pq

    stored = (pq.read_schema(path).metadata or {}).get(b"huggingface")
    try:
        features = json.loads(stored)["info"]["features"] if stored else {}
    except (ValueError, KeyError, TypeError):  # metadata of another tool: no ClassLabel to read
        return {}
    return features if isinstance(features, dict) else {}


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _json_lines(path: Path) -> list[dict]:
    """A `.json` file holding one JSON object per line (datasets' `to_json` default, pandas' `lines=True`)."""
    if path.name.endswith(".gz"):
        raise FuteError(f"{path}: gzipped JSON Lines; decompress it (gunzip) and name it {path.name[:-len('.json.gz')]}"
                        f".jsonl")
    return list(iter_jsonl(path))


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
    except pd.errors.EmptyDataError:  # blank lines only
        return []
    except pd.errors.ParserError as err:
        raise FuteError(f"{path}: cannot be read as {'TSV' if tsv else 'CSV'}: {str(err).strip()}") from None
    if tsv and spec is not None and spec.tsv_rename:
        frame = frame.rename(columns=dict(spec.tsv_rename))
    return frame.to_dict(orient="records")


def _json_rows(content) -> list[dict] | None:
    """Rows of JSON in any layout pandas' `to_json` writes; None for none of them.

    records: [{col: v}, ...]; table: {"schema", "data": records}; split: {"columns", "index", "data": [[...]]};
    columns: {col: {index: v}}; index: {index: {col: v}}; values: [[...]] has no names and is refused.
    A single object that is none of these is one row (a JSON Lines file of one line).
    """
    if isinstance(content, list):
        return content if all(isinstance(row, dict) for row in content) else None
    if not isinstance(content, dict):
        return None
    if not content:
        return []  # an empty frame in the index layout
    if "schema" in content and isinstance(content.get("data"), list):
        return [{k: v for k, v in row.items() if k != "index"} for row in content["data"]]
    if {"columns", "data"} <= set(content):
        return [dict(zip(content["columns"], values)) for values in content["data"]]
    if not all(isinstance(value, dict) for value in content.values()):
        return [content]
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

def is_null(value) -> bool:
    """True for no value at all: None, NaN (python or numpy) or pandas' NA/NaT, as JSON null/NaN, parquet nulls
    and pandas give it. A container (a list of answers) is a value."""
    import pandas as pd  # a module lookup once imported; importing it at the top would slow every script's start

    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def no_label(value) -> bool:
    """True for every spelling of "no gold label" but the hub's -1 (a number, see `label_index`): a null
    (`is_null`) or a text in MISSING_LABEL_TEXTS, letter case and surrounding spaces ignored."""
    return is_null(value) or (isinstance(value, str) and value.strip().lower() in MISSING_LABEL_TEXTS)


def input_text(value) -> str | None:
    """An input field's text as given (a number as its digits); None for an empty input: a null (a NaN cell
    must never become the sentence "nan") or a text that is empty or blank."""
    if is_null(value):
        return None
    text = str(value)
    return text if text.strip() else None


def cr_examples(spec: DatasetSpec, rows: list[dict], where: str) -> list[dict]:
    """Rows -> {"text", "text_pair"?, "label"}.

    An example without a gold label (`label_index` gives None; a row without the label field too, unless
    no row has it: then the field name is wrong) or with an empty input (`input_text`) is left out and
    counted; `check_kept` refuses a split that loses too many.
    """
    _check_column(rows, spec.label_field, where)
    examples, left_out = [], Counter()
    for index, row in enumerate(rows):
        _check_fields(row, spec.inputs, where, index)
        label = label_index(spec, row.get(spec.label_field), where, index)
        texts = [input_text(row[field]) for field in spec.inputs]
        empty = [field for field, text in zip(spec.inputs, texts) if text is None]
        if label is None or empty:
            left_out[spec.label_field if label is None else empty[0]] += 1
            continue
        example = {"text": texts[0], "label": label}
        if spec.is_pair:
            example["text_pair"] = texts[1]
        examples.append(example)
    check_kept(examples, left_out, spec.label_field, where)
    return examples


def label_index(spec: DatasetSpec, value, where: str, index: int) -> int | float | None:
    """A raw gold label -> its index in spec.labels (a float for regression); None = no gold label.

    No gold label: every spelling `no_label` knows, and the hub's -1 as a number or text ("-1",
    "-1.0"). A label may be a label name (exact, or in other letter case: Excel's "TRUE"), an
    index as a number or as text ("1", "1.0": pandas writes a label column with a gap as
    floats), or a boolean (boolq's False/True); surrounding spaces are ignored. A
    non-integral number is refused, never rounded.

    Regression: a finite number within `spec.label_range`; -1 outside that range is the hub's
    "no gold label" (stsb's test split), any other value outside it an error naming the range.
    """
    if no_label(value):
        return None
    if isinstance(value, str):
        value = value.strip()
    if spec.regression:
        return _regression_label(spec, value, where, index)
    if spec.label_transform == "first_char":
        value = str(value)[:1]
    if isinstance(value, str):
        if value in spec.labels:
            return spec.labels.index(value)
        same_letters = [i for i, label in enumerate(spec.labels) if label.lower() == value.lower()]
        if len(same_letters) == 1:
            return same_letters[0]
    try:
        number = float(value)  # also numpy numbers and booleans
    except (TypeError, ValueError):
        raise FuteError(f"{where}: example {index} has label {value!r}, not one of {list(spec.labels)} "
                        f"nor an index 0..{len(spec.labels) - 1}") from None
    if not number.is_integer():
        raise FuteError(f"{where}: example {index} has label {number!r}, which is not a class index "
                        f"0..{len(spec.labels) - 1} ({', '.join(spec.labels)})")
    if number == HUB_NO_LABEL:
        return None
    if not 0 <= number < len(spec.labels):
        raise FuteError(f"{where}: example {index} has label {int(number)}, outside 0..{len(spec.labels) - 1} "
                        f"({', '.join(spec.labels)})")
    return int(number)


def _regression_label(spec: DatasetSpec, value, where: str, index: int) -> float | None:
    """A regression target (see label_index); None for the hub's -1 outside the dataset's range."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FuteError(f"{where}: example {index} has label {value!r}, not a number (a regression "
                        f"target)") from None
    if not math.isfinite(number):
        raise FuteError(f"{where}: example {index} has label {value!r}, not a finite number")
    low, high = spec.label_range or (-math.inf, math.inf)
    if low <= number <= high:
        return number
    if number == HUB_NO_LABEL:
        return None
    raise FuteError(f"{where}: example {index} has label {number:g}, outside {spec.name}'s range {low:g} to {high:g} "
                    f"(only {HUB_NO_LABEL}, the hub's marker, means no gold label)")


def qa_examples(rows: list[dict], where: str) -> list[dict]:
    """Validate SQuAD-style rows and give each a string id (the row number where a row has none).

    Answers come as {"text": [...], "answer_start": [...]} (the hub's layout; numpy arrays from
    parquet; in a CSV cell as JSON or as the Python text pandas' and datasets' `to_csv` write)
    or as SQuAD's per-question list [{"text", "answer_start"}, ...]. No answers at all (null,
    NaN, an empty cell, a row without the field) is no gold label: left out and counted, like
    an empty context or question (`check_kept`). Empty lists are a gold label, "unanswerable"
    (SQuAD v2), and so is an answer with empty text (some tools write "" at -1). Ids must be
    unique: post-processing and scoring pair predictions with questions by id.
    """
    _check_column(rows, "answers", where)
    examples, seen, left_out = [], {}, Counter()
    for index, row in enumerate(rows):
        _check_fields(row, ("context", "question"), where, index)
        answers = _answers(row.get("answers"), where, index)
        fields = {"answers": answers, "context": input_text(row["context"]), "question": input_text(row["question"])}
        empty = [field for field, value in fields.items() if value is None]
        if empty:
            left_out[empty[0]] += 1
            continue
        raw_id = row.get("id")
        question_id = str(index) if is_null(raw_id) or raw_id == "" else str(raw_id)
        if question_id in seen:
            raise FuteError(f"{where}: examples {seen[question_id]} and {index} share the id {question_id!r}; "
                            f"question ids must be unique (drop the id field to number the rows)")
        seen[question_id] = index
        examples.append({"id": question_id, "title": input_text(row.get("title")) or "", **fields})
    check_kept(examples, left_out, "answers", where)
    return examples


def _answers(value, where: str, index: int) -> dict | None:
    """{"text": [...], "answer_start": [...]} of a row's answers in any layout (see qa_examples); None for none."""
    if isinstance(value, str):
        if no_label(value):
            return None
        value = _cell_value(value, where, index)
    if is_null(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(answer, dict) for answer in value):
        value = {"text": [a.get("text") for a in value], "answer_start": [a.get("answer_start") for a in value]}
    if not isinstance(value, dict) or not {"text", "answer_start"} <= set(value):
        raise FuteError(f"{where}: example {index} has answers {str(value)[:60]!r}; expected "
                        '{"text": [...], "answer_start": [...]} or a list of {"text", "answer_start"}')
    texts, starts = _listed(value["text"]), _listed(value["answer_start"])
    if len(texts) != len(starts):
        raise FuteError(f"{where}: example {index} has {len(texts)} answer texts but {len(starts)} answer starts")
    answers = {"text": [], "answer_start": []}
    for text, start in zip(texts, starts):
        if is_null(text) or str(text) == "":
            continue  # no answer text: the question is unanswerable, whatever the start says
        number = float(start) if isinstance(start, (int, float, np.number)) else math.nan
        if not (number.is_integer() and number >= 0):
            raise FuteError(f"{where}: example {index} has the answer {str(text)!r} at {start!r}; answer_start "
                            f"must be a character offset 0, 1, ... into the context")
        answers["text"].append(str(text))
        answers["answer_start"].append(int(number))
    return answers


def _listed(value) -> list:
    """A list of a field's answers: a list or numpy array as it is, one text or number as a list of one."""
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]


def _cell_value(text: str, where: str, index: int):
    """A nested value written into a CSV cell: JSON, or the Python text of pandas' and datasets' `to_csv`
    ({'text': ['a'], ...}; numpy arrays as array([...], dtype=...)), read as literals only, never run."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(_NumpyAsLiterals().visit(ast.parse(text.strip(), mode="eval")))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise FuteError(f"{where}: example {index} has answers {text[:60]!r}, which is not JSON; write "
                        '{"text": [...], "answer_start": [...]} in that cell') from None


class _NumpyAsLiterals(ast.NodeTransformer):
    """numpy's reprs, `array([...], dtype=object)` and `np.int64(3)`, -> their one argument, for literal_eval."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        numpy = (isinstance(func, ast.Name) and func.id == "array") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy"))
        return self.visit(node.args[0]) if numpy and len(node.args) == 1 else node


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


def _check_column(rows: list[dict], field: str, where: str) -> None:
    """A gold-label field that no row has is a wrong field name (an error), not a split without labels."""
    if rows and not any(field in row for row in rows):
        _check_fields(rows[0], (field,), where, 0)


def check_kept(examples: list[dict], left_out: Counter, label_field: str, where: str) -> None:
    """Log what a split lost (`left_out`: field -> examples left out for lacking it), or refuse it.

    Refused: a split with no example left; more than MAX_LEFT_OUT_FRACTION without a gold label
    (an unlabelled test split) or with the same input empty (a wrong column, a broken export).
    """
    total = len(examples) + sum(left_out.values())
    for field, count in sorted(left_out.items(), key=lambda item: item[0] != label_field):
        what = "no gold label" if field == label_field else f"an empty {field!r}"
        if count / total > MAX_LEFT_OUT_FRACTION:
            fix = "is this an unlabelled (test) split?" if field == label_field else f"check the {field!r} column"
            raise FuteError(f"{where}: {count} of {total} examples have {what}; {fix}")
        logger.warning("%s: %d examples have %s and are left out", where, count, what)
    if not examples:
        raise FuteError(f"{where}: no usable examples; check the file or the split name")
