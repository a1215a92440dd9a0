"""Raw data -> train/dev lists of examples, from the hub or from local files.

Only a dataset's DatasetSpec (the registry's, or a declaration's: data_utils/declarations.py)
says what it looks like; this module reads it. Local data is the files a declaration names,
or `--dataset_path`: a folder with one file per split named after the split (`train.jsonl`,
`validation.jsonl`, `dev_r3.csv`, ...), or one file, the training split (its dev split a
seeded cut); in JSONL, JSON, CSV, TSV or parquet, with the dataset's field names; a
`validation*` split may also be named `dev*` (GLUE's `dev.tsv`, `dev_matched.tsv`). QA data
may also be SQuAD-format JSON (optionally gzipped), which is how the MultiQA sets are published.

Files as everyday tools write them are read as meant: CSV/TSV cells are kept as text
(a sentence "1.50" or "NA" stays that text), a UTF-8 byte-order mark is ignored and UTF-16 with one
(Windows PowerShell's `>`) is read as such, JSON
in any of pandas' `to_json` layouts is accepted, and so is JSON Lines under a `.json`
name (what `datasets.Dataset.to_json` writes by default), TSV is read with CSV quoting where
pandas' or datasets' `to_csv(sep="\t")` wrote it and without where GLUE did (bare quote characters),
with GLUE's column names mapped to the hub's, a row of the wrong width is an error naming its line,
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
import io
import json
import logging
import math
import os
import random
import re
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from configs.datasets import DEV_CUT, GENRE_LABELS, MULTIQA_URL, DatasetSpec
from configs.hparams import DEV_SPLIT
from data_utils.archives import open_archive
from data_utils.errors import FuteError
from data_utils.hub_read import HubRead, describe_error, read_split
from data_utils.io import iter_jsonl, text_encoding
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
# SNLI's and MultiNLI's own files (JSON Lines, TSV) mark a pair without annotator consensus with the gold
# label "-" (the hub gives these -1): no gold label in a three-way NLI dataset.
NLI_NO_CONSENSUS = "-"
# The left-out key of a row with every cell empty (check_kept counts these apart from examples).
EMPTY_ROW = "<empty row>"


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
    with open(path, encoding=text_encoding(path), errors="replace") as handle:
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
        encoding = "utf-8-sig" if name.endswith(".gz") else text_encoding(path)
        try:
            with opener(path, "rt", encoding=encoding) as handle:
                text = handle.read()
            if not text.strip():
                return []
            content = json.loads(text)
        except json.JSONDecodeError as err:
            if err.msg == "Extra data" and _is_json_object(next((ln for ln in text.splitlines() if ln.strip()), "")):
                return _json_lines(path)
            raise FuteError(f"{path}: cannot be read as JSON ({err})") from None
        except UnicodeDecodeError:
            raise FuteError(f"{path}: not {encoding.replace('-sig', '').upper()} text; save it as UTF-8") from None
        except (OSError, EOFError) as err:  # EOFError: a truncated .gz
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


# A CSV-quoted cell of a TSV file: "..." with every inner quote doubled, from a cell's start (the file's, a
# line's or after a tab) to its end. Written to begin with the quote, which `re` then searches for quickly.
_QUOTED_TSV_CELL = re.compile(r'"(?<![^\t\n\r]")[^"]*(?:""[^"]*)*"(?=[\t\r\n]|\Z)')


def _read_delimited(path: Path, spec: DatasetSpec | None) -> list[dict]:
    """CSV (comma, standard quoting) or TSV rows, every cell as text ("" for an empty cell); blank lines are skipped.

    A TSV file is read with CSV quoting (pandas' and datasets' to_csv(sep="\t")) when every quote in it lies in
    a CSV-quoted cell (`_QUOTED_TSV_CELL`), else without quoting, as GLUE writes it (bare quotes are text; a GLUE
    cell holds no tab or line break). A file that reads both ways with quoted cells holding tabs or line breaks
    (`"` alone in one GLUE cell, `a"` ending a later one, reads as one quoted cell) is an error, never guessed.
    A row whose number of cells is not the header's is an error naming file and line.
    """
    tsv = path.name.endswith(".tsv")
    encoding = text_encoding(path)
    try:
        with open(path, encoding=encoding, newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError:
        raise FuteError(f"{path}: not {'UTF-8' if encoding.startswith('utf-8') else encoding.upper()} text; save it "
                        f"as UTF-8 (a spreadsheet's \"CSV UTF-8\" format)") from None
    if not tsv:
        return _delimited_rows(path, text, ",", True, None)
    header = list(spec.tsv_columns) if spec is not None and spec.tsv_columns else None
    rename = dict(spec.tsv_rename) if spec is not None else {}
    cells = list(_QUOTED_TSV_CELL.finditer(text))
    quoted = bool(cells) and sum(cell[0].count('"') for cell in cells) == text.count('"')
    spanning = next((cell for cell in cells if set(cell[0]) & {"\t", "\n", "\r"}), None) if quoted else None
    if spanning is not None:
        try:
            _delimited_rows(path, text, "\t", False, header, rename)
        except FuteError:
            pass  # without quoting its rows break apart: the quoted cells hold tabs or line breaks
        else:
            raise FuteError(f"{path}:{text.count(chr(10), 0, spanning.start()) + 1}: a quoted cell holds a tab or a "
                            f"line break, yet every line also reads as a row of GLUE's unquoted TSV: which is meant "
                            f"cannot be told; save the split as .csv or .jsonl")
    return _delimited_rows(path, text, "\t", quoted, header, rename)


def _delimited_rows(path: Path, text: str, delimiter: str, quoted: bool, header: list[str] | None,
                    rename: dict[str, str] | None = None) -> list[dict]:
    """The rows of a delimited file's text, with CSV quoting or none; `header` for a file without one (its
    first row otherwise), each name as `rename` maps it."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE, strict=True)
    rows, line = [], 0
    try:
        for cells in reader:
            first, line = line + 1, reader.line_num
            if not cells:
                continue  # a blank line
            if header is None:
                header = [(rename or {}).get(name, name) for name in cells]
                continue
            if len(cells) != len(header):
                raise FuteError(f"{path}:{first}: {len(cells)} cells where the header has {len(header)} "
                                f"({', '.join(header)[:80]}); {_width_fix(kind, quoted)}")
            rows.append(dict(zip(header, cells)))
    except csv.Error as err:
        raise FuteError(f"{path}:{reader.line_num}: cannot be read as {kind} ({err}); {_width_fix(kind, quoted)}") \
            from None
    return rows


