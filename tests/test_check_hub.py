"""scripts/check_hub.py against a fake hub: `datasets.load_dataset`, the hub's metadata calls and the MultiQA
web server are replaced by small in-memory stand-ins, one per verdict."""
from __future__ import annotations

import importlib.util
import json
import types
import urllib.request
from pathlib import Path

import datasets
import huggingface_hub
import pytest
from datasets import ClassLabel, Features, Value

from checks.hub import check_dataset, check_pool_source
from configs.unsup_pool import POOL_SOURCES, PoolSource
from data_utils import loading, unsup_pool
from data_utils.declarations import DATASETS
from data_utils.errors import FuteError
from fake_hub import dataset_rows, template_rows, tiny_archive

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_hub", ROOT / "scripts" / "check_hub.py")
check_hub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_hub)


def table(columns: dict, labels: list[str] | None = None, label_field: str = "label"):
    features = {name: Value("string") for name in columns}
    if labels is not None:
        features[label_field] = ClassLabel(names=labels)
    return datasets.Dataset.from_dict(columns, features=Features(features)).to_iterable_dataset()


FAKE_HUB = {
    ("nyu-mll/glue", "sst2"): lambda: table({"sentence": ["good", "bad"], "label": [1, 0]}, ["negative", "positive"]),
    ("nyu-mll/glue", "rte"): lambda: table({"sentence1": ["a"], "sentence2": ["b"], "label": [0]},
                                           ["not_entailment", "entailment"]),  # the other order: read by name
    ("nyu-mll/glue", "cola"): lambda: table({"sentence": ["a"], "label": [0]}, ["bad", "good"]),  # other labels
    ("nyu-mll/glue", "mrpc"): lambda: table({"sentence1": ["a"], "label": [0]}, ["not_equivalent", "equivalent"]),
    ("alisawuffles/WANLI", None): lambda: table({"premise": ["p", "q"], "hypothesis": ["h", "i"],
                                                 "gold": ["entailment", "maybe"]}),
    ("stanfordnlp/imdb", None): lambda: table({"text": ["fine"], "label": [1]}, ["neg", "pos"]),
}
SCRIPT_ONLY = {"takala/financial_phrasebank", "allenai/wiqa", "Harvard/gigaword", "kyunghyuncho/search_qa"}
PUBLISHED = {("takala/financial_phrasebank", "data/FinancialPhraseBank-v1.0.zip"),
             ("Harvard/gigaword", "data/ggw_data.zip")}  # search_qa's archive is missing on this hub
RENAMED = {"stanfordnlp/snli": "stanfordnlp/snli-v2"}
PARQUET = "refs/convert/parquet"


