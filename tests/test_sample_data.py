"""Checks of the committed sample data (data/samples), of its generator and of the generator's data.

The expected names, splits, sizes, fields and label sets below are written out from
the hub datasets' schemas, not read from the generator, so a drift in either shows.
The generator's words and templates are data files (scripts/sample_data/); regenerating
must reproduce the committed files byte for byte.
"""
from __future__ import annotations

import collections
import dataclasses
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from data_utils.declarations import DATASETS
from data_utils.errors import FuteError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
GENERATOR = ROOT / "scripts" / "make_sample_data.py"
SAMPLE_DATA = ROOT / "scripts" / "sample_data"

INT2 = {0, 1}
INT3 = {0, 1, 2}
NLI_STRINGS = {"entailment", "neutral", "contradiction"}
QA_FIELDS = ("id", "title", "context", "question", "answers")

# name -> ({split: size}, fields, label field, allowed label values or None, long text fields)
EXPECTED = {
    "sst2": ({"train": 240, "validation": 60}, ("sentence", "label", "idx"), "label", INT2, ()),
    "rotten_tomatoes": ({"train": 240, "validation": 60, "test": 60}, ("text", "label"),
                        "label", INT2, ()),
    "imdb": ({"train": 240, "test": 60}, ("text", "label"), "label", INT2, ()),
    "financial_phrasebank": ({"train": 240}, ("sentence", "label"), "label", INT3, ()),
    "ag_news": ({"train": 300, "test": 60}, ("text", "label"), "label", {0, 1, 2, 3}, ()),
    "yahoo_answers_topics": ({"train": 300, "test": 60},
                             ("id", "topic", "question_title", "question_content", "best_answer"), "topic",
                             set(range(10)), ()),
    "mrpc": ({"train": 240, "validation": 60}, ("sentence1", "sentence2", "label", "idx"),
             "label", INT2, ()),
    "qqp": ({"train": 240, "validation": 60}, ("question1", "question2", "label", "idx"),
            "label", INT2, ()),
    "medical_questions_pairs": ({"train": 200}, ("dr_id", "question_1", "question_2", "label"),
                                "label", INT2, ()),
    "stsb": ({"train": 240, "validation": 60}, ("sentence1", "sentence2", "label", "idx"),
             "label", None, ()),
    "rte": ({"train": 240, "validation": 60}, ("sentence1", "sentence2", "label", "idx"),
            "label", INT2, ("sentence1",)),
    "snli": ({"train": 240, "validation": 60}, ("premise", "hypothesis", "label"), "label",
             INT3, ("premise",)),
    "mnli": ({"train": 240, "validation_matched": 60}, ("premise", "hypothesis", "label", "idx"),
             "label", INT3, ("premise",)),
    "cb": ({"train": 120, "validation": 60}, ("premise", "hypothesis", "label", "idx"), "label",
           INT3, ("premise",)),
    "anli": ({"train_r3": 240, "dev_r3": 60, "test_r3": 60},
             ("uid", "premise", "hypothesis", "label"), "label", INT3, ("premise",)),
    "wanli": ({"train": 240, "test": 60}, ("id", "premise", "hypothesis", "gold"), "gold",
              NLI_STRINGS, ("premise",)),
    "cq": ({"train": 200, "validation": 50}, QA_FIELDS, None, None, ("context",)),
    "comqa": ({"train": 200, "validation": 50}, QA_FIELDS, None, None, ("context",)),
}
ID_FIELDS = {"idx", "uid", "id", "dr_id", "label", "gold", "answers", "topic"}  # not free text
UNREAD_FIELDS = {"best_answer"}  # a hub text no stage reads: Yahoo! Answers' best answers repeat
MAY_BE_EMPTY = {"question_content"}  # as on the hub: Yahoo! Answers' details (optional_pair)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _load(name: str) -> dict[str, list[dict]]:
    splits = EXPECTED[name][0]
    return {split: _read_jsonl(SAMPLES / name / f"{split}.jsonl") for split in splits}


