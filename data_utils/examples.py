"""Rows -> examples: CR examples {"text", "text_pair" (pairs only), "label"}, QA examples {"id", "title",
"context", "question", "answers": {"text": [...], "answer_start": [...]}}.

A label may come as "1", "1.0", 1.0, " positive", "TRUE" or a boolean (`label_index`). "No gold
label" has many spellings, all read as one (`no_label`): JSON null or NaN, a parquet/pandas null,
an empty label cell or any of pandas' missing-value texts ("NA", "NaN", "null", "None", "N/A",
"#N/A", ... in any letter case), and the hub's -1 (for regression only outside the dataset's
`label_range`). Such examples are left out and counted, as are examples with an empty input (null,
NaN, an empty or blank text; but for the empty second text of a dataset with `optional_pair`, read as
""); more than 10% of either stops the run (`check_kept`).
"""
from __future__ import annotations

import ast
import json
import logging
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from configs.datasets import GENRE_LABELS, DatasetSpec
from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

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
    if spec.optional_pair and texts[1] is None:
        texts[1] = ""  # no second text: the first alone, with an empty pair, as a pool x' without one
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
               f"({value}: <one of {', '.join(spec.labels)}>)")
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


# A yes/no QA set's context begins with both answers, so that each is a span (DatasetSpec.yes_no).
YES_NO_PREFIX = "yes no "
_YES_NO = {**dict.fromkeys(("true", "yes", "1", "1.0"), True), **dict.fromkeys(("false", "no", "0", "0.0"), False)}


def yes_no_rows(rows: list[dict], where: str) -> list[dict]:
    """Rows of a yes/no QA set as extractive QA: the context is YES_NO_PREFIX + the context, and the answer the span
    "yes" (at 0) or "no" (at 4), from the answers column's boolean, 0/1 or true/false/yes/no text. A row with no
    gold label (`no_label`) keeps none, and qa_examples leaves it out and counts it; any other value is an error."""
    converted = []
    for index, row in enumerate(rows):
        value = row.get("answers")
        if no_label(value):
            converted.append({**row, "answers": None})
            continue
        answer = _YES_NO.get(str(value).strip().lower())
        if answer is None:
            raise FuteError(f"{where}: example {index} has the answer {str(value)[:60]!r}, not yes/no (true/false, "
                            f"1/0); a yes_no dataset's answers column holds one of those")
        text = "yes" if answer else "no"
        converted.append({**row, "context": YES_NO_PREFIX + str(row.get("context") or ""),
                          "answers": {"text": [text], "answer_start": [YES_NO_PREFIX.index(text)]}})
    return converted


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