def _width_fix(kind: str, quoted: bool) -> str:
    """What fixes a delimited file whose rows do not parse to the header's width."""
    if not quoted:
        return ("a cell holding a tab or a line break must be quoted as CSV does (pandas' to_csv(sep=\"\\t\") "
                "writes it so), or that line fixed")
    return (f"quote a cell holding {'a tab' if kind == 'TSV' else 'a comma'}, a quote or a line break as "
            f"\"...\" with inner quotes doubled (pandas' to_csv writes it so), or fix that line")


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
    return _renamed(spec, rows, origin), origin


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


def cr_examples(spec: DatasetSpec, rows: list[dict], where: str, numbers: Sequence[int] | None = None
                ) -> list[dict]:
    """Rows -> {"text", "text_pair"?, "label"}; errors name a row by its number in `numbers` (default: its
    position), the index a user finds it at in the file `where` names.

    An example without a gold label (`label_index` gives None; a row without the label field too, unless
    no row has it: then the field name is wrong) or with an empty input (`input_text`) is left out and
    counted, and so is a row with every cell empty (`EMPTY_ROW`); `check_kept` refuses a split that loses
    too many.
    """
    check_column(rows, spec.label_field, where)
    examples, left_out = [], Counter()
    for index, row in zip(range(len(rows)) if numbers is None else numbers, rows):
        example = cr_example(spec, row, where, index)
        if isinstance(example, str):
            left_out[example] += 1
        else:
            examples.append(example)
    check_kept(examples, left_out, spec.label_field, where)
    return examples