def script_only(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
    raise RuntimeError(f"Dataset scripts are no longer supported, but found {path.split('/')[1]}.py")


@pytest.fixture
def fake_hub(monkeypatch):
    calls = []

    def load_dataset(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
        calls.append((path, name, split, revision, data_dir, streaming))
        if path == "allenai/wiqa" and revision == PARQUET:  # the script's fields, from its parquet conversion
            return table({"question_stem": ["q"], "question_para_step": [["a", "b"]]})
        if path in SCRIPT_ONLY:
            script_only(path)
        if path == "stanfordnlp/snli":
            return table({"premise": ["p"], "hypothesis": ["h"], "label": [0]}, ["entailment", "neutral", "contradiction"])
        if (path, name) not in FAKE_HUB:
            raise ConnectionError("Couldn't reach the hub\nsecond line")
        return FAKE_HUB[(path, name)]()

    def dataset_info(self, repo_id):
        return types.SimpleNamespace(id=RENAMED.get(repo_id, repo_id))

    class Response:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout=None):
        assert request.get_method() == "HEAD"
        if "ComQA" in request.full_url:
            raise OSError("404 Not Found")
        return Response()

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(huggingface_hub, "file_exists", lambda repo, filename, repo_type=None:
                        (repo, filename) in PUBLISHED and repo_type == "dataset")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def verdicts(name):
    return {check.split: (check.status, check.detail) for check in check_dataset(DATASETS[name])}


def test_one_verdict_per_kind(fake_hub):
    assert verdicts("sst2") == {"train": ("ok", "2 rows read"), "validation": ("ok", "2 rows read")}
    assert ("nyu-mll/glue", "sst2", "train", None, None, True) in fake_hub  # streamed, not downloaded
    # The loader reads a ClassLabel by its names: another order (rte) or names cut short (imdb's neg, pos) are
    # read right; names that are not the registry's labels are not.
    assert verdicts("rte")["train"] == ("ok", "1 rows read")
    assert verdicts("imdb")["train"] == ("ok", "1 rows read")
    assert verdicts("cola")["train"] == ("label mismatch", "hub labels ['bad', 'good'] are not the registry's "
                                                           "['unacceptable', 'acceptable'] in any order")
    assert verdicts("mrpc")["train"][0] == "missing field" and "no sentence2" in verdicts("mrpc")["train"][1]
    wanli = verdicts("wanli")["train"]
    assert wanli[0] == "label mismatch" and "'maybe'" in wanli[1]  # no ClassLabel: the values seen
    assert verdicts("snli")["train"] == ("moved", "the hub answers as stanfordnlp/snli-v2")
    assert verdicts("financial_phrasebank") == {"train": ("ok (archive)", "reads data/FinancialPhraseBank-v1.0.zip")}
    # The parquet branch's folder is its config: data_dir, never a config name.
    assert ("takala/financial_phrasebank", None, "train", PARQUET, "sentences_allagree", True) in fake_hub
    assert verdicts("boolq")["train"] == ("unreachable", "ConnectionError: Couldn't reach the hub")
    assert verdicts("cq") == {"train": ("ok", "https://multiqa.s3.amazonaws.com/squad2-0_format_data/"
                                              "ComplexQuestions_train.json.gz"),
                              "validation": ("ok", "https://multiqa.s3.amazonaws.com/squad2-0_format_data/"
                                                   "ComplexQuestions_dev.json.gz")}
    assert verdicts("comqa")["train"][0] == "unreachable"


def test_pool_sources(fake_hub):
    assert check_pool_source("wiqa", POOL_SOURCES["wiqa"]).status == "ok"  # the parquet conversion's fields match
    assert fake_hub[-1] == ("allenai/wiqa", None, "train", PARQUET, None, True)
    broken = check_pool_source("wiqa", PoolSource("allenai/wiqa", templates=("{question_stem}",)))  # main: a script
    assert broken.status == "script-only"
    missing = check_pool_source("x", PoolSource("allenai/wiqa", templates=("{stem}",), revision=PARQUET))
    assert missing.status == "missing field" and "no stem" in missing.detail


def test_a_pool_source_read_from_its_published_archive_passes_when_the_archive_is_there(fake_hub):
    for name, archive in (("gigaword", "data/ggw_data.zip"),
                          ("financial_phrasebank", "data/FinancialPhraseBank-v1.0.zip")):
        check = check_pool_source(name, POOL_SOURCES[name])
        assert (check.status, check.detail, check.failed) == ("ok (archive)", f"reads {archive}", False)
    gone = check_pool_source("search_qa", POOL_SOURCES["search_qa"])
    assert gone.status == "script-only" and gone.failed
    assert gone.detail == ("RuntimeError: Dataset scripts are no longer supported, but found search_qa.py; "
                           "no data/train_test_val/train.zip either")


def test_the_script_prints_writes_json_and_fails_on_a_paper_dataset(fake_hub, tmp_path, capsys):
    out = tmp_path / "hub.json"
    assert check_hub.main(["--datasets", "sst2,financial_phrasebank", "--json", str(out)]) == 0
    assert check_hub.main(["--datasets", "sst2,cola", "--json", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "label mismatch" in printed and "FAILED (datasets of the paper's tables): cola" in printed
    rows = json.loads(out.read_text())
    assert {(row["name"], row["split"], row["status"]) for row in rows} >= {("cola", "train", "label mismatch"),
                                                                         ("sst2", "validation", "ok")}


def test_pool_flag_checks_every_source_without_failing_the_run(fake_hub, capsys):
    assert check_hub.main(["--datasets", "sst2", "--pool"]) == 0
    printed = capsys.readouterr().out
    source_lines = [line for line in printed.splitlines() if line.startswith("pool:") and not line.startswith("pool: {")]
    assert len(source_lines) == len(POOL_SOURCES) and "\npool: {" in printed


def test_unknown_dataset_is_a_one_line_error():
    with pytest.raises(FuteError, match="unknown dataset\\(s\\) nope; known: .*sst2"):
        check_hub.main(["--datasets", "sst2,nope"])


def hub_entries():
    """Every registry entry read from the hub, with the splits the project reads: (registry, name, entry, splits)."""
    for spec in DATASETS.values():
        if spec.hub_id is not None:
            splits = list(dict.fromkeys(s for s in (spec.train_split, spec.dev_split, spec.llm_eval_split) if s))
            yield "datasets", spec.name, spec, splits
    for name, source in POOL_SOURCES.items():
        yield "pool", name, source, [source.split]


HUB_ANSWERS = {  # what every `datasets` call meets
    "the hub serves every entry": None,
    "every repository script-only": RuntimeError("Dataset scripts are no longer supported, but found x.py"),
    # A config name on the parquet branch (financial_phrasebank before data_dir), or a branch that is gone.
    "no such config": ValueError("BuilderConfig 'sentences_allagree' not found. Available: ['default']"),
}


@pytest.mark.parametrize("answer", list(HUB_ANSWERS))
def test_the_check_takes_the_loaders_path_for_every_registry_entry(answer, tmp_path, monkeypatch):
    """For each entry, the hub check makes the same `datasets` calls as the loader (streaming aside) and, when a
    call fails, looks for the same archive file the loader downloads; a split passes just when the loader reads it."""
    calls, current = [], {}

    def load_dataset(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
        calls.append(("load_dataset", path, name, split, revision, data_dir))
        if HUB_ANSWERS[answer] is not None:
            raise HUB_ANSWERS[answer]
        entry = current["entry"]
        data = datasets.Dataset.from_list(template_rows(entry, ["a", "b"]) if isinstance(entry, PoolSource)
                                          else dataset_rows(entry))
        return data.to_iterable_dataset() if streaming else data

    def hf_hub_download(repo_id, filename, repo_type=None):
        calls.append(("archive", repo_id, filename, repo_type))
        return str(tiny_archive(repo_id, filename, tmp_path)[0])

    def file_exists(repo_id, filename, repo_type=None):
        calls.append(("archive", repo_id, filename, repo_type))
        return True

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "file_exists", file_exists)
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", lambda self, repo_id: types.SimpleNamespace(id=repo_id))
    read_from_archive = set()
    for registry, name, entry, splits in hub_entries():
        current["entry"] = entry
        calls.clear()
        loaded = [_loads(registry, name, entry, split) for split in splits]
        loader_calls = list(calls)
        calls.clear()
        checks = check_dataset(entry) if registry == "datasets" else [check_pool_source(name, entry)]
        assert calls == loader_calls, (registry, name)
        assert [check.split for check in checks] == splits
        assert loaded == [not check.failed for check in checks], (registry, name, checks)
        read_from_archive |= {name for check in checks if check.status == "ok (archive)"}
    archived = {"financial_phrasebank", "gigaword", "search_qa", "wiki_bio"}
    assert read_from_archive == (archived if HUB_ANSWERS[answer] else set())


def _loads(registry: str, name: str, entry, split: str) -> bool:
    """Whether the project's loader reads the split (the paper's datasets: loading.py; the pool: unsup_pool.py)."""
    if registry == "pool":
        return unsup_pool._load_one(name, 2, 0, unsup_pool._hub_loader)[2] is None
    try:
        return bool(loading.load_split(entry, split)[0])
    except FuteError:
        return False
