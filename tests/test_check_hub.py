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

from configs.datasets import DATASETS
from configs.unsup_pool import POOL_SOURCES, PoolSource
from data_utils.errors import FuteError
from data_utils.hub_check import check_dataset, check_pool_source

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
                                           ["not_entailment", "entailment"]),  # the wrong order
    ("nyu-mll/glue", "mrpc"): lambda: table({"sentence1": ["a"], "label": [0]}, ["not_equivalent", "equivalent"]),
    ("alisawuffles/WANLI", None): lambda: table({"premise": ["p", "q"], "hypothesis": ["h", "i"],
                                                 "gold": ["entailment", "maybe"]}),
    ("stanfordnlp/imdb", None): lambda: table({"text": ["fine"], "label": [1]}, ["neg", "pos"]),
}
SCRIPT_ONLY = {"takala/financial_phrasebank", "allenai/wiqa"}
RENAMED = {"stanfordnlp/snli": "stanfordnlp/snli-v2"}


@pytest.fixture
def fake_hub(monkeypatch):
    calls = []

    def load_dataset(path, name=None, split=None, revision=None, streaming=False):
        calls.append((path, name, split, revision, streaming))
        if path in SCRIPT_ONLY:
            raise RuntimeError(f"Dataset scripts are no longer supported, but found {path.split('/')[1]}.py")
        if path == "stanfordnlp/snli":
            return table({"premise": ["p"], "hypothesis": ["h"], "label": [0]}, ["entailment", "neutral", "contradiction"])
        if path == "tasksource/wiqa":
            return table({"question_stem": ["q"], "question_para_step": [["a", "b"]]})
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
                        (repo, filename, repo_type) == ("takala/financial_phrasebank",
                                                        "data/FinancialPhraseBank-v1.0.zip", "dataset"))
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def verdicts(name):
    return {check.split: (check.status, check.detail) for check in check_dataset(DATASETS[name])}


def test_one_verdict_per_kind(fake_hub):
    assert verdicts("sst2") == {"train": ("ok", "2 rows read"), "validation": ("ok", "2 rows read")}
    assert ("nyu-mll/glue", "sst2", "train", None, True) in fake_hub  # streamed, not downloaded
    assert verdicts("rte")["train"] == ("label mismatch", "hub order ['not_entailment', 'entailment'], registry "
                                                          "['entailment', 'not_entailment']")
    assert verdicts("mrpc")["train"][0] == "missing field" and "no sentence2" in verdicts("mrpc")["train"][1]
    wanli = verdicts("wanli")["train"]
    assert wanli[0] == "label mismatch" and "'maybe'" in wanli[1]  # no ClassLabel: the values seen
    assert verdicts("snli")["train"] == ("moved", "the hub answers as stanfordnlp/snli-v2")
    assert verdicts("financial_phrasebank") == {"train": ("ok (archive)", "reads data/FinancialPhraseBank-v1.0.zip")}
    assert ("takala/financial_phrasebank", "sentences_allagree", "train", "refs/convert/parquet", True) in fake_hub
    assert verdicts("boolq")["train"] == ("unreachable", "ConnectionError: Couldn't reach the hub")
    assert verdicts("cq") == {"train": ("ok", "https://multiqa.s3.amazonaws.com/squad2-0_format_data/"
                                              "ComplexQuestions_train.json.gz"),
                              "validation": ("ok", "https://multiqa.s3.amazonaws.com/squad2-0_format_data/"
                                                   "ComplexQuestions_dev.json.gz")}
    assert verdicts("comqa")["train"][0] == "unreachable"


def test_pool_sources(fake_hub):
    assert check_pool_source("wiqa", POOL_SOURCES["wiqa"]).status == "ok"  # the mirror's fields match
    broken = check_pool_source("wiqa", PoolSource("allenai/wiqa", templates=("{question_stem}",)))
    assert broken.status == "script-only"
    missing = check_pool_source("x", PoolSource("tasksource/wiqa", templates=("{stem}",)))
    assert missing.status == "missing field" and "no stem" in missing.detail


def test_the_script_prints_writes_json_and_fails_on_a_paper_dataset(fake_hub, tmp_path, capsys):
    out = tmp_path / "hub.json"
    assert check_hub.main(["--datasets", "sst2,financial_phrasebank", "--json", str(out)]) == 0
    assert check_hub.main(["--datasets", "sst2,rte", "--json", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "label mismatch" in printed and "FAILED (datasets of the paper's tables): rte" in printed
    rows = json.loads(out.read_text())
    assert {(row["name"], row["split"], row["status"]) for row in rows} >= {("rte", "train", "label mismatch"),
                                                                         ("sst2", "validation", "ok")}


def test_pool_flag_checks_every_source_without_failing_the_run(fake_hub, capsys):
    assert check_hub.main(["--datasets", "sst2", "--pool"]) == 0
    printed = capsys.readouterr().out
    source_lines = [line for line in printed.splitlines() if line.startswith("pool:") and not line.startswith("pool: {")]
    assert len(source_lines) == len(POOL_SOURCES) and "\npool: {" in printed


def test_unknown_dataset_is_a_one_line_error():
    with pytest.raises(FuteError, match="unknown dataset\\(s\\) nope; known: .*sst2"):
        check_hub.main(["--datasets", "sst2,nope"])