def cr_example(spec: DatasetSpec, row: dict, where: str, index: int) -> dict | str:
    """Row `index` -> its example {"text", "text_pair"?, "label"}, or why it is left out: EMPTY_ROW, the label
    field (no gold label) or the first input field that is empty (see `cr_examples`)."""
    if is_empty_row(row):
        return EMPTY_ROW
    _check_fields(row, spec.inputs, where, index)
    label = label_index(spec, row.get(spec.label_field), where, index)
    texts = [input_text(row[field]) for field in spec.inputs]
    empty = [field for field, text in zip(spec.inputs, texts) if text is None]
    if label is None or empty:
        return spec.label_field if label is None else empty[0]
    example = {"text": texts[0], "label": label}
    if spec.is_pair:
        example["text_pair"] = texts[1]
    return example


def is_empty_row(row: dict) -> bool:
    """True for a row with every cell null or blank: a spreadsheet's trailing rows, not an example."""
    return all(is_null(value) or (isinstance(value, str) and not value.strip()) for value in row.values())


def label_index(spec: DatasetSpec, value, where: str, index: int) -> int | float | None:
    """A raw gold label -> its index in spec.labels (a float for regression); None = no gold label.

    No gold label: every spelling `no_label` knows, the hub's -1 as a number or text ("-1",
    "-1.0"), and in a three-way NLI dataset SNLI's and MultiNLI's "-" (`NLI_NO_CONSENSUS`).
    A label may be a label name or a value the dataset's label_values maps to one (exact,
    or in other letter case: Excel's "TRUE"; a number names the label its digits spell, so that
    labels 1-5 read 1 as "1"), an index as a number or as text ("1", "1.0": pandas writes a label
    column with a gap as floats), or a boolean (boolq's False/True); surrounding spaces are
    ignored. A non-integral number is refused, never rounded. Where label_values maps numbers, a
    number it does not map is refused, not read as an index (`_numbers_are_codes`).

    Regression: a finite number within `spec.label_range`; -1 outside that range is the hub's
    "no gold label" (stsb's test split), any other value outside it an error naming the range.
    """
    if no_label(value):
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == NLI_NO_CONSENSUS and set(spec.labels) == set(GENRE_LABELS["nli"]):
            return None
    if spec.regression:
        return _regression_label(spec, value, where, index)
    if spec.label_transform == "first_char":
        value = str(value)[:1]
    name = _label_name(spec, value)
    if name is not None:
        return spec.labels.index(name)
    try:
        number = float(value)  # also numpy numbers and booleans
    except (TypeError, ValueError):
        raise _unknown_label(spec, repr(value), where, index) from None
    if not number.is_integer():
        raise FuteError(f"{where}: example {index} has label {number!r}, which is not a class index "
                        f"0..{len(spec.labels) - 1} ({', '.join(spec.labels)})")
    if number == HUB_NO_LABEL:
        return None
    if not 0 <= number < len(spec.labels) or _numbers_are_codes(spec):
        raise _unknown_label(spec, str(int(number)), where, index)
    return int(number)


def _numbers_are_codes(spec: DatasetSpec) -> bool:
    """Whether label_values maps numbers (star ratings 1, 2, 4, 5): then a number it does not map is a code no
    one mapped (a 0 or 3 star review), never read as a label index."""
    return any(key.lstrip("-").isdigit() for key, _ in spec.label_values)


def _unknown_label(spec: DatasetSpec, value: str, where: str, index: int) -> FuteError:
    """The error of a label that is none of the labels, their indices nor a key of label_values, with its fix."""
    keys = ", ".join(dict(spec.label_values))
    indices = "" if _numbers_are_codes(spec) else f"their indices 0..{len(spec.labels) - 1}"
    named = f"none of the labels ({', '.join(spec.labels)})" + (
        f", {indices + ' ' if indices else ''}nor a key of label_values ({keys})" if keys else f" nor {indices}")
    if spec.declaration is not None:
        fix = (f"if it stands for one of them, add it to label_values in {spec.declaration.given} "
               f"(e.g. {value}: {spec.labels[0]})")
    elif not keys:
        fix = "a dataset declared in a file of one's own maps other words to labels (label_values, docs/your_data.md)"
    else:
        fix = "check the file"
    return FuteError(f"{where}: example {index} has label {value}, {named}; {fix}")


