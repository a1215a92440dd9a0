"""Datasets as data: the registry (`configs/datasets.yaml`) and declaration files -> DatasetSpec.

The registry (every dataset of the paper) and a user's file (docs/your_data.md) are read by one
function, `parse_declaration` (data_utils/declaration_parser.py), so a dataset of one's own is a
dataset like any other. Every script takes either where it takes a dataset (`get_spec`): a registry
name, or the path of a declaration file (a value ending in .yaml, .yml or .json); paths inside a file
are relative to its folder. Records of outputs made from a declared dataset carry its declaration
(`to_declaration`, data_utils/artifacts/data_identity.py), and `recorded_spec` rebuilds the spec from
it without the file.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from configs.datasets import Declaration, DatasetSpec
from data_utils.artifacts.completion import sha256_of
from data_utils.declaration_parser import DOCS, parse_declaration
from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

REGISTRY_FILE = Path(__file__).resolve().parent.parent / "configs" / "datasets.yaml"
DECLARATION_SUFFIXES = (".yaml", ".yml", ".json")
# libyaml's loader when PyYAML has it (ten times faster: the registry is read by every script).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def is_declaration(value: str) -> bool:
    """True for a dataset argument that names a declaration file rather than a registry dataset."""
    return str(value).lower().endswith(DECLARATION_SUFFIXES)


# ----------------------------------------------------------------------------- files and the registry

def read_declaration(path: str | Path) -> DatasetSpec:
    """The dataset a YAML or JSON file declares; every file it names must exist."""
    given = str(path)
    path = Path(path).expanduser()
    if not path.is_file():
        raise FuteError(f"dataset declaration {given} not found; write one ({DOCS}) or give a registry name")
    spec = parse_declaration(_load(path), given, path.resolve().parent,
                             Declaration(given=given, path=str(path.resolve()), sha256=sha256_of(path)))
    missing = [(split, file) for split, file in spec.files if not Path(file).is_file()]
    if missing:
        split, file = missing[0]
        raise FuteError(f"{given}: files.{split}: {file} not found (paths are relative to the declaration's folder)")
    return spec


def _load(path: Path) -> Any:
    """A declaration file's content: JSON for .json, else YAML (a mistake is one line naming where)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FuteError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    if not text.strip():
        raise FuteError(f"{path} is empty; write a declaration into it ({DOCS})")
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except json.JSONDecodeError as err:
        raise FuteError(f"{path}: not valid JSON: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FuteError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None


def _read_registry() -> dict[str, DatasetSpec]:
    entries = _load(REGISTRY_FILE)
    datasets: dict[str, DatasetSpec] = {}
    for index, entry in enumerate(entries["datasets"]):
        spec = parse_declaration(entry, f"{REGISTRY_FILE.name} entry {index}")
        if spec.name in datasets:
            raise FuteError(f"{REGISTRY_FILE}: {spec.name} is declared twice")
        datasets[spec.name] = spec
    return datasets

DATASETS: dict[str, DatasetSpec] = _read_registry()
CR_DATASETS: dict[str, DatasetSpec] = {name: spec for name, spec in DATASETS.items() if spec.task_class == "cr"}
QA_DATASETS: dict[str, DatasetSpec] = {name: spec for name, spec in DATASETS.items() if spec.task_class == "qa"}
LLM_DATASETS: dict[str, DatasetSpec] = {name: spec for name, spec in CR_DATASETS.items() if spec.llm_genre}
# Task families for the unified-space evaluation (task_emb/space_eval.py): the MTE of a model fine-tuned
# on a task should land nearest a DTE of the same family.
TASK_FAMILIES: dict[str, tuple[str, ...]] = {
    family: tuple(name for name, spec in DATASETS.items() if spec.family == family)
    for family in dict.fromkeys(spec.family for spec in DATASETS.values() if spec.family)}


def get_spec(dataset: str, task: str | None = None, script: str | None = None) -> DatasetSpec:
    """A registry dataset by name, or the dataset a declaration file declares (`is_declaration`); `task`
    ("cr" / "qa") refuses the other kind, naming `script`'s counterpart. An unknown name lists the known."""
    script = script or {"cr": "run_cr_train.py", "qa": "run_qa_train.py"}.get(task or "", "this script")
    if is_declaration(dataset):
        spec = read_declaration(dataset)
        if spec.name in DATASETS:
            logger.warning("%s declares %s, the name of a registry dataset: its outputs are told apart from the "
                           "registry's by their data (records and tables)", dataset, spec.name)
    else:
        spec = DATASETS.get(dataset)
        if spec is None:
            known = sorted(n for n, s in DATASETS.items() if task is None or s.task_class == task)
            raise FuteError(f"unknown dataset {dataset!r} for {script}; known: {', '.join(known)}; or declare your "
                            f"own in a .yaml file and pass its path ({DOCS})")
    if task is not None and spec.task_class != task:
        other = {"cr": "run_cr_train.py", "qa": "run_qa_train.py"}[spec.task_class]
        raise FuteError(f"{dataset} is a {spec.task_class} dataset, not {task}: use {other}")
    return spec


def declared_files(spec: DatasetSpec) -> list[Path]:
    """What a declared dataset is read from: its declaration and the files it names (a step's sources, whose
    changes make the step stale)."""
    return [Path(spec.declaration.path), *(Path(path) for _, path in spec.files)]


def check_own_name(spec: DatasetSpec, where: str) -> None:
    """Where outputs are placed, and found done, by dataset name (a sweep, the demo), a declared dataset must not
    take a registry dataset's name: its outputs would be taken for the registry's."""
    if spec.declaration is not None and spec.name in DATASETS:
        raise FuteError(f"{spec.declaration.given} declares {spec.name}, a registry dataset's name; {where} names "
                        f"its outputs by dataset: give the declaration a name of its own")


def recorded_spec(entry: Any, name: str, where: str) -> DatasetSpec:
    """The dataset an output's record names: the declaration its `data` entry carries (see
    data_utils/artifacts/data_identity.py), else the registry dataset `name` (records of the registry's, and
    records written before the entry existed)."""
    if isinstance(entry, dict) and entry.get("spec"):
        declaration = entry.get("declaration")
        return parse_declaration(entry["spec"], f"{where} (the declaration recorded in it)",
                                 declaration=Declaration(**declaration) if isinstance(declaration, dict) else None)
    spec = DATASETS.get(name)
    if spec is None:
        raise FuteError(f"{where} names dataset {name!r}, which is neither in the registry nor declared in the "
                        f"record; pass the dataset (its registry name or declaration file)")
    return spec
