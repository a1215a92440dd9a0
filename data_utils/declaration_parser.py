"""One dataset declaration (a mapping, as YAML or JSON gives it) -> its DatasetSpec, and back.

Every key is read by `_Keys`, so each mistake is one error naming the file, the key path
(`llm.genre`) and the fix. `to_declaration` is the inverse of `parse_declaration`. The keys, their
defaults and their checks are documented in docs/your_data.md.
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from configs import archives
from configs.archives import Archive
from configs.datasets import DEV_CUT, GENRE_LABELS, Declaration, DatasetSpec
from data_utils.errors import FuteError

DOCS = "docs/your_data.md"
TASKS = ("cr", "qa")
KEYS = ("name", "task", "family", "columns", "labels", "label_values", "label_range", "label_transform", "metrics",
        "main_metric", "files", "splits", "hub", "multiqa", "archive", "tsv", "llm", "yes_no", "optional_pair",
        "notes")
# The data's column for each role; QA examples are read under these field names (data_utils/examples.py).
COLUMNS = {"cr": ("text", "text_pair", "label"), "qa": ("question", "context", "answers", "id", "title")}
FILE_SPLITS = ("train", "dev", "test")
SPLIT_ROLES = ("train", "dev")
HUB_KEYS = ("id", "config", "revision", "data_dir")
TSV_KEYS = ("rename", "columns")
LLM_KEYS = ("genre", "split", "labels", "verbalizers")
LABEL_TRANSFORMS = ("first_char",)
# What each kind of task may report (data_utils/metrics.py) and reports by default; main_metric defaults to
# the last listed. QA is always scored with SQuAD-v2 exact and F1 (task_emb/evaluation.py).
CLASSIFICATION_METRICS = ("accuracy", "f1", "macro_f1", "matthews_correlation")
REGRESSION_METRICS = ("pearsonr", "spearmanr")
QA_METRICS = ("exact", "f1")
DEFAULT_METRICS = {"classification": ("accuracy",), "regression": REGRESSION_METRICS}
# A name is also a file-name part and a table label ("<llm>:p<k>", "<name>@<data>" are tables' own).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# ----------------------------------------------------------------------------- one mapping, key by key


class _Keys:
    """One mapping of a declaration (the file, or a key's value such as `llm`), read key by key.

    Every error names the file and the key path (`llm.genre`) and says what to write instead.
    """

    def __init__(self, content: Any, where: str, allowed: Iterable[str], prefix: str = ""):
        if not isinstance(content, Mapping):
            what = f"{prefix[:-1]} must be" if prefix else "a declaration is"
            raise FuteError(f"{where}: {what} a mapping of keys (key: value), not {_shown(content)} ({DOCS})")
        self.content, self.where, self.prefix, self.allowed = dict(content), where, prefix, tuple(allowed)
        for key in self.content:
            if str(key) not in self.allowed:
                close = difflib.get_close_matches(str(key), self.allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.error(key, f"unknown key; {hint}the keys are {', '.join(self.allowed)}")

    def error(self, key: Any, message: str) -> FuteError:
        return FuteError(f"{self.where}: {self.prefix}{key}: {message}")

    def has(self, key: str) -> bool:
        return self.content.get(key) is not None

    def flag(self, key: str) -> bool:
        """true or false (false when absent)."""
        value = self.content.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, f"is {_shown(value)}; write true or false")
        return value

    def text(self, key: str, default: str | None = None, required: str | None = None) -> str | None:
        """A word or phrase; `required`: the fix to name when the key is missing."""
        if not self.has(key):
            if required is not None:
                raise FuteError(f"{self.where}: missing {self.prefix}{key}: {required}")
            return default
        return self.name(key, self.content[key])

    def choice(self, key: str, choices: Iterable[str], default: str | None = None, required: str | None = None
               ) -> str | None:
        value = self.text(key, default, required)
        if value is not None and value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def name(self, key: Any, value: Any) -> str:
        """A label, column or other name: text, or a whole number written without quotes."""
        if isinstance(value, bool):
            raise self.error(key, f"{value} is a YAML boolean (yes/no/true/false/on/off are); quote the word, "
                                  f"e.g. \"yes\"")
        if isinstance(value, int) or isinstance(value, str) and value.strip():
            return str(value).strip()
        raise self.error(key, f"expected a name, got {_shown(value)}")

    def names(self, key: str) -> tuple[str, ...]:
        """A list of distinct names (one name alone is a list of one)."""
        if not self.has(key):
            return ()
        value = self.content[key]
        items = [self.name(key, item) for item in (value if isinstance(value, list) else [value])]
        repeated = sorted({item for item in items if items.count(item) > 1})
        if repeated:
            raise self.error(key, f"{', '.join(repeated)} listed twice; list each once")
        return tuple(items)

    def pairs(self, key: str) -> dict[str, Any]:
        """A mapping of names to values (its values unchecked)."""
        if not self.has(key):
            return {}
        value = self.content[key]
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping (name: value), got {_shown(value)}")
        return {self.name(key, name): item for name, item in value.items()}

    def sub(self, key: str, allowed: Iterable[str]) -> _Keys | None:
        return _Keys(self.content[key], self.where, allowed, f"{self.prefix}{key}.") if self.has(key) else None


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:40]!r}" if value is not None else "nothing"


# ----------------------------------------------------------------------------- the parser


def parse_declaration(content: Any, where: str, base: Path | None = None,
                      declaration: Declaration | None = None) -> DatasetSpec:
    """One declaration (a mapping, as YAML or JSON gives it) -> its DatasetSpec; `where` names it in errors,
    `base` is the folder its relative `files` are read from, `declaration` the file it came from.

    The keys, their defaults and their checks: docs/your_data.md. Raises FuteError naming the key.
    """
    keys = _Keys(content, where, KEYS)
    name = keys.text("name", required="give the dataset a name (letters, digits, _ . -), e.g. name: my_reviews")
    if not NAME.fullmatch(name):
        raise keys.error("name", f"{name!r} may hold only letters, digits, _ . and - (it names output files)")
    task = keys.choice("task", TASKS, required="say what kind of task it is: task: cr (classification or "
                                               "regression) or task: qa (extractive question answering)")
    if task == "qa":
        for key in ("labels", "label_range", "label_values", "label_transform", "tsv", "llm"):
            if keys.has(key):
                raise keys.error(key, "is for cr datasets (a qa dataset's answers are spans of its context); "
                                      "remove it")
    elif keys.has("yes_no"):
        raise keys.error("yes_no", "is for qa datasets (yes/no answers read as spans); a cr dataset has labels")
    labels = _labels(keys) if task == "cr" else ()
    regression = keys.has("label_range")
    metrics, main_metric = _metrics(keys, task, regression, labels)
    spec = dict(
        name=name, task_class=task, family=keys.text("family"), labels=labels, regression=regression,
        label_range=_label_range(keys) if regression else None, label_values=_label_values(keys, labels),
        label_transform=keys.choice("label_transform", LABEL_TRANSFORMS), metrics=metrics, main_metric=main_metric,
        yes_no=keys.flag("yes_no"), notes=keys.text("notes", ""), declaration=declaration, **_columns(keys, task),
        **_source(keys, base), **_tsv(keys.sub("tsv", TSV_KEYS)), optional_pair=keys.flag("optional_pair"))
    if spec["optional_pair"] and (task != "cr" or len(spec["inputs"]) != 2):
        raise keys.error("optional_pair", "is for cr sentence pairs (columns: text_pair): it lets their second text "
                                          "be empty; remove it or name the pair's column")
    spec.update(_llm(keys, spec))
    return DatasetSpec(**spec)


def _labels(keys: _Keys) -> tuple[str, ...]:
    labels = keys.names("labels")
    if keys.has("label_range"):
        if labels:
            raise keys.error("labels", "a regression task (label_range) has no label names; keep one of the two")
        return ()
    if len(labels) < 2:
        raise FuteError(f"{keys.where}: {'labels' if labels else 'missing labels'}: list the label names in index "
                        f"order, e.g. labels: [negative, positive] (a regression task gives label_range: "
                        f"[low, high] instead)")
    return labels


def _label_range(keys: _Keys) -> tuple[float, float]:
    value = keys.content["label_range"]
    numbers = value if isinstance(value, list) else []
    if len(numbers) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                    for v in numbers) or not numbers[0] < numbers[1]:
        raise keys.error("label_range", f"expected [low, high], two numbers with low < high, e.g. [1, 5]; got "
                                        f"{_shown(value)}")
    return float(numbers[0]), float(numbers[1])


def _label_values(keys: _Keys, labels: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    values = keys.pairs("label_values")
    if values and not labels:
        raise keys.error("label_values", "maps values to label names: it needs labels (a classification task)")
    pairs = []
    for value, label in values.items():
        label = keys.name(f"label_values.{value}", label)
        if label not in labels:
            raise keys.error(f"label_values.{value}", f"maps to {label!r}, which is not one of labels "
                                                      f"[{', '.join(labels)}]; map it to one of them")
        pairs.append((value, label))
    return tuple(pairs)


def _metrics(keys: _Keys, task: str, regression: bool, labels: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    if task == "qa":
        for key in ("metrics", "main_metric"):
            if keys.has(key):
                raise keys.error(key, "qa datasets are scored with SQuAD-v2 exact and f1 (main: f1); remove it")
        return QA_METRICS, "f1"
    kind = "regression" if regression else "classification"
    allowed = REGRESSION_METRICS if regression else CLASSIFICATION_METRICS
    metrics = keys.names("metrics") or DEFAULT_METRICS[kind]
    unknown = [metric for metric in metrics if metric not in allowed]
    if unknown:
        raise keys.error("metrics", f"{unknown[0]!r} is not a {kind} metric; use {', '.join(allowed)}")
    if "f1" in metrics and len(labels) != 2:
        raise keys.error("metrics", f"f1 is the binary F1 of the second label; with {len(labels)} labels use "
                                    f"macro_f1")
    main_metric = keys.text("main_metric", metrics[-1])
    if main_metric not in metrics:
        raise keys.error("main_metric", f"{main_metric!r} is not among metrics [{', '.join(metrics)}]; add it there")
    return metrics, main_metric


def _columns(keys: _Keys, task: str) -> dict[str, Any]:
    """The spec's fields of `columns`: CR reads its text and label fields by the data's own names; QA reads
    its examples under fixed names, so other names become renames."""
    columns = keys.sub("columns", COLUMNS[task])
    named = {role: columns.text(role) for role in COLUMNS[task]} if columns else {}
    if task == "qa":
        return {"inputs": ("question", "context"),
                "columns": tuple((column, role) for role, column in named.items() if column not in (None, role))}
    texts = (named.get("text") or "text", *([named["text_pair"]] if named.get("text_pair") else []))
    label = named.get("label") or "label"
    if len({*texts, label}) != len(texts) + 1:
        raise FuteError(f"{keys.where}: columns: text, text_pair and label must name different columns")
    return {"inputs": texts, "label_field": label}


def _source(keys: _Keys, base: Path | None) -> dict[str, Any]:
    """Where the data is: files, the hub (+ an archive), or MultiQA; and the names of the splits."""
    given = [key for key in ("files", "hub", "multiqa") if keys.has(key)]
    if len(given) > 1:
        raise keys.error(given[1], f"{given[0]} already says where the data is; keep one of {' and '.join(given)}")
    source: dict[str, Any] = {}
    if keys.has("files"):
        if keys.has("splits"):
            raise keys.error("splits", "files names the splits (train, dev, test): remove splits")
        files = keys.sub("files", FILE_SPLITS)
        paths = {split: _file(files, split, base) for split in FILE_SPLITS if files.has(split)}
        if "train" not in paths:
            raise FuteError(f"{keys.where}: missing files.train: name the training file (a dev split is cut from it "
                            f"when files.dev is not given)")
        source.update(files=tuple(paths.items()), dev_split=DEV_CUT if DEV_CUT in paths else None)
    else:
        splits = keys.sub("splits", SPLIT_ROLES)
        if splits is not None:
            source["train_split"] = splits.text("train", "train")
            source["dev_split"] = splits.text("dev") if "dev" in splits.content else "validation"
    hub = keys.sub("hub", HUB_KEYS)
    if hub is not None:
        source.update(hub_id=hub.text("id", required="the dataset's hub id, e.g. hub: {id: stanfordnlp/imdb}"),
                      hub_config=hub.text("config"), revision=hub.text("revision"), data_dir=hub.text("data_dir"))
    if keys.has("multiqa"):
        source["multiqa_name"] = keys.text("multiqa")
    if keys.has("archive"):
        source["archive"] = _archive(keys)
    return source


def _file(files: _Keys, split: str, base: Path | None) -> str:
    path = Path(files.text(split)).expanduser()
    if not path.is_absolute():
        if base is None:
            raise files.error(split, f"{path} is relative, and this declaration has no folder to read it from")
        path = base / path
    return str(path.resolve())


def _archive(keys: _Keys) -> Archive:
    name = keys.text("archive")
    found = getattr(archives, name, None)
    if not isinstance(found, Archive):
        known = sorted(n for n, v in vars(archives).items() if isinstance(v, Archive))
        raise keys.error("archive", f"{name!r} is not an archive of configs/archives.py; known: {', '.join(known)}")
    return found


def _tsv(tsv: _Keys | None) -> dict[str, Any]:
    if tsv is None:
        return {}
    renames = {column: tsv.name(f"rename.{column}", field) for column, field in tsv.pairs("rename").items()}
    return {"tsv_rename": tuple(renames.items()), "tsv_columns": tsv.names("columns")}


def _llm(keys: _Keys, spec: dict[str, Any]) -> dict[str, Any]:
    """The LLM evaluation keys: the genre, the split answered, and how the labels meet the genre's prompts."""
    llm = keys.sub("llm", LLM_KEYS)
    if llm is None:
        return {}
    if spec["regression"]:
        raise keys.error("llm", "LLM prompts answer with a label: a regression task cannot be an LLM evaluation set")
    genre = llm.choice("genre", GENRE_LABELS, required="the genre whose prompts ask for the label: llm: "
                                                       "{genre: sa} (sentiment) or {genre: nli}")
    split = llm.text("split", spec.get("dev_split", "validation") or DEV_CUT)
    files = [name for name, _ in spec.get("files", ())]
    if files and split not in (*files, DEV_CUT):
        raise llm.error("split", f"{split!r} is none of the files ({', '.join(files)}) nor dev (the dev cut)")
    labels = spec["labels"]
    verbalizers = _verbalizers(llm, labels)
    mapped = {label: llm.name(f"labels.{label}", genre_label) for label, genre_label in llm.pairs("labels").items()}
    for label, genre_label in mapped.items():
        if label not in labels:
            raise llm.error(f"labels.{label}", f"{label!r} is not one of labels [{', '.join(labels)}]")
        if genre_label not in GENRE_LABELS[genre]:
            raise llm.error(f"labels.{label}", f"maps to {genre_label!r}, not a {genre} label "
                                               f"({', '.join(GENRE_LABELS[genre])})")
    if verbalizers and mapped:
        raise llm.error("labels", "verbalizers give the labels their own answer words: remove labels")
    unmapped = [label for label in labels if mapped.get(label, label) not in GENRE_LABELS[genre]]
    if unmapped and not verbalizers:
        raise llm.error("labels", f"label {unmapped[0]!r} is not a {genre} label ({', '.join(GENRE_LABELS[genre])}): "
                                  f"map it (labels: {{{unmapped[0]}: ...}}) or give verbalizers: {{label: [words]}}")
    return {"llm_genre": genre, "llm_eval_split": split, "llm_verbalizers": verbalizers,
            "llm_labels": tuple((label, g) for label, g in mapped.items() if label != g)}


def _verbalizers(llm: _Keys, labels: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    given = llm.pairs("verbalizers")
    if not given:
        return ()
    missing = [label for label in labels if label not in given]
    if missing:
        raise llm.error("verbalizers", f"no words for {missing[0]!r}; give each label [{', '.join(labels)}] its "
                                       f"answer words")
    words = _Keys(given, llm.where, labels, f"{llm.prefix}verbalizers.")
    empty = [label for label in labels if not words.names(label)]
    if empty:
        raise words.error(empty[0], "give at least one answer word, e.g. [good, Good]")
    return tuple((label, words.names(label)) for label in labels)


def to_declaration(spec: DatasetSpec) -> dict[str, Any]:
    """The declaration that `parse_declaration` reads back into `spec` (files as absolute paths)."""
    out: dict[str, Any] = {"name": spec.name, "task": spec.task_class}
    if spec.family:
        out["family"] = spec.family
    if spec.task_class == "cr":
        out["columns"] = {"text": spec.inputs[0], **({"text_pair": spec.inputs[1]} if spec.is_pair else {}),
                          "label": spec.label_field}
        out.update({"label_range": list(spec.label_range)} if spec.regression else {"labels": list(spec.labels)})
        out.update(metrics=list(spec.metrics), main_metric=spec.main_metric)
    elif spec.columns:
        out["columns"] = {role: column for column, role in spec.columns}
    optional = {"label_values": dict(spec.label_values), "label_transform": spec.label_transform,
                "multiqa": spec.multiqa_name, "yes_no": spec.yes_no, "optional_pair": spec.optional_pair,
                "notes": spec.notes,
                "archive": next((n for n, v in vars(archives).items() if v == spec.archive), None) if spec.archive
                else None,
                "tsv": {k: v for k, v in (("rename", dict(spec.tsv_rename)), ("columns", list(spec.tsv_columns))) if v}}
    out.update({key: value for key, value in optional.items() if value})
    if spec.files:
        out["files"] = dict(spec.files)
    else:
        out["splits"] = {"train": spec.train_split, "dev": spec.dev_split}
    if spec.hub_id:
        out["hub"] = {k: v for k, v in (("id", spec.hub_id), ("config", spec.hub_config), ("revision", spec.revision),
                                         ("data_dir", spec.data_dir)) if v}
    if spec.llm_genre:
        out["llm"] = {"genre": spec.llm_genre, "split": spec.llm_eval_split,
                      **({"labels": dict(spec.llm_labels)} if spec.llm_labels else {}),
                      **({"verbalizers": {k: list(v) for k, v in spec.llm_verbalizers}} if spec.llm_verbalizers
                         else {})}
    return out