def _label_name(spec: DatasetSpec, value) -> str | None:
    """The label a raw value names (see label_index): a value of spec.label_values, else a label name; exact,
    else in other letter case when that matches one label only. None when it names none."""
    if isinstance(value, (bool, np.bool_)):
        text = str(bool(value))
    elif isinstance(value, str):
        text = value
    elif isinstance(value, (int, float, np.number)) and float(value).is_integer():
        text = str(int(value))
    else:
        return None
    for names in (dict(spec.label_values), {label: label for label in spec.labels}):
        if text in names:
            return names[text]
        same_letters = {label for written, label in names.items() if written.lower() == text.lower()}
        if len(same_letters) == 1:
            return same_letters.pop()
    return None


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
    an empty context or question and a row of empty cells (`check_kept`). Empty lists are a gold
    label, "unanswerable" (SQuAD v2), and so is an answer with empty text (some tools write "" at -1). Ids must be
    unique: post-processing and scoring pair predictions with questions by id.
    """
    check_column(rows, "answers", where)
    examples, seen, left_out = [], {}, Counter()
    for index, row in enumerate(rows):
        if is_empty_row(row):
            left_out[EMPTY_ROW] += 1
            continue
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
    splits = {}
    for role, raw in raw_splits(spec, dataset_path).items():
        splits[role] = (qa_examples(raw.rows, raw.where) if spec.task == "qa" else
                        cr_examples(spec, raw.rows, raw.where, raw.numbers))
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
                and ";" in next(iter(row)) else "; local files must use the dataset's field names, or declare "
                "their columns in a dataset file of one's own (columns:, docs/your_data.md)")
        raise FuteError(f"{where}: example {index} has no field {missing[0]!r} (fields: {', '.join(sorted(row))})"
                        f"{hint}")


def check_column(rows: list[dict], field: str, where: str) -> None:
    """A gold-label field that no row has is a wrong field name (an error), not a split without labels."""
    if rows and not any(field in row for row in rows):
        _check_fields(rows[0], (field,), where, 0)


def check_kept(examples: list, left_out: Counter, label_field: str, where: str) -> dict[str, int]:
    """Log what a split lost (`left_out`: field -> examples left out for lacking it; EMPTY_ROW -> rows of
    empty cells), or refuse it; return the counts, for a run's record.

    Refused: a split with no example left; more than MAX_LEFT_OUT_FRACTION of its examples without a gold
    label (an unlabelled test split) or with the same input empty (a wrong column, a broken export). Rows of
    empty cells are no examples: they are counted apart and never tip that rule.
    Counts: {"rows", "examples" (kept), "no_gold_label", "empty_input", "empty_rows"}.
    """
    empty_rows = left_out.pop(EMPTY_ROW, 0)
    if empty_rows:
        logger.warning("%s: %d rows with every cell empty (a spreadsheet's trailing rows?) are skipped", where,
                       empty_rows)
    total = len(examples) + sum(left_out.values())
    for field, count in sorted(left_out.items(), key=lambda item: item[0] != label_field):
        what = "no gold label" if field == label_field else f"an empty {field!r}"
        if count / total > MAX_LEFT_OUT_FRACTION:
            fix = "is this an unlabelled (test) split?" if field == label_field else f"check the {field!r} column"
            raise FuteError(f"{where}: {count} of {total} examples have {what}; {fix}")
        logger.warning("%s: %d examples have %s and are left out", where, count, what)
    if not examples:
        raise FuteError(f"{where}: no usable examples; check the file or the split name")
    no_label = left_out.get(label_field, 0)
    return {"rows": total + empty_rows, "examples": len(examples), "no_gold_label": no_label,
            "empty_input": total - len(examples) - no_label, "empty_rows": empty_rows}