def _text_fields(name: str) -> tuple[str, ...]:
    return tuple(f for f in EXPECTED[name][1] if f not in ID_FIELDS | UNREAD_FIELDS)


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """scripts/ is not a package: load the generator from its path."""
    spec = importlib.util.spec_from_file_location("make_sample_data", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def regenerated(generator: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the generator's main() into a fresh folder."""
    out = tmp_path_factory.mktemp("samples")
    assert generator.main(["--out_dir", str(out)]) == 0
    return out


def _all_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generator_reproduces_committed_files_byte_for_byte(regenerated: Path) -> None:
    committed, fresh = _all_files(SAMPLES), _all_files(regenerated)
    assert sorted(committed) == sorted(fresh), "stale or missing files: rerun the generator"
    changed = [name for name in committed if committed[name] != fresh[name]]
    assert not changed, f"regenerating changes {changed}"


def test_generator_output_differs_with_another_seed(generator: ModuleType,
                                                    tmp_path: Path) -> None:
    generator.main(["--out_dir", str(tmp_path), "--seed", "7"])
    assert (tmp_path / "sst2" / "train.jsonl").read_bytes() != \
        (SAMPLES / "sst2" / "train.jsonl").read_bytes()


def test_generator_covers_exactly_the_expected_sets(generator: ModuleType) -> None:
    assert list(generator.SAMPLES) == list(EXPECTED)


def test_every_data_file_is_one_the_generator_reads() -> None:
    """One file per sample set, the shared words, the pool's and the README's template: no stray file."""
    expected = {f"{name}.yaml" for name in EXPECTED}
    expected |= {"shared.yaml", "movie_reviews.yaml", "unsup_pool.yaml", "readme_template.md"}
    assert {p.name for p in SAMPLE_DATA.iterdir() if p.suffix in (".yaml", ".md")} == expected


@pytest.fixture
def data_copy(generator: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of scripts/sample_data/ that the generator reads the sets' files from."""
    copy = tmp_path / "sample_data"
    shutil.copytree(SAMPLE_DATA, copy)
    monkeypatch.setattr(sys.modules[generator.load.__module__], "DATA_DIR", copy)
    return copy


def test_the_sets_words_and_templates_come_from_their_data_file(generator: ModuleType,
                                                                 data_copy: Path) -> None:
    rte = data_copy / "rte.yaml"
    rte.write_text(rte.read_text(encoding="utf-8").replace("fireworks in city centers", "kites on beaches")
                   .replace("beating five other books", "ahead of five other books"), encoding="utf-8")
    texts = " ".join(row["sentence1"] + " " + row["sentence2"]
                     for rows in generator.generate_set("rte", 42).values() for row in rows)
    committed = " ".join(row["sentence1"] + " " + row["sentence2"]
                         for rows in _load("rte").values() for row in rows)
    assert "fireworks in city centers" in committed and "fireworks in city centers" not in texts
    assert "kites on beaches" in texts
    assert "beating five" in committed and "beating five" not in texts and "ahead of five" in texts


def test_a_word_list_naming_no_shared_list_is_a_clear_error(generator: ModuleType, data_copy: Path) -> None:
    mnli = data_copy / "mnli.yaml"
    mnli.write_text(mnli.read_text(encoding="utf-8").replace('town: "towns"', 'town: "villages"'),
                    encoding="utf-8")
    with pytest.raises(FuteError, match=r"mnli\.yaml: words \{'town': 'villages'\} name no list of shared\.yaml"):
        generator.generate_set("mnli", 42)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registry_gives_the_expected_layout(name: str) -> None:
    """The generator reads splits, fields and labels from the registry: they must be the hub's."""
    spec = DATASETS[name]
    splits, fields, label_field, values, _ = EXPECTED[name]
    named = [s for s in (spec.train_split, spec.dev_split, spec.llm_eval_split) if s]
    more = yaml.safe_load((SAMPLE_DATA / f"{name}.yaml").read_text(encoding="utf-8")).get("more_splits", [])
    assert list(dict.fromkeys(named)) + more == list(splits)
    assert set(spec.inputs) <= set(fields)
    if spec.task_class == "cr":
        assert spec.label_field == label_field
        if values is not None:
            assert values in (set(range(len(spec.labels))), set(spec.labels))


def test_generator_takes_the_layout_from_the_registry(generator: ModuleType,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Renamed splits, fields and label field in the registry show up in the rows, same texts."""
    spec = DATASETS["mnli"]
    renamed = dataclasses.replace(spec, train_split="fit", dev_split="dev", inputs=("a", "b"),
                                  label_field="gold")
    monkeypatch.setitem(generator.DATASETS, "mnli", renamed)
    data = generator.generate_set("mnli", 42)
    assert list(data) == ["fit", "dev"]
    committed = _load("mnli")
    for split, old_split in (("fit", "train"), ("dev", "validation_matched")):
        assert [tuple(row) for row in data[split]] == [("a", "b", "gold", "idx")] * len(data[split])
        assert [(r["a"], r["b"], r["gold"], r["idx"]) for r in data[split]] == \
            [(r["premise"], r["hypothesis"], r["label"], r["idx"]) for r in committed[old_split]]


def test_layout_has_exactly_the_expected_files() -> None:
    expected = {f"{name}/{split}.jsonl" for name, spec in EXPECTED.items() for split in spec[0]}
    expected |= {"unsup_pool.jsonl", "README.md"}
    assert set(_all_files(SAMPLES)) == expected


def test_total_size_under_limit() -> None:
    assert sum(len(b) for b in _all_files(SAMPLES).values()) < 1.5 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_splits_sizes_and_fields(name: str) -> None:
    sizes, fields, label_field, values, _ = EXPECTED[name]
    data = _load(name)
    for split, rows in data.items():
        assert len(rows) == sizes[split], (name, split)
        for row in rows:
            assert tuple(row) == fields, (name, split, row)
            for field in _text_fields(name):
                assert isinstance(row[field], str) and (row[field].strip() or field in MAY_BE_EMPTY), (name, field, row)
            if values is not None:
                assert row[label_field] in values, (name, row)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_text_lengths(name: str) -> None:
    long_fields = EXPECTED[name][4]
    for rows in _load(name).values():
        for row in rows:
            for field in _text_fields(name):
                limit = 60 if field in long_fields else 40
                assert len(row[field].split()) <= limit, (name, field, row[field])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_text_repeated_within_or_across_splits(name: str) -> None:
    keys = [tuple(row[f] for f in _text_fields(name))
            for rows in _load(name).values() for row in rows]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("name", sorted(n for n, s in EXPECTED.items() if s[3] is not None))
def test_labels_balanced_in_every_split(name: str) -> None:
    _, _, label_field, values, _ = EXPECTED[name]
    for split, rows in _load(name).items():
        counts = collections.Counter(row[label_field] for row in rows)
        assert set(counts) == values, (name, split, counts)
        assert min(counts.values()) >= 0.8 * max(counts.values()), (name, split, counts)


def test_stsb_scores_are_floats_spread_over_the_scale() -> None:
    for split, rows in _load("stsb").items():
        scores = [row["label"] for row in rows]
        assert all(isinstance(s, float) and 0.0 <= s <= 5.0 for s in scores)
        buckets = collections.Counter(int(round(s)) for s in scores)
        assert set(buckets) == {0, 1, 2, 3, 4, 5}, (split, buckets)
        assert min(buckets.values()) >= len(scores) / 6 * 0.6, (split, buckets)


def test_ids_unique() -> None:
    for name in ("sst2", "mrpc", "qqp", "stsb", "rte", "mnli", "cb"):
        for rows in _load(name).values():  # GLUE's idx counts from 0 in every split
            assert [row["idx"] for row in rows] == list(range(len(rows)))
    for name, field in (("anli", "uid"), ("wanli", "id"), ("cq", "id"), ("comqa", "id")):
        ids = [row[field] for rows in _load(name).values() for row in rows]
        assert len(ids) == len(set(ids)), name
    assert all(1 <= row["dr_id"] <= 11 for row in _load("medical_questions_pairs")["train"])


@pytest.mark.parametrize("name", ["cq", "comqa"])
def test_qa_answers_point_into_context(name: str) -> None:
    for split, rows in _load(name).items():
        unanswerable = 0
        for row in rows:
            answers = row["answers"]
            assert set(answers) == {"text", "answer_start"}
            assert len(answers["text"]) == len(answers["answer_start"]) <= 1
            if not answers["text"]:
                unanswerable += 1
            for text, start in zip(answers["text"], answers["answer_start"]):
                assert isinstance(start, int) and text
                assert row["context"][start:start + len(text)] == text, row
            assert row["question"].endswith("?") and row["title"]
        assert 0.08 <= unanswerable / len(rows) <= 0.22, (name, split, unanswerable)


def test_qa_sets_use_different_question_styles() -> None:
    cq_questions = {r["question"] for rows in _load("cq").values() for r in rows}
    comqa_questions = {r["question"] for rows in _load("comqa").values() for r in rows}
    assert all(q[0].isupper() for q in cq_questions)
    assert all(q[0].islower() for q in comqa_questions)


def test_unsup_pool() -> None:
    rows = _read_jsonl(SAMPLES / "unsup_pool.jsonl")
    assert len(rows) == 600
    for row in rows:
        assert set(row) in ({"text", "source"}, {"text", "text_pair", "source"}), row
        assert row["text"].strip() and len(row["text"].split()) <= 40
        if "text_pair" in row:
            assert row["text_pair"].strip() and len(row["text_pair"].split()) <= 60
    with_pair = sum("text_pair" in row for row in rows)
    assert 0.4 <= with_pair / len(rows) <= 0.6
    sources = collections.Counter(row["source"] for row in rows)
    assert len(sources) >= 5 and min(sources.values()) >= 50, sources
    labelled = {row[f] for name in EXPECTED for rows_ in _load(name).values()
                for row in rows_ for f in _text_fields(name)}
    pool_texts = {row[f] for row in rows for f in ("text", "text_pair") if f in row}
    assert not pool_texts & labelled, "the pool must hold texts outside the labelled sets"


def test_label_encodings_follow_the_hub() -> None:
    # Spot checks with unmistakable wording, one per label order that differs between sets.
    cb = [r for rows in _load("cb").values() for r in rows]
    assert {r["label"] for r in cb if "pretended" in r["premise"]} == {1}   # contradiction
    assert {r["label"] for r in cb if "wondered whether" in r["premise"]} == {2}  # neutral
    assert {r["label"] for r in cb if " realized that " in r["premise"]} == {0}   # entailment
    fpb = _load("financial_phrasebank")["train"]
    assert {r["label"] for r in fpb if " will cut " in r["sentence"]} == {0}       # negative
    assert {r["label"] for r in fpb if "is headquartered in" in r["sentence"]} == {1}
    assert {r["label"] for r in fpb if " jumped " in r["sentence"]} == {2}         # positive
    snli = [r for rows in _load("snli").values() for r in rows]
    assert {r["label"] for r in snli if r["hypothesis"].startswith("Nobody")} == {2}
    agn = [r for rows in _load("ag_news").values() for r in rows]
    assert {r["label"] for r in agn if r["text"].startswith("Ceasefire Talks Stall")} == {0}  # World
    assert {r["label"] for r in agn if r["text"].startswith("Faster Chip Unveiled")} == {3}   # Sci/Tech
    yahoo = [r for rows in _load("yahoo_answers_topics").values() for r in rows]
    assert {r["topic"] for r in yahoo if "offside rule" in r["question_title"]} == {5}       # Sports
    assert {r["topic"] for r in yahoo if "electoral college" in r["question_title"]} == {9}  # Politics
    anli = [r for rows in _load("anli").values() for r in rows]
    assert {r["label"] for r in anli if r["hypothesis"].endswith("is married.")} == {1}


def _bag_of_words_accuracy(train: list[dict], test: list[dict], fields: tuple[str, ...],
                           label: str) -> float:
    def texts(rows: list[dict]) -> list[str]:
        # Prefix the words of the second text so a pair keeps which side a word came from.
        return [" ".join([r[fields[0]]] + [f"h_{w}" for f in fields[1:]
                                           for w in re.findall(r"\w+", r[f].lower())])
                for r in rows]
    vectorizer = CountVectorizer(ngram_range=(1, 2))
    model = LogisticRegression(max_iter=2000).fit(vectorizer.fit_transform(texts(train)),
                                                  [r[label] for r in train])
    predicted = model.predict(vectorizer.transform(texts(test)))
    return float(np.mean(predicted == np.array([r[label] for r in test])))


@pytest.mark.parametrize("name,train,test,least", [
    ("sst2", "train", "validation", 0.75), ("rotten_tomatoes", "train", "test", 0.75),
    ("imdb", "train", "test", 0.75), ("snli", "train", "validation", 0.75), ("cb", "train", "validation", 0.75),
    ("wanli", "train", "test", 0.75), ("ag_news", "train", "test", 0.75),
    # Ten classes (chance 0.1), each with 20 topics and tasks: a test question's words are often unseen in train.
    ("yahoo_answers_topics", "train", "test", 0.6),
])
def test_labels_learnable_from_words(name: str, train: str, test: str, least: float) -> None:
    data = _load(name)
    accuracy = _bag_of_words_accuracy(data[train], data[test], _text_fields(name),
                                      EXPECTED[name][2])
    assert accuracy >= least, (name, accuracy)


@pytest.mark.parametrize("name", ["sst2", "rotten_tomatoes", "imdb", "snli", "mnli", "wanli"])
def test_no_single_word_decides_the_label(name: str) -> None:
    """Best rule 'word w present -> class c, absent -> majority of the rest' stays weak."""
    rows = _load(name)[next(iter(EXPECTED[name][0]))]
    label = EXPECTED[name][2]
    y = np.array([str(r[label]) for r in rows])
    texts = [" ".join(r[f] for f in _text_fields(name)) for r in rows]
    present = CountVectorizer(binary=True).fit_transform(texts).toarray().astype(bool)
    best = 0.0
    for column in present.T:
        rest = collections.Counter(y[~column]).most_common(1)
        rest_hits = (y[~column] == rest[0][0]).sum() if rest else 0
        for cls in set(y):
            best = max(best, ((y[column] == cls).sum() + rest_hits) / len(y))
    assert best < 0.75, (name, best)


@pytest.mark.parametrize("name", ["ag_news", "yahoo_answers_topics"])
def test_no_single_keyword_per_topic(name: str) -> None:
    """A topic is spread over many words: no word seen in one class only is in half of that class's texts."""
    rows = _load(name)["train"]
    texts = [" ".join(r[f] for f in _text_fields(name)) for r in rows]
    marks = CountVectorizer(binary=True).fit_transform(texts).toarray().astype(bool)
    y = np.array([r[EXPECTED[name][2]] for r in rows])
    for cls in set(y):
        own = marks[y == cls]
        only_here = own.any(axis=0) & ~marks[y != cls].any(axis=0)
        assert own[:, only_here].mean(axis=0).max() < 0.5, (name, cls)


def test_yahoo_details_are_often_empty() -> None:
    """Details empty in about half the rows, as on the hub; every row has a best answer."""
    rows = _load("yahoo_answers_topics")["train"]
    empty = sum(row["question_content"] == "" for row in rows) / len(rows)
    assert 0.3 <= empty <= 0.6, empty
    assert all(row["best_answer"].strip() for row in rows)


def test_readme_describes_every_set_and_the_licence() -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name in EXPECTED:
        assert f"`{name}`" in readme
    assert "CC0" in readme and "make_sample_data.py" in readme
