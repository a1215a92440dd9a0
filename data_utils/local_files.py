"""Local data files as everyday tools write them -> rows (one dict per row, under the file's column names).

JSON Lines, JSON (any of pandas' `to_json` layouts, a list of rows, JSON Lines under a `.json`
name as `datasets.Dataset.to_json` writes it, SQuAD-format JSON, optionally gzipped), CSV, TSV and
parquet. CSV/TSV cells are kept as text (a sentence "1.50" or "NA" stays that text), a UTF-8
byte-order mark is ignored and UTF-16 with one (Windows PowerShell's `>`) is read as such. TSV is
read with CSV quoting where pandas' or datasets' `to_csv(sep="\t")` wrote it and without where GLUE
did (bare quote characters), with GLUE's column names mapped to the hub's; a row of the wrong width
is an error naming its line. A file without rows, in any format, is an error saying so.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path

from configs.datasets import DatasetSpec
from data_utils.errors import FuteError
from data_utils.io import iter_jsonl, text_encoding
from data_utils.label_order import labels_by_name

LOCAL_SUFFIXES = (".jsonl", ".json", ".json.gz", ".csv", ".tsv", ".parquet")


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
