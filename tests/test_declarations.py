"""Datasets declared in a file (data_utils/declarations.py): the registry is read from configs/datasets.yaml exactly
as it stood in Python on main, a user's declaration is read the same way, and every mistake is one line naming the
key and the fix."""
from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import pandas as pd
import pytest

from configs.datasets import GENRE_FAMILY, GENRE_LABELS
from data_utils import declarations
from data_utils.declaration_parser import parse_declaration, to_declaration
from data_utils.declarations import CR_DATASETS, DATASETS, LLM_DATASETS, QA_DATASETS, TASK_FAMILIES, get_spec
from data_utils.errors import FuteError
from data_utils.loading import load_examples, load_raw_splits

SNAPSHOT = json.loads((Path(__file__).parent / "fixtures" / "registry_snapshot.json").read_text())
# Fields DatasetSpec gained with declarations; the registry's entries keep their defaults (family is compared
# through TASK_FAMILIES, which it replaces).
NEW_FIELDS = {"family", "label_values", "files", "columns", "llm_labels", "llm_verbalizers", "yes_no", "optional_pair",
              "declaration"}
# Datasets registered since, on purpose: BoolQ as a QA task, the paper's transferability pool's, and the CPU demo's
# topic family (configs/datasets.yaml).
ADDED_QA, ADDED_CR = ["boolq_qa"], ["ag_news", "yahoo_answers_topics"]
ADDED = ADDED_QA + ADDED_CR
RENAMED = {"task": "task_class"}  # fields renamed since the snapshot: its name -> the field's name now


def plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return [plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def test_the_registry_file_declares_exactly_mains_registry_field_by_field():
    """The snapshot was taken from configs/datasets.py on main (the registry in Python) before it became data."""
    assert list(DATASETS) == [*SNAPSHOT["datasets"], *ADDED]
    for name, before in SNAPSHOT["datasets"].items():
        now = plain(DATASETS[name])
        assert {key: now[RENAMED.get(key, key)] for key in before} == before, name
        assert set(now) - {RENAMED.get(key, key) for key in before} == NEW_FIELDS, name
        defaults = {f.name: f.default for f in dataclasses.fields(declarations.DatasetSpec) if f.name in NEW_FIELDS}
        assert {key: getattr(DATASETS[name], key) for key in NEW_FIELDS - {"family"}} == {
            key: defaults[key] for key in NEW_FIELDS - {"family"}}, name
    assert (list(CR_DATASETS), list(QA_DATASETS), list(LLM_DATASETS)) == (
        [*SNAPSHOT["cr"], *ADDED_CR], [*SNAPSHOT["qa"], *ADDED_QA], SNAPSHOT["llm"])
    assert TASK_FAMILIES["topic"] == tuple(ADDED_CR)
    assert {family: sorted(set(tasks) - set(ADDED)) for family, tasks in TASK_FAMILIES.items() if family != "topic"} == {
        family: sorted(tasks) for family, tasks in SNAPSHOT["task_families"].items()}
    assert {genre: list(labels) for genre, labels in GENRE_LABELS.items()} == SNAPSHOT["genre_labels"]
    assert GENRE_FAMILY == SNAPSHOT["genre_family"]


def test_every_registry_entry_reads_back_from_its_declaration():
    for spec in DATASETS.values():
        again = parse_declaration(json.loads(json.dumps(to_declaration(spec))), spec.name)
        assert again == spec and again.family == spec.family and again.notes == spec.notes


REVIEWS = [("A warm and funny film.", "pos"), ("Dull, slow and far too long.", "neg"), ("I loved it.", "POS"),
           ("The plot made no sense.", "neg"), ("Great acting throughout.", "pos"), ("A waste of an evening.", "neg"),
           ("Charming from start to end.", "pos"), ("Weak script, weaker jokes.", "neg"), ("See it twice.", "pos"),
           ("Nothing works here.", "neg")]
DECLARATION = """\
name: mysent
task: cr
family: sentiment
columns: {text: review, label: sentiment}
labels: [negative, positive]
label_values: {neg: negative, pos: positive}
files: {train: data/reviews.csv}
"""


def write_reviews(folder: Path, rows=REVIEWS, name="reviews.csv") -> Path:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(folder / name, index=False)
    return folder / name


def declare(tmp_path: Path, text: str = DECLARATION, name: str = "mysent.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_declared_csv_with_its_own_columns_and_label_words_is_read_with_a_seeded_dev_cut(tmp_path):
    write_reviews(tmp_path / "data")
    spec = get_spec(str(declare(tmp_path)), "cr")
    assert (spec.name, spec.inputs, spec.label_field, spec.dev_split) == ("mysent", ("review",), "sentiment", None)
    assert spec.declaration.path == str((tmp_path / "mysent.yaml").resolve())
    splits = load_examples(spec)
    # The cut, computed here: shuffle the row numbers with random.Random(42), the first 80% train.
    order = list(range(len(REVIEWS)))
    random.Random(42).shuffle(order)
    label = {"neg": 0, "pos": 1}
    expected = [{"text": REVIEWS[i][0], "label": label[REVIEWS[i][1].lower()]} for i in order]
    assert splits["train"] == expected[:8] and splits["dev"] == expected[8:]


def test_json_declarations_and_dev_and_test_files(tmp_path):
    write_reviews(tmp_path, REVIEWS[:6], "train.csv")
    write_reviews(tmp_path, REVIEWS[6:], "dev.csv")
    path = tmp_path / "mysent.json"
    path.write_text(json.dumps({"name": "mysent", "task": "cr", "columns": {"text": "review", "label": "sentiment"},
                                "labels": ["negative", "positive"], "label_values": {"neg": "negative",
                                                                                    "pos": "positive"},
                                "files": {"train": "train.csv", "dev": "dev.csv"}, "llm": {"genre": "sa"}}))
    spec = get_spec(str(path))
    assert (spec.dev_split, spec.llm_genre, spec.llm_eval_split) == ("dev", "sa", "dev")
    splits = load_examples(spec)
    assert [e["text"] for e in splits["dev"]] == [text for text, _ in REVIEWS[6:]]


def test_one_file_as_dataset_path_is_the_training_split_with_the_dev_cut(tmp_path):
    """On main a single file was refused for training ("is not a folder")."""
    rows = [{"sentence": f"review {i}", "label": i % 2} for i in range(10)]
    path = tmp_path / "my_sst2.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    splits = load_raw_splits(DATASETS["sst2"], str(path))
    order = list(range(10))
    random.Random(42).shuffle(order)
    assert splits["train"] == [rows[i] for i in order[:8]] and splits["dev"] == [rows[i] for i in order[8:]]


def test_labels_named_by_numbers_are_read_by_name_and_a_regression_range_is_declared(tmp_path):
    stars = tmp_path / "stars.jsonl"
    stars.write_text("".join(json.dumps({"text": f"t{i}", "stars": i % 5 + 1}) + "\n" for i in range(20)))
    spec = get_spec(str(declare(tmp_path, "name: stars\ntask: cr\ncolumns: {label: stars}\nlabels: [1, 2, 3, 4, 5]\n"
                                          "metrics: [accuracy, macro_f1]\nfiles: {train: stars.jsonl}\n", "s.yaml")))
    assert spec.labels == ("1", "2", "3", "4", "5") and spec.main_metric == "macro_f1"
    examples = load_examples(spec)
    assert sorted({(e["text"], e["label"]) for e in [*examples["train"], *examples["dev"]]}) == sorted(
        (f"t{i}", i % 5) for i in range(20))  # the JSON number 1 names the label "1", index 0
    regression = get_spec(str(declare(tmp_path, "name: r\ntask: cr\nlabel_range: [1, 5]\nfiles: {train: stars.jsonl}\n"
                                                "columns: {label: stars}\n", "r.yaml")))
    assert regression.regression and regression.label_range == (1.0, 5.0)
    assert (regression.metrics, regression.main_metric) == (("pearsonr", "spearmanr"), "spearmanr")


def test_qa_columns_of_ones_own_are_read_under_the_fields_names(tmp_path):
    rows = [{"q": "Where?", "passage": "In Oslo.", "gold": {"text": ["Oslo"], "answer_start": [3]}, "qid": f"x{i}"}
            for i in range(5)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec = get_spec(str(declare(tmp_path, "name: myqa\ntask: qa\ncolumns: {question: q, context: passage, "
                                          "answers: gold, id: qid}\nfiles: {train: qa.jsonl}\n", "qa.yaml")), "qa")
    examples = load_examples(spec)
    assert {e["id"] for e in [*examples["train"], *examples["dev"]]} == {f"x{i}" for i in range(5)}
    assert examples["dev"][0]["question"] == "Where?" and examples["dev"][0]["answers"]["text"] == ["Oslo"]
    wrong = declare(tmp_path, "name: myqa\ntask: qa\ncolumns: {question: query}\nfiles: {train: qa.jsonl}\n", "w.yaml")
    with pytest.raises(FuteError, match=r"no column 'query', which myqa's columns.question names"):
        load_examples(get_spec(str(wrong)))


MINIMAL = "name: x\ntask: cr\nlabels: [negative, positive]\nfiles: {train: reviews.csv}\n"


@pytest.mark.parametrize("text,message", [
    ("name: x\ntask: cr\nlables: [a, b]\n", r"x.yaml: lables: unknown key; did you mean 'labels'\?"),
    ("task: cr\nlabels: [a, b]\n", r"missing name: give the dataset a name"),
    ("name: x\nlabels: [a, b]\n", r"missing task: .*task: cr .* task: qa"),
    ("name: x\ntask: classification\n", r"task: 'classification' is not one of cr, qa"),
    ("name: my data\ntask: cr\n", r"name: 'my data' may hold only letters, digits"),
    ("name: x\ntask: cr\n", r"missing labels: list the label names in index order"),
    ("name: x\ntask: cr\nlabels: [no, yes]\n", r"labels: False is a YAML boolean .* quote the word"),
    ("name: x\ntask: cr\nlabels: [a, b, a]\n", r"labels: a listed twice"),
    (MINIMAL + "label_values: {neg: negativ}\n", r"label_values.neg: maps to 'negativ', which is not one of labels "
                                                 r"\[negative, positive\]"),
    (MINIMAL + "label_range: [0, 5]\n", r"labels: a regression task \(label_range\) has no label names"),
    ("name: x\ntask: cr\nlabel_range: [5, 1]\n", r"label_range: expected \[low, high\]"),
    (MINIMAL + "metrics: [accuracy, pearsonr]\n", r"metrics: 'pearsonr' is not a classification metric"),
    ("name: x\ntask: cr\nlabels: [a, b, c]\nmetrics: [f1]\n", r"f1 is the binary F1 .* use macro_f1"),
    (MINIMAL + "main_metric: macro_f1\n", r"main_metric: 'macro_f1' is not among metrics \[accuracy\]"),
    ("name: x\ntask: qa\nlabels: [a, b]\n", r"labels: is for cr datasets"),
    (MINIMAL + "columns: {text: review, question: q}\n", r"columns.question: unknown key; .*text, text_pair, label"),
    (MINIMAL + "columns: {text: t, label: t}\n", r"columns: text, text_pair and label must name different columns"),
    ("name: x\ntask: cr\nlabels: [a, b]\nfiles: {dev: d.csv}\n", r"missing files.train"),
    ("name: x\ntask: cr\nlabels: [a, b]\nfiles: {train: gone.csv}\n", r"files.train: .*gone.csv not found"),
    (MINIMAL + "hub: {id: a/b}\n", r"hub: files already says where the data is"),
    (MINIMAL + "splits: {dev: validation}\n", r"splits: files names the splits"),
    (MINIMAL + "llm: {genre: sentiment}\n", r"llm.genre: 'sentiment' is not one of sa, nli"),
    ("name: x\ntask: cr\nlabels: [bad, good]\nfiles: {train: reviews.csv}\nllm: {genre: sa}\n",
     r"llm.labels: label 'bad' is not a sa label .* map it .* or give verbalizers"),
    (MINIMAL + "llm: {genre: sa, labels: {negative: awful}}\n",
     r"llm.labels.negative: maps to 'awful', not a sa label"),
    (MINIMAL + "llm: {genre: sa, verbalizers: {negative: [bad]}}\n", r"llm.verbalizers: no words for 'positive'"),
    (MINIMAL + "llm: {genre: sa, verbalizers: {negative: [bad], positive: []}}\n",
     r"llm.verbalizers.positive: give at least one answer word"),
    (MINIMAL + "llm: {genre: sa, split: test}\n", r"llm.split: 'test' is none of the files \(train\)"),
    ("name: x\ntask: cr\nlabel_range: [0, 1]\nfiles: {train: reviews.csv}\nllm: {genre: sa}\n",
     r"llm: LLM prompts answer with a label"),
    (MINIMAL + "optional_pair: true\n", r"optional_pair: is for cr sentence pairs \(columns: text_pair\)"),
    ("name: x\ntask: qa\noptional_pair: true\n", r"optional_pair: is for cr sentence pairs"),
    (MINIMAL + "columns: {text: review, text_pair: p}\noptional_pair: yes please\n",
     r"optional_pair: is str 'yes please'; write true or false"),
    (MINIMAL + "archive: NOPE\n", r"archive: 'NOPE' is not an archive of configs/archives.py; known: FINANCIAL"),
    ("name: x\ntask: [cr\n", r"x.yaml: not valid YAML at line \d, column \d: did not find expected"),
    ("", r"x.yaml is empty; write a declaration"),
    ("- name: x\n", r"x.yaml: a declaration is a mapping of keys"),
])
def test_every_mistake_is_one_line_naming_the_key_and_the_fix(tmp_path, text, message):
    write_reviews(tmp_path)
    with pytest.raises(FuteError, match=message) as caught:
        get_spec(str(declare(tmp_path, text, "x.yaml")))
    assert "\n" not in str(caught.value)


def test_an_unknown_name_points_at_declarations_and_a_missing_file_is_named(tmp_path):
    with pytest.raises(FuteError, match=r"unknown dataset 'mysent' for run_cr_train.py; known: .*declare your own in "
                                        r"a .yaml file"):
        get_spec("mysent", "cr")
    with pytest.raises(FuteError, match=r"dataset declaration nope.yaml not found"):
        get_spec("nope.yaml")
    write_reviews(tmp_path / "data")
    with pytest.raises(FuteError, match=r"mysent.yaml is a cr dataset, not qa: use run_cr_train.py"):
        get_spec(str(declare(tmp_path)), "qa")


def test_a_registry_name_in_a_declaration_is_allowed_with_a_warning(tmp_path, caplog):
    write_reviews(tmp_path / "data")
    spec = get_spec(str(declare(tmp_path, DECLARATION.replace("mysent", "rotten_tomatoes"))))
    assert spec.name == "rotten_tomatoes" and spec != DATASETS["rotten_tomatoes"]
    assert "the name of a registry dataset: its outputs are told apart" in caplog.text


def test_llm_labels_map_into_the_genre_or_keep_their_own_words(tmp_path):
    from llm_inference.data import dataset_prompt

    write_reviews(tmp_path)
    mapped = get_spec(str(declare(tmp_path, "name: m\ntask: cr\nlabels: [good, bad]\nfiles: {train: reviews.csv}\n"
                                            "llm: {genre: sa, labels: {good: positive, bad: negative}}\n", "m.yaml")))
    assert mapped.llm_label_names == ("negative", "positive") and [mapped.llm_label(i) for i in (0, 1)] == [1, 0]
    assert dataset_prompt(mapped, 0) == dataset_prompt(DATASETS["sst2"], 0)  # the genre's own prompt
    topics = get_spec(str(declare(tmp_path, "name: t\ntask: cr\nlabels: [sports, politics, tech]\nfiles: {train: "
                                            "reviews.csv}\nllm:\n  genre: sa\n  verbalizers: {sports: [ball], "
                                            "politics: [vote], tech: [code, Code]}\n", "t.yaml")))
    prompt = dataset_prompt(topics, 10)
    assert (prompt.labels, prompt.verbalizer_list, prompt.verbalizer_labels) == (
        ("sports", "politics", "tech"), ("ball", "vote", "code", "Code"), ("sports", "politics", "tech", "tech"))
    assert prompt.label_space == "ball, vote, code, Code" and prompt.is_cot and prompt.genre == "sa"
    assert [topics.llm_label(i) for i in range(3)] == [0, 1, 2]


def test_the_llm_answers_the_split_its_declaration_names_by_default_the_dev_cut(tmp_path):
    """On main the split came from a borrowed registry name: rotten_tomatoes wanted a test file, sst2 a validation."""
    from llm_inference.data import load_eval_examples

    write_reviews(tmp_path, REVIEWS[:6], "train.csv")
    write_reviews(tmp_path, REVIEWS[6:], "test.csv")
    text = (DECLARATION.replace("files: {train: data/reviews.csv}", "files: {train: train.csv, test: test.csv}")
            .replace("neg: negative,", "neg: negative, POS: positive,") + "llm: {genre: sa}\n")
    order = list(range(6))
    random.Random(42).shuffle(order)  # the dev cut: the last 20% of the seeded shuffle of train.csv
    dev = [REVIEWS[i][0] for i in order[-2:]]
    read = get_spec(str(declare(tmp_path, text)))
    assert [e["fields"]["content"] for e in load_eval_examples(read, ("content",), None, 10, 0)[0]] == dev
    read = get_spec(str(declare(tmp_path, text.replace("{genre: sa}", "{genre: sa, split: test}"), "t.yaml")))
    assert [e["fields"]["content"] for e in load_eval_examples(read, ("content",), None, 10, 0)[0]] == [
        review for review, _ in REVIEWS[6:]]


DEV_CUT_ROWS = [0, 1]  # of 10 rows: range(10) shuffled with random.Random(42), the last 20%


@pytest.mark.parametrize(("bad_row", "llm", "stars"), [(7, False, 3), (DEV_CUT_ROWS[0], False, 3),
                                                        (DEV_CUT_ROWS[1], False, 3), (DEV_CUT_ROWS[1], True, 3),
                                                        (7, False, 0), (7, False, 1.0)])
def test_a_label_outside_the_declaration_names_the_file_its_row_and_label_values(tmp_path, bad_row, llm, stars):
    """Stars 1-5 mapped to negative/positive and one review of 3 stars: the error names the file (not "None"), the
    row's index in the file (not its place after the seeded dev cut shuffles the rows) and label_values as the
    fix; the row number is checked to point at the row that holds 3. The LLM reads the dev cut: the same.
    A review of 0 or 1 star is no index either (0 was read as index 0, negative): where label_values maps
    numbers, a number it does not map is an unmapped code."""
    from llm_inference.data import load_eval_examples

    order = list(range(len(REVIEWS)))
    random.Random(42).shuffle(order)
    assert sorted(order[8:]) == DEV_CUT_ROWS
    rows = [(text, 2 if label == "neg" else 5) for text, label in REVIEWS]
    rows[bad_row] = ("An okay film, neither good nor bad.", stars)
    write_reviews(tmp_path, rows)
    path = declare(tmp_path, DECLARATION.replace("label_values: {neg: negative, pos: positive}",
                                                 "label_values: {2: negative, 4: positive, 5: positive}")
                   .replace("data/reviews.csv", "reviews.csv").replace("name: mysent", "name: three")
                   + "llm: {genre: sa}\n", "three.yaml")
    spec = get_spec(str(path), "cr")
    with pytest.raises(FuteError) as err:
        load_eval_examples(spec, ("text",), None, 10, 0) if llm else load_examples(spec)
    message = str(err.value)
    row = int(re.search(rf"example (\d+) has label {int(stars)},", message).group(1))
    assert pd.read_csv(tmp_path / "reviews.csv")["sentiment"][row] == stars and row == bad_row
    assert re.match(rf"three (train|dev) \({re.escape(str(tmp_path / 'reviews.csv'))}\): ", message)
    assert "(negative, positive), nor a key of label_values (2, 4, 5)" in message
    assert f"add it to label_values in {path} ({int(stars)}: <one of negative, positive>)" in message
