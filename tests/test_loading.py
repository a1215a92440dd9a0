"""Loading datasets from local files: formats, splits, labels and the errors a user can hit."""
import csv
import gzip
import json
import random
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from data_utils.declarations import DATASETS
from data_utils.errors import FuteError
from data_utils.declarations import get_spec
from data_utils.examples import cr_examples, label_index
from data_utils.loading import dev_cut, load_examples, load_raw_splits, load_split


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(FuteError, match="unknown dataset 'nope'.*mrpc.*wnli"):
        get_spec("nope", "cr")
    with pytest.raises(FuteError, match="mrpc is a cr dataset, not qa: use run_cr_train.py"):
        get_spec("mrpc", "qa")  # a CR dataset is not a QA dataset


def test_pair_dataset_reads_both_sentences_and_maps_labels(tmp_path):
    rows = [{"sentence1": f"a{i}", "sentence2": f"b{i}", "label": i % 2} for i in range(6)]
    write_jsonl(tmp_path / "train.jsonl", rows)
    write_jsonl(tmp_path / "validation.jsonl", rows[:2])
    splits = load_examples(DATASETS["rte"], str(tmp_path))
    assert splits["train"][3] == {"text": "a3", "text_pair": "b3", "label": 1}
    assert len(splits["dev"]) == 2


def test_csv_and_parquet_files_are_read(tmp_path):
    rows = [{"sentence": f"s{i}", "label": i % 2} for i in range(4)]
    pd.DataFrame(rows).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "validation.parquet")
    splits = load_examples(DATASETS["sst2"], str(tmp_path))
    assert [e["label"] for e in splits["train"]] == [0, 1, 0, 1]
    assert splits["dev"][2]["text"] == "s2"


def test_string_labels_map_to_the_registry_order(tmp_path):
    rows = [{"premise": "p", "hypothesis": "h", "gold": g} for g in ("neutral", "contradiction", "entailment")] * 4
    write_jsonl(tmp_path / "train.jsonl", rows)
    splits = load_examples(DATASETS["wanli"], str(tmp_path))
    everything = splits["train"] + splits["dev"]
    assert sorted(e["label"] for e in everything) == [0] * 4 + [1] * 4 + [2] * 4


def test_unlabelled_examples_are_dropped_but_a_mostly_unlabelled_split_is_refused(tmp_path):
    rows = [{"premise": "p", "hypothesis": "h", "label": 0}] * 19 + [{"premise": "p", "hypothesis": "h", "label": -1}]
    write_jsonl(tmp_path / "ok" / "train.jsonl", rows)
    write_jsonl(tmp_path / "ok" / "validation.jsonl", rows)
    assert len(load_examples(DATASETS["snli"], str(tmp_path / "ok"))["train"]) == 19
    write_jsonl(tmp_path / "bad" / "train.jsonl", [{"premise": "p", "hypothesis": "h", "label": -1}] * 5 + rows[:5])
    write_jsonl(tmp_path / "bad" / "validation.jsonl", rows)
    with pytest.raises(FuteError, match="have no gold label"):
        load_examples(DATASETS["snli"], str(tmp_path / "bad"))


def test_missing_dev_split_is_cut_80_20_with_seed_42(tmp_path):
    rows = [{"text": f"t{i}", "label": i % 2} for i in range(25)]
    write_jsonl(tmp_path / "train.jsonl", rows)
    raw = load_raw_splits(DATASETS["imdb"], str(tmp_path))
    order = list(range(25))
    random.Random(42).shuffle(order)
    assert [r["text"] for r in raw["train"]] == [f"t{i}" for i in order[:20]]
    assert [r["text"] for r in raw["dev"]] == [f"t{i}" for i in order[20:]]
    assert dev_cut(25) == (order[:20], order[20:])


def test_max_train_examples_is_a_seeded_sample_in_original_order(tmp_path):
    rows = [{"sentence": f"s{i}", "label": i % 2} for i in range(50)]
    write_jsonl(tmp_path / "train.jsonl", rows)
    write_jsonl(tmp_path / "validation.jsonl", rows[:4])
    first = load_examples(DATASETS["sst2"], str(tmp_path), max_train_examples=10, seed=1)["train"]
    again = load_examples(DATASETS["sst2"], str(tmp_path), max_train_examples=10, seed=1)["train"]
    other = load_examples(DATASETS["sst2"], str(tmp_path), max_train_examples=10, seed=2)["train"]
    numbers = [int(e["text"][1:]) for e in first]
    assert first == again and first != other
    assert len(first) == 10 and numbers == sorted(numbers)


def test_max_dev_examples_is_a_seeded_sample_of_dev_and_leaves_train_alone(tmp_path):
    rows = [{"sentence": f"s{i}", "label": i % 2} for i in range(50)]
    write_jsonl(tmp_path / "train.jsonl", rows[:8])
    write_jsonl(tmp_path / "validation.jsonl", rows)
    splits = load_examples(DATASETS["sst2"], str(tmp_path), seed=3, max_dev_examples=7)
    expected = sorted(random.Random(3).sample(range(50), 7))
    assert [e["text"] for e in splits["dev"]] == [f"s{i}" for i in expected]
    assert [e["text"] for e in splits["train"]] == [f"s{i}" for i in range(8)]
    assert len(load_examples(DATASETS["sst2"], str(tmp_path), max_dev_examples=80)["dev"]) == 50


def test_squad_format_json_gz_is_flattened(tmp_path):
    squad = {"data": [{"title": "T", "paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
        {"id": "q2", "question": "Who?", "answers": [], "is_impossible": True}]}]}]}
    for split in ("train", "validation"):
        with gzip.open(tmp_path / f"{split}.json.gz", "wt") as handle:
            json.dump(squad, handle)
    splits = load_examples(DATASETS["cq"], str(tmp_path))
    assert splits["train"][0]["answers"] == {"text": ["France"], "answer_start": [12]}
    assert splits["dev"][1]["answers"] == {"text": [], "answer_start": []}
    assert splits["dev"][1]["id"] == "q2"


def test_missing_field_names_the_field_and_the_fix(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"sentence1": "a", "label": 0}])
    write_jsonl(tmp_path / "validation.jsonl", [{"sentence1": "a", "label": 0}])
    with pytest.raises(FuteError, match="no field 'sentence2'.*or declare their columns"):
        load_examples(DATASETS["mrpc"], str(tmp_path))


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"sentence": pd.Series([], dtype=str), "label": pd.Series([], dtype="int64")})


@pytest.mark.parametrize("name,write,says", [
    ("train.csv", lambda p: p.write_bytes(b""), " is empty (0 bytes)"),
    ("train.csv", lambda p: _empty_frame().to_csv(p, index=False), " holds no rows, only a header (sentence,label)"),
    ("train.csv", lambda p: p.write_text("\n\n"), " holds no rows"),
    ("train.tsv", lambda p: p.write_bytes(b""), " is empty (0 bytes)"),
    ("train.tsv", lambda p: p.write_text("sentence\tlabel\n"), " holds no rows, only a header (sentence\tlabel)"),
    ("train.jsonl", lambda p: p.write_bytes(b""), " is empty (0 bytes)"),
    ("train.jsonl", lambda p: p.write_text("\n \n"), " holds no rows"),
    ("train.json", lambda p: p.write_bytes(b""), " is empty (0 bytes)"),
    ("train.json", lambda p: p.write_text(" \n"), " holds no rows"),
    *[("train.json", lambda p, orient=orient: _empty_frame().to_json(p, orient=orient), " holds no rows")
      for orient in ("records", "columns", "index", "split", "table")],
    ("train.json", lambda p: _empty_frame().to_json(p, orient="records", lines=True), " holds no rows"),
    ("train.json.gz", lambda p: p.write_bytes(gzip.compress(b"")), " holds no rows"),
    ("train.json.gz", lambda p: p.write_bytes(b""), " is empty (0 bytes)"),
    ("train.parquet", lambda p: p.write_bytes(b""), " is empty (0 bytes)"),
    ("train.parquet", lambda p: _empty_frame().to_parquet(p), " holds no rows"),
    ("train.parquet", lambda p: p.write_text("not parquet"), ": cannot be read as parquet"),
])
def test_an_empty_file_of_every_format_is_one_error_saying_so(tmp_path, name, write, says):
    """A file without rows, as each tool writes one (pandas' every JSON layout, a CSV header alone, a gzip of
    nothing), says so, naming the file (a CSV used to end in a 46-line pandas traceback)."""
    write(tmp_path / name)
    write_jsonl(tmp_path / "validation.jsonl", [{"sentence": "a", "label": 0}])
    with pytest.raises(FuteError, match=re.escape(f"{tmp_path / name}{says}")):
        load_examples(DATASETS["sst2"], str(tmp_path))


def test_missing_split_file_names_the_expected_file(tmp_path):
    write_jsonl(tmp_path / "train_r3.jsonl", [{"premise": "p", "hypothesis": "h", "label": 0}])
    with pytest.raises(FuteError, match="no file for split 'dev_r3'.*dev_r3.jsonl"):
        load_examples(DATASETS["anli"], str(tmp_path))


def test_out_of_range_and_unknown_labels_are_errors(tmp_path):
    write_jsonl(tmp_path / "a" / "train.jsonl", [{"sentence": "a", "label": 2}])
    write_jsonl(tmp_path / "a" / "validation.jsonl", [{"sentence": "a", "label": 0}])
    with pytest.raises(FuteError, match=r"label 2, none of the labels \(negative, positive\) nor their indices 0..1"):
        load_examples(DATASETS["sst2"], str(tmp_path / "a"))
    write_jsonl(tmp_path / "b" / "train.jsonl", [{"premise": "p", "hypothesis": "h", "gold": "maybe"}] * 5)
    with pytest.raises(FuteError, match="'maybe', none of the labels"):
        load_examples(DATASETS["wanli"], str(tmp_path / "b"))


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"sentence": "a", "label": 0}\n{"sentence": oops}\n')
    with pytest.raises(FuteError, match=r"train.jsonl:2: not a JSON line"):
        load_examples(DATASETS["sst2"], str(tmp_path))


def test_csv_keeps_na_like_text_and_empty_label_cells_mean_no_gold_label(tmp_path):
    rows = [{"sentence": "NA" if i == 0 else f"s{i}", "label": i % 2} for i in range(20)]
    frame = pd.DataFrame(rows).astype({"label": object})
    frame.loc[3, "label"] = ""
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.to_csv(tmp_path / "validation.csv", index=False)
    splits = load_examples(DATASETS["sst2"], str(tmp_path))
    assert len(splits["train"]) == 19 and splits["train"][0] == {"text": "NA", "label": 0}

    stsb = pd.DataFrame([{"sentence1": "a", "sentence2": "b", "label": i / 4} for i in range(20)])
    stsb.loc[5, "label"] = float("nan")
    (tmp_path / "stsb").mkdir()
    stsb.to_parquet(tmp_path / "stsb" / "train.parquet")
    stsb.to_parquet(tmp_path / "stsb" / "validation.parquet")
    labels = [e["label"] for e in load_examples(DATASETS["stsb"], str(tmp_path / "stsb"))["train"]]
    assert labels == [i / 4 for i in range(20) if i != 5]


def test_qa_ids_are_unique_row_numbers_stand_in_for_missing_ones(tmp_path):
    answers = {"text": ["Paris"], "answer_start": [0]}
    rows = [{"id": None, "context": "Paris.", "question": "Where?", "answers": answers},
            {"context": "Paris.", "question": "What?", "answers": answers}]
    write_jsonl(tmp_path / "ok" / "train.jsonl", rows)
    write_jsonl(tmp_path / "ok" / "validation.jsonl", rows)
    assert [e["id"] for e in load_examples(DATASETS["cq"], str(tmp_path / "ok"))["train"]] == ["0", "1"]
    twins = [{**rows[0], "id": "x"}, {**rows[1], "id": "x"}]
    write_jsonl(tmp_path / "twins" / "train.jsonl", twins)
    write_jsonl(tmp_path / "twins" / "validation.jsonl", twins)
    with pytest.raises(FuteError, match="examples 0 and 1 share the id 'x'"):
        load_examples(DATASETS["cq"], str(tmp_path / "twins"))


def test_qa_answers_in_squad_list_layout_and_bad_csv_answers(tmp_path):
    rows = [{"id": "q", "context": "Paris is nice.", "question": "Where?",
             "answers": [{"text": "Paris", "answer_start": 0}, {"text": "Paris is", "answer_start": 0}]}]
    write_jsonl(tmp_path / "list" / "train.jsonl", rows)
    write_jsonl(tmp_path / "list" / "validation.jsonl", rows)
    example = load_examples(DATASETS["cq"], str(tmp_path / "list"))["train"][0]
    assert example["answers"] == {"text": ["Paris", "Paris is"], "answer_start": [0, 0]}
    (tmp_path / "csv").mkdir()
    for split in ("train", "validation"):
        pd.DataFrame([{"id": "q", "context": "c", "question": "q", "answers": "Paris at 0"}]).to_csv(
            tmp_path / "csv" / f"{split}.csv", index=False)
    with pytest.raises(FuteError, match="'Paris at 0', which is not JSON"):
        load_examples(DATASETS["cq"], str(tmp_path / "csv"))


def test_multiqa_download_goes_through_a_private_temporary_file_and_is_kept(tmp_path, monkeypatch):
    """No network here: urlretrieve is replaced by a writer that records where it wrote."""
    from data_utils import loading

    monkeypatch.setenv("FUTE_CACHE", str(tmp_path / "cache"))
    written = []

    def fake_retrieve(url, path):
        written.append(Path(path))
        Path(path).write_text("{}")

    monkeypatch.setattr(loading.urllib.request, "urlretrieve", fake_retrieve)
    spec = DATASETS["cq"]
    target = loading.download_multiqa(spec, "dev")
    assert target.is_file() and target.parent == tmp_path / "cache" / "multiqa"
    assert len(written) == 1 and written[0].parent == target.parent and written[0] != target
    assert written[0].name.startswith(f".{target.name}.") and not written[0].exists()  # moved into place
    assert loading.download_multiqa(spec, "dev") == target and len(written) == 1  # downloaded once


# ------------------------------------------------------------------ files as everyday tools write them

SST2_ROWS = [{"sentence": f"review number {i}", "label": i % 2} for i in range(20)]
EXPECTED_SST2 = [{"text": f"review number {i}", "label": i % 2} for i in range(20)]


def both_splits(folder: Path, write) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation"):
        write(folder, split)
    return str(folder)


def test_pandas_csv_of_a_label_column_with_a_gap_writes_floats_and_loads(tmp_path, caplog):
    frame = pd.DataFrame(SST2_ROWS)
    frame["label"] = frame["label"].astype(float)
    frame.loc[4, "label"] = float("nan")  # one missing label: pandas writes 0.0 / 1.0 and an empty cell
    path = both_splits(tmp_path / "d", lambda f, s: frame.to_csv(f / f"{s}.csv", index=False))
    assert (tmp_path / "d" / "train.csv").read_text().splitlines()[1] == "review number 0,0.0"
    splits = load_examples(DATASETS["sst2"], path)
    assert splits["train"] == EXPECTED_SST2[:4] + EXPECTED_SST2[5:]
    assert "sst2 train" in caplog.text and "1 examples have no gold label and are left out" in caplog.text


@pytest.mark.parametrize("label", [" 1 ", "1.0", 1.0, " positive", "POSITIVE", "Positive\t"])
def test_label_spellings_of_the_same_class(tmp_path, label):
    rows = [{"sentence": "a", "label": 0}, {"sentence": "b", "label": label}]
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", rows))
    assert [e["label"] for e in load_examples(DATASETS["sst2"], path)["train"]] == [0, 1]


@pytest.mark.parametrize("label, message", [(1.5, "1.5, which is not a class index"), ("1.5", "not a class index"),
                                            ("positiv", "'positiv', none of the labels")])
def test_a_label_that_is_no_class_is_refused_not_rounded(tmp_path, label, message):
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", [{"sentence": "a", "label": label}]))
    with pytest.raises(FuteError, match=message):
        load_examples(DATASETS["sst2"], path)


@pytest.mark.parametrize("writer", ["json_booleans", "pandas_csv", "excel_csv"])
def test_boolq_labels_as_booleans(tmp_path, writer):
    rows = [{"question": f"q{i}", "passage": f"p{i}", "label": bool(i % 2)} for i in range(10)]
    if writer == "json_booleans":
        write = lambda f, s: write_jsonl(f / f"{s}.jsonl", rows)  # noqa: E731
    elif writer == "pandas_csv":
        write = lambda f, s: pd.DataFrame(rows).to_csv(f / f"{s}.csv", index=False)  # noqa: E731
    else:  # a spreadsheet writes TRUE/FALSE, here with a byte-order mark and CRLF line ends
        def write(folder, split):
            lines = ["question,passage,label"] + [f"q{i},p{i},{'TRUE' if i % 2 else 'FALSE'}" for i in range(10)]
            (folder / f"{split}.csv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    splits = load_examples(DATASETS["boolq"], both_splits(tmp_path / "d", write))
    assert [e["label"] for e in splits["train"]] == [i % 2 for i in range(10)]  # boolq: 0 False, 1 True
    assert splits["train"][3] == {"text": "q3", "text_pair": "p3", "label": 1}


def test_csv_cells_stay_text(tmp_path):
    rows = [{"sentence": text, "label": 1} for text in ("1.50", "007", "NA", "True", "null", "-1")]
    path = both_splits(tmp_path / "d", lambda f, s: pd.DataFrame(rows).to_csv(f / f"{s}.csv", index=False))
    assert [e["text"] for e in load_examples(DATASETS["sst2"], path)["train"]] == [r["sentence"] for r in rows]


def test_a_csv_that_is_not_utf8_names_the_fix(tmp_path):
    def write(folder, split):
        (folder / f"{split}.csv").write_bytes("sentence,label\ncaf\xe9 cr\xe8me,1\n".encode("cp1252"))
    with pytest.raises(FuteError, match="not UTF-8 text; save it as UTF-8"):
        load_examples(DATASETS["sst2"], both_splits(tmp_path / "d", write))


@pytest.mark.parametrize("orient", ["records", "columns", "index", "split", "table", "lines"])
def test_every_pandas_to_json_layout(tmp_path, orient):
    frame = pd.DataFrame(SST2_ROWS)

    def write(folder, split):
        if orient == "lines":
            frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True)
        else:
            frame.to_json(folder / f"{split}.json", orient=orient)
    assert load_examples(DATASETS["sst2"], both_splits(tmp_path / "d", write))["train"] == EXPECTED_SST2


def test_datasets_to_json_and_to_csv(tmp_path):
    import datasets

    data = datasets.Dataset.from_list(SST2_ROWS)
    json_path = both_splits(tmp_path / "j", lambda f, s: data.to_json(str(f / f"{s}.jsonl")))
    csv_path = both_splits(tmp_path / "c", lambda f, s: data.to_csv(str(f / f"{s}.csv")))
    assert load_examples(DATASETS["sst2"], json_path)["train"] == EXPECTED_SST2
    assert load_examples(DATASETS["sst2"], csv_path)["train"] == EXPECTED_SST2


# GLUE's original downloads (glue_data/<TASK>/{train,dev}.tsv), written here in their layouts.
GLUE_TSV = {
    "mrpc": ("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
             "1\t702876\t702977\tHe said \"we will win\" and left .\tHe said they would win , then went .\n"
             "0\t2108705\t2108831\tThe \"Jaguar\" costs $ 40 .\tYucaipa 's shares rose 5 % .\n",
             [{"text": 'He said "we will win" and left .', "text_pair": "He said they would win , then went .",
               "label": 1},
              {"text": 'The "Jaguar" costs $ 40 .', "text_pair": "Yucaipa 's shares rose 5 % .", "label": 0}]),
    "cola": ("gj04\t1\t\tOur friends won't buy this analysis , let alone the next one we propose .\n"
             "gj04\t0\t*\tThey drank the pub .\n",
             [{"text": "Our friends won't buy this analysis , let alone the next one we propose .", "label": 1},
              {"text": "They drank the pub .", "label": 0}]),
    "sst2": ("sentence\tlabel\nit 's a charming and \" often \" affecting journey . \t1\nunflinchingly bleak \t0\n",
             [{"text": "it 's a charming and \" often \" affecting journey . ", "label": 1},
              {"text": "unflinchingly bleak ", "label": 0}]),
    "stsb": ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
             "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off."
             "\t5.000\n",
             [{"text": "A plane is taking off.", "text_pair": "An air plane is taking off.", "label": 5.0}]),
    "qqp": ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
            "201359\t303345\t303346\tWhy are \"African-Americans\" so beautiful?\tWhy are hispanics so beautiful?\t0\n",
            [{"text": 'Why are "African-Americans" so beautiful?', "text_pair": "Why are hispanics so beautiful?",
              "label": 0}]),
}


@pytest.mark.parametrize("task", GLUE_TSV)
def test_glue_original_tsv_files(tmp_path, task):
    text, expected = GLUE_TSV[task]
    folder = tmp_path / "glue_data" / task.upper()
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text(text)
    (folder / "dev.tsv").write_text(text)  # the validation split
    splits = load_raw_splits(DATASETS[task], str(folder))
    assert len(splits["dev"]) == len(expected)
    examples = load_examples(DATASETS[task], str(folder))
    assert examples["train"] == expected and examples["dev"] == expected


def test_glue_mnli_tsv_uses_gold_label_and_dev_matched(tmp_path):
    header = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
              "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n")
    row = "0\t31193\t31193n\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe \"new\" rights are nice.\t" \
          "Everyone loves them.\tneutral\tneutral\n"
    (tmp_path / "train.tsv").write_text(header + row)
    (tmp_path / "dev_matched.tsv").write_text(header + row.replace("neutral\tneutral", "contradiction\tcontradiction"))
    splits = load_examples(DATASETS["mnli"], str(tmp_path))
    assert splits["train"] == [{"text": 'The "new" rights are nice.', "text_pair": "Everyone loves them.", "label": 1}]
    assert splits["dev"][0]["label"] == 2


# Texts that a TSV writer with CSV quoting must quote: quotes, a tab, a line break (also CRLF), a quote first.
QUOTING_TEXTS = ['He said "hi"', "line one\nline two", "a\ttab", 'Yes," he said', '"quoted whole"', "crlf\r\nend",
                 "plain", " spaced ", ""]


@pytest.mark.parametrize("writer", ["pandas", "datasets"])
@pytest.mark.parametrize("suffix", ["tsv", "csv"])
def test_delimited_files_with_csv_quoting_are_read_as_written(tmp_path, writer, suffix):
    """pandas' and datasets' to_csv (sep="\\t" for TSV) quote a cell holding a quote, a tab or a line break: each
    text comes back exactly, none split into a broken row or left with stray quotes."""
    rows = [{"sentence": text, "label": i % 2} for i, text in enumerate(QUOTING_TEXTS * 3) if text]
    frame = pd.DataFrame(rows)
    sep = "\t" if suffix == "tsv" else ","
    for split in ("train", "validation"):
        path = tmp_path / f"{split}.{suffix}"
        if writer == "pandas":
            frame.to_csv(path, sep=sep, index=False)
        else:
            _datasets(frame).to_csv(str(path), sep=sep, index=False)
    expected = [{"text": row["sentence"], "label": row["label"]} for row in rows]
    assert load_examples(DATASETS["sst2"], str(tmp_path))["train"] == expected


@pytest.mark.parametrize("texts", [['"Yes," he said .', 'a "b" c'], ['"Yes," he said .'], ['a "b" c', '"whole"x'],
                                   ['"open quote', "b"]])
def test_glue_tsv_with_bare_quotes_is_not_read_as_csv_quoting(tmp_path, texts):
    """GLUE's TSV keeps quotes as text, also at a cell's start: a file whose quotes are not all CSV quoting
    (a quote after a quoted part, inside a cell, or never closed) is read without quoting."""
    body = "sentence\tlabel\n" + "".join(f"{text}\t1\n" for text in texts)
    (tmp_path / "train.tsv").write_text(body)
    (tmp_path / "dev.tsv").write_text(body)
    assert [e["text"] for e in load_examples(DATASETS["sst2"], str(tmp_path))["train"]] == texts


def test_random_texts_written_by_pandas_read_back_exactly_or_a_clear_error(tmp_path):
    """Texts of quotes, tabs, line breaks, commas and spaces (seeded), through pandas' to_csv as TSV and CSV: each
    file reads back exactly, or (a TSV whose lines also read as GLUE's, see the next test) is an error; never
    a silent misread."""
    from data_utils.local_files import read_table

    rng = random.Random(0)
    errors = 0
    for trial in range(150):
        texts = ["".join(rng.choice('a"\t\n ,') for _ in range(rng.randint(1, 8))) for _ in range(5)]
        frame = pd.DataFrame({"sentence": texts, "label": [1] * 5})
        for sep, name in (("\t", "f.tsv"), (",", "f.csv")):
            frame.to_csv(tmp_path / name, sep=sep, index=False)
            try:
                assert [row["sentence"] for row in read_table(tmp_path / name)] == texts
            except FuteError as err:
                assert name == "f.tsv" and "which is meant cannot be told" in str(err)
                errors += 1
    assert errors < 5


def test_a_tsv_that_reads_both_ways_is_an_error_not_a_guess(tmp_path):
    """GLUE-style rows `"` and `he said"` read as one CSV-quoted cell holding a tab and a line break, and each
    line is also a row of unquoted TSV: neither reading is guessed."""
    body = 'sentence\tlabel\nfine\t1\n"\t1\nhe said"\t0\n'
    (tmp_path / "train.tsv").write_text(body)
    (tmp_path / "dev.tsv").write_text(body)
    with pytest.raises(FuteError, match=r"train.tsv:3: a quoted cell holds a tab or a line break, yet every "
                                        r"line also reads as a row of GLUE's unquoted TSV.*save the split as .csv"):
        load_examples(DATASETS["sst2"], str(tmp_path))


@pytest.mark.parametrize("name, body, line", [
    ("train.tsv", "sentence\tlabel\na\t1\nb\t0\textra\n", 3),
    ("train.tsv", "sentence\tlabel\na\t1\nb\n", 3),  # a text that held a line break, GLUE-style
    ("train.tsv", 'sentence\tlabel\n"a"\t1\n"b\n"c\t1\n', 3),  # CSV-quoted, one line short
    ("train.csv", "sentence,label\na,1\nb,0,extra\n", 3),
    ("train.csv", "sentence,label\na,1\n\nb\n", 4),
    ("train.csv", 'sentence,label\n"a" b,1\n', 2),  # text after a quoted part
])
def test_a_row_of_the_wrong_width_names_file_and_line(tmp_path, name, body, line):
    """Never dropped, never padded with empty cells: the row's file and line (1-based, the header is line 1)."""
    (tmp_path / name).write_text(body)
    (tmp_path / name.replace("train", "validation")).write_text(body.split("\n")[0] + "\na\t1\n".replace(
        "\t", "\t" if name.endswith("tsv") else ","))
    with pytest.raises(FuteError, match=rf"{name}:{line}: "):
        load_examples(DATASETS["sst2"], str(tmp_path))


# ------------------------------------------------------------------ financial_phrasebank: script-only on the hub

PHRASEBANK_LINES = ["Sales rose 5 % .@positive", "The caf\xe9 closed .@negative", "Shares were flat .@neutral",
                    "Mail us @ the office .@neutral"] * 5  # latin-1 text; an "@" inside a sentence


def phrasebank_zip(path: Path, member="FinancialPhraseBank-v1.0/Sentences_AllAgree.txt") -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, ("\r\n".join(PHRASEBANK_LINES) + "\r\n").encode("latin-1"))
    return path


def expected_phrasebank():
    labels = {"negative": 0, "neutral": 1, "positive": 2}
    return sorted((line.rpartition("@")[0].strip(), labels[line.rpartition("@")[2]]) for line in PHRASEBANK_LINES)


def as_pairs(splits):
    return sorted((e["text"], e["label"]) for role in ("train", "dev") for e in splits[role])


def test_financial_phrasebank_falls_back_to_the_published_zip(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub

    calls = []

    def script_only(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
        calls.append((path, name, split, revision, data_dir))
        raise RuntimeError("Dataset scripts are no longer supported, but found financial_phrasebank.py")

    def download(repo_id, filename, repo_type=None):
        calls.append((repo_id, filename, repo_type))
        return str(phrasebank_zip(tmp_path / "FinancialPhraseBank-v1.0.zip"))

    monkeypatch.setattr(datasets, "load_dataset", script_only)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    splits = load_examples(DATASETS["financial_phrasebank"])
    # The parquet branch's folder is the config (a config name would not be found there).
    assert calls == [("takala/financial_phrasebank", None, "train", "refs/convert/parquet", "sentences_allagree"),
                     ("takala/financial_phrasebank", "data/FinancialPhraseBank-v1.0.zip", "dataset")]
    assert as_pairs(splits) == expected_phrasebank() and (len(splits["train"]), len(splits["dev"])) == (16, 4)


def test_financial_phrasebank_from_the_parquet_conversion_when_the_hub_has_it(monkeypatch):
    import datasets

    rows = {"sentence": ["Up .", "Down .", "Flat ."] * 4, "label": [2, 0, 1] * 4}
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split=None, revision=None, data_dir=None,
                        streaming=False: datasets.Dataset.from_dict(rows))
    splits = load_examples(DATASETS["financial_phrasebank"])
    assert sorted(as_pairs(splits)) == sorted(zip(rows["sentence"], rows["label"]))


@pytest.mark.parametrize("given", ["zip", "txt", "folder"])
def test_financial_phrasebank_from_a_local_copy(tmp_path, given):
    zip_path = phrasebank_zip(tmp_path / "FinancialPhraseBank-v1.0.zip")
    txt = tmp_path / "copy" / "Sentences_AllAgree.txt"
    txt.parent.mkdir()
    txt.write_bytes(("\n".join(PHRASEBANK_LINES) + "\n").encode("latin-1"))
    path = {"zip": zip_path, "txt": txt, "folder": txt.parent}[given]
    assert as_pairs(load_examples(DATASETS["financial_phrasebank"], str(path))) == expected_phrasebank()


def test_financial_phrasebank_offline_names_the_local_copy(monkeypatch):
    import datasets
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to the hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(FuteError, match="cannot download data/FinancialPhraseBank-v1.0.zip.*--dataset_path.*"
                                        "Sentences_AllAgree.txt"):
        load_examples(DATASETS["financial_phrasebank"])


def test_a_line_without_a_label_names_file_and_line(tmp_path):
    bad = tmp_path / "Sentences_AllAgree.txt"
    bad.write_bytes(b"Good .@positive\nno label here\n")
    with pytest.raises(FuteError, match=r"Sentences_AllAgree.txt:2: not a '<sentence>@<label>' line"):
        load_examples(DATASETS["financial_phrasebank"], str(bad))


def test_a_semicolon_separated_spreadsheet_export_names_the_fix(tmp_path):
    path = both_splits(tmp_path / "d", lambda f, s: (f / f"{s}.csv").write_text("sentence;label\ngood;1\n"))
    with pytest.raises(FuteError, match="looks ';'-separated: export it as comma-separated CSV"):
        load_examples(DATASETS["sst2"], path)


# ------------------------------------------------------------------ "no gold label" in every spelling

ROWS = 20
MISSING = 3  # the row written without a gold label: 1 of 20, under the 10% that stops a run


def _qa_answers(i):
    return {"text": ["Paris"], "answer_start": [14]} if i % 3 else {"text": [], "answer_start": []}


# Per task type: the registry dataset, its label field, row i as a file holds it, example i as it must come out.
NO_LABEL_TASKS = {
    "classification": ("sst2", "label", lambda i: {"sentence": f"review {i}", "label": i % 2},
                       lambda i: {"text": f"review {i}", "label": i % 2}),
    "regression": ("stsb", "label", lambda i: {"sentence1": f"a {i}", "sentence2": f"b {i}", "label": i / 4},
                   lambda i: {"text": f"a {i}", "text_pair": f"b {i}", "label": i / 4}),
    "qa": ("cq", "answers", lambda i: {"id": f"q{i}", "title": "t", "context": f"Anna lives in Paris ({i}).",
                                       "question": f"Where {i}?", "answers": _qa_answers(i)},
           lambda i: {"id": f"q{i}", "title": "t", "context": f"Anna lives in Paris ({i}).",
                      "question": f"Where {i}?", "answers": _qa_answers(i)}),
}
ABSENT = object()  # the row has no label field at all


def _rows_with(task, missing, as_text=False):
    """The task's rows, row MISSING's label replaced by `missing`; as_text: every label written as text
    (a CSV cell, or a text column holding a spelling such as "NA"), QA answers as JSON."""
    _, field, row, _ = NO_LABEL_TASKS[task]
    rows = [row(i) for i in range(ROWS)]
    if as_text:
        for r in rows:
            r[field] = json.dumps(r[field]) if task == "qa" else str(r[field])
    if missing is ABSENT:
        del rows[MISSING][field]
    else:
        rows[MISSING][field] = missing
    return rows


def _expected(task):
    *_, example = NO_LABEL_TASKS[task]
    return [example(i) for i in range(ROWS) if i != MISSING]


def _load_both(task, folder, name):
    """Load `name` as the train split and a copy as the dev split; both must come out the same."""
    import shutil

    dataset = NO_LABEL_TASKS[task][0]
    validation = name.replace("train", "validation", 1)
    shutil.copy(folder / name, folder / validation)
    splits = load_examples(DATASETS[dataset], str(folder))
    assert splits["dev"] == splits["train"]
    return splits["train"]


def _hand_written(rows, path, separator):
    """Cells as a person or a script writes them: each text exactly (a CSV cell quoted where it must be)."""
    columns = list(rows[0])
    if separator == ",":
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([columns] + [[row[c] for c in columns] for row in rows])
    else:  # GLUE's TSV: no quoting
        path.write_text("".join("\t".join(line) + "\n" for line in [columns] + [[row[c] for c in columns]
                                                                              for row in rows]))


TEXT_SPELLINGS = ["", "NaN", "nan", "NA", "null", "None", "none", "NULL", "N/A", "n/a", "<NA>", "#N/A", " NA ",
                  "-1", "-1.0"]


@pytest.mark.parametrize("task, layout, spelling", [
    (task, layout, spelling) for task in NO_LABEL_TASKS for layout in ("csv", "tsv", "jsonl")
    for spelling in TEXT_SPELLINGS if not (task == "qa" and spelling.startswith("-1"))])
def test_every_text_spelling_of_no_label(tmp_path, task, layout, spelling):
    """A label cell spelling "no value" as pandas, R, Excel or the hub write it is no gold label: the example
    is left out, every other one comes out as written."""
    rows = _rows_with(task, spelling, as_text=True)
    if layout == "jsonl":
        write_jsonl(tmp_path / "train.jsonl", rows)
    else:
        _hand_written(rows, tmp_path / f"train.{layout}", "," if layout == "csv" else "\t")
    assert _load_both(task, tmp_path, f"train.{layout}") == _expected(task)


def _datasets(rows_or_frame):
    import datasets

    frame = rows_or_frame if isinstance(rows_or_frame, pd.DataFrame) else pd.DataFrame(rows_or_frame)
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


# The tools users write files with: (file name, writer of a pandas frame or of the rows, writes `ABSENT` rows?).
TOOL_WRITERS = {
    "json.dump": ("train.json", lambda rows, path: path.write_text(json.dumps(rows)), "rows"),
    "jsonl by hand": ("train.jsonl", lambda rows, path: write_jsonl(path, rows), "rows"),
    **{f"pandas to_json {orient}": ("train.json", lambda frame, path, orient=orient: frame.to_json(path, orient=orient),
                                    "frame") for orient in ("records", "columns", "index", "split", "table")},
    "pandas to_json lines, named .json": ("train.json", lambda frame, path: frame.to_json(path, orient="records",
                                                                                         lines=True), "frame"),
    "datasets to_json (.json)": ("train.json", lambda frame, path: _datasets(frame).to_json(str(path)), "frame"),
    "pandas to_csv": ("train.csv", lambda frame, path: frame.to_csv(path, index=False), "frame"),
    "datasets to_csv": ("train.csv", lambda frame, path: _datasets(frame).to_csv(str(path)), "frame"),
    "pandas to_parquet": ("train.parquet", lambda frame, path: frame.to_parquet(path), "frame"),
    "datasets to_parquet": ("train.parquet", lambda frame, path: _datasets(frame).to_parquet(str(path)), "frame"),
}
NULLS = {"None": None, "NaN": float("nan"), "pd.NA": pd.NA, "-1": -1, "-1.0": -1.0, "absent": ABSENT}


def _tool_writes(task, writer, null):
    """Whether the writer can write that null: json writes no pd.NA, pandas' frames hold no absent field,
    and -1 is a label marker, not an answers layout."""
    by_rows = TOOL_WRITERS[writer][2] == "rows"
    return not ((task == "qa" and null.startswith("-1")) or (null == "absent" and not by_rows)
                or (null == "pd.NA" and by_rows))


@pytest.mark.parametrize("task, writer, null", [
    (task, writer, null) for task in NO_LABEL_TASKS for writer in TOOL_WRITERS for null in NULLS
    if _tool_writes(task, writer, null)])
def test_no_label_as_every_tool_writes_it(tmp_path, task, writer, null):
    """null/NaN/pd.NA/-1 (or a row without the field) as json, pandas and datasets write them into JSON, JSON
    Lines, CSV and parquet: no gold label, the example left out, the others read as written."""
    name, write, takes = TOOL_WRITERS[writer]
    missing = NULLS[null]
    rows = _rows_with(task, missing)
    frame = pd.DataFrame(rows)
    if missing is pd.NA and task != "qa":  # pandas' nullable column types
        frame[NO_LABEL_TASKS[task][1]] = frame[NO_LABEL_TASKS[task][1]].astype("Int64" if task == "classification"
                                                                                 else "Float64")
    write(rows if takes == "rows" else frame, tmp_path / name)
    assert _load_both(task, tmp_path, name) == _expected(task)


@pytest.mark.parametrize("task", NO_LABEL_TASKS)
@pytest.mark.parametrize("unlabelled", [3, ROWS])
def test_a_mostly_or_wholly_unlabelled_split_is_refused(tmp_path, task, unlabelled):
    """3 of 20 (over 10%) or all 20 rows without a gold label (a test split: the hub's -1, an empty cell, null):
    the documented error, for every task type."""
    dataset, field, row, _ = NO_LABEL_TASKS[task]
    missing = {"classification": -1, "regression": -1, "qa": None}[task]
    rows = [{**row(i), field: missing} if i < unlabelled else row(i) for i in range(ROWS)]
    write_jsonl(tmp_path / "train.jsonl", [row(i) for i in range(ROWS)])
    write_jsonl(tmp_path / "validation.jsonl", rows)
    with pytest.raises(FuteError, match=rf"{dataset} dev .*: {unlabelled} of {ROWS} examples have no gold label; "
                                        r"is this an unlabelled \(test\) split\?"):
        load_examples(DATASETS[dataset], str(tmp_path))


def test_left_out_examples_are_counted_in_the_log(tmp_path, caplog):
    rows = _rows_with("classification", None)
    rows[5]["sentence"] = None
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", rows))
    assert len(load_examples(DATASETS["sst2"], path)["train"]) == ROWS - 2
    assert "sst2 train" in caplog.text and "1 examples have no gold label and are left out" in caplog.text
    assert "1 examples have an empty 'sentence' and are left out" in caplog.text


def _excel_csv(frame, path):
    """A spreadsheet's CSV export: CRLF line ends, a UTF-8 byte-order mark, trailing rows of empty cells."""
    text = frame.to_csv(index=False, lineterminator="\r\n") + ",\r\n" * 5
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())


EMPTY_ROW_WRITERS = {
    "excel csv": ("train.csv", _excel_csv),
    "tsv": ("train.tsv", lambda frame, path: path.write_text(frame.to_csv(sep="\t", index=False) + "\t\n" * 5)),
    "parquet of null rows": ("train.parquet", lambda frame, path: pd.concat(
        [frame, pd.DataFrame([{c: None for c in frame}] * 5)]).to_parquet(path)),
    "jsonl of nulls and {}": ("train.jsonl", lambda frame, path: write_jsonl(path, frame.to_dict(orient="records")
                                                                              + [{}] * 2 + [{"sentence": None,
                                                                                             "label": None}] * 3)),
}


@pytest.mark.parametrize("writer", EMPTY_ROW_WRITERS)
def test_rows_with_every_cell_empty_are_counted_apart_not_as_unlabelled(tmp_path, writer, caplog):
    """5 empty rows after 10 examples (a third of the rows): counted and logged as empty rows, never as examples
    without a gold label (which would refuse the split)."""
    name, write = EMPTY_ROW_WRITERS[writer]
    rows = [{"sentence": f"review {i}", "label": i % 2} for i in range(10)]
    write(pd.DataFrame(rows), tmp_path / name)
    shutil.copy(tmp_path / name, tmp_path / name.replace("train", "validation"))
    splits = load_examples(DATASETS["sst2"], str(tmp_path))
    assert splits["train"] == splits["dev"] == [{"text": r["sentence"], "label": r["label"]} for r in rows]
    assert "5 rows with every cell empty" in caplog.text and "no gold label" not in caplog.text
    qa_rows = [{"id": f"q{i}", "context": "Anna lives in Paris.", "question": "Where?",
                "answers": {"text": ["Paris"], "answer_start": [14]}} for i in range(10)]
    for split in ("train", "validation"):
        write_jsonl(tmp_path / "qa" / f"{split}.jsonl", qa_rows + [{"id": None, "context": "", "question": " ",
                                                                    "answers": None}] * 5)
    assert [e["id"] for e in load_examples(DATASETS["cq"], str(tmp_path / "qa"))["dev"]] == [f"q{i}" for i in range(10)]


def test_check_kept_counts_each_reason(caplog):
    from collections import Counter

    from data_utils.examples import EMPTY_ROW, check_kept

    counts = check_kept([{}] * 18, Counter({"label": 1, "sentence": 1, EMPTY_ROW: 7}), "label", "x")
    assert counts == {"rows": 27, "examples": 18, "no_gold_label": 1, "empty_input": 1, "empty_rows": 7}


@pytest.mark.parametrize("dataset, layout", [("snli", "jsonl"), ("mnli", "tsv"), ("wanli", "jsonl")])
def test_nli_no_consensus_dash_is_no_gold_label(tmp_path, dataset, layout):
    """SNLI's and MultiNLI's own files mark a pair without annotator consensus with the gold label "-"."""
    spec = DATASETS[dataset]
    rows = [{"premise": f"p{i}", "hypothesis": "h", spec.label_field: "-" if i == 4 else ("entailment", "neutral",
            "contradiction")[i % 3]} for i in range(20)]
    if layout == "tsv":  # GLUE's MNLI columns
        rows = [{"sentence1": r["premise"], "sentence2": r["hypothesis"], "gold_label": r["label"]} for r in rows]
        pd.DataFrame(rows).to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    else:
        write_jsonl(tmp_path / "train.jsonl", rows)
    examples = cr_examples(spec, load_split(spec, "train", str(tmp_path))[0], "x")
    assert [e["text"] for e in examples] == [f"p{i}" for i in range(20) if i != 4]
    with pytest.raises(FuteError, match=r"label '-', none of the labels"):
        label_index(DATASETS["sst2"], "-", "x", 0)  # only NLI data uses it


@pytest.mark.parametrize("layout", ["jsonl", "parquet"])
def test_an_optional_pair_may_be_empty(tmp_path, layout):
    """Yahoo! Answers' details are often empty (or null in the hub's parquet): the question is then its title
    with an empty text_pair. An empty title is still left out, as is the empty second text of a pair dataset
    without optional_pair (mrpc)."""
    details = ["Serious answers only.", "", None, "   "]
    rows = [{"id": i, "topic": i % 10, "question_title": f"Question {i}?", "question_content": details[i % 4],
             "best_answer": "An answer."} for i in range(20)]
    rows.append({"id": 20, "topic": 3, "question_title": " ", "question_content": "Details.", "best_answer": "A."})
    frame = pd.DataFrame(rows)
    if layout == "jsonl":
        frame.to_json(tmp_path / "train.jsonl", orient="records", lines=True)
    else:
        frame.to_parquet(tmp_path / "train.parquet")
    spec = DATASETS["yahoo_answers_topics"]
    examples = cr_examples(spec, load_split(spec, "train", str(tmp_path))[0], "x")
    assert examples == [{"text": f"Question {i}?", "label": i % 10,
                         "text_pair": "Serious answers only." if i % 4 == 0 else ""} for i in range(20)]
    mrpc = [{"sentence1": f"s{i}", "sentence2": "" if i == 3 else f"t{i}", "label": i % 2} for i in range(20)]
    write_jsonl(tmp_path / "mrpc" / "train.jsonl", mrpc)
    kept = cr_examples(DATASETS["mrpc"], load_split(DATASETS["mrpc"], "train", str(tmp_path / "mrpc"))[0], "x")
    assert [e["text"] for e in kept] == [f"s{i}" for i in range(20) if i != 3]


@pytest.mark.parametrize("name", ["train.json", "train.csv", "train.tsv", "train.jsonl"])
def test_utf16_files_are_read(tmp_path, name):
    """Windows PowerShell 5.1's `>` and Out-File write UTF-16 with a byte-order mark."""
    rows = [{"sentence": f"caf\xe9 {i}", "label": i % 2} for i in range(5)]
    frame = pd.DataFrame(rows)
    text = {"train.json": frame.to_json(orient="records"), "train.jsonl": frame.to_json(orient="records", lines=True),
            "train.csv": frame.to_csv(index=False), "train.tsv": frame.to_csv(sep="\t", index=False)}[name]
    for split in ("train", "validation"):
        (tmp_path / name.replace("train", split)).write_text(text, encoding="utf-16")
    expected = [{"text": r["sentence"], "label": r["label"]} for r in rows]
    assert load_examples(DATASETS["sst2"], str(tmp_path))["dev"] == expected


@pytest.mark.parametrize("label, expected", [(-1, None), ("-1.0", None), (0, 0.0), ("5", 5.0), (2.5, 2.5)])
def test_stsb_labels_within_its_range_and_the_hubs_marker(label, expected):
    assert label_index(DATASETS["stsb"], label, "stsb", 0) == expected


@pytest.mark.parametrize("label, message", [
    (5.5, r"5.5, outside stsb's range 0 to 5 \(only -1, the hub's marker, means no gold label\)"),
    ("-0.5", "-0.5, outside stsb's range 0 to 5"), (-2, "-2, outside"),
    ("inf", "'inf', not a finite number"), (float("-inf"), "-inf, not a finite number"),
    ("high", "'high', not a number")])
def test_a_regression_label_outside_the_range_is_an_error_naming_it(label, message):
    with pytest.raises(FuteError, match=f"stsb: example 7 has label {message}"):
        label_index(DATASETS["stsb"], label, "stsb", 7)


def test_minus_one_is_a_value_where_the_range_holds_it():
    """-1 means "no gold label" only where it cannot be a value: inside a declared range, or without one, it is one."""
    from dataclasses import replace

    assert label_index(replace(DATASETS["stsb"], label_range=(-5.0, 5.0)), "-1", "x", 0) == -1.0
    assert label_index(replace(DATASETS["stsb"], label_range=None), -1, "x", 0) == -1.0


def test_label_facts_of_the_registry():
    """Every regression dataset declares its range; no label name reads as "no label"; the spellings of "no
    label" cover pandas' own default missing-value texts (read_csv's na_values)."""
    from pandas._libs.parsers import STR_NA_VALUES

    from data_utils.examples import MISSING_LABEL_TEXTS

    assert all(spec.label_range is not None for spec in DATASETS.values() if spec.regression)
    assert not {label.lower() for spec in DATASETS.values() for label in spec.labels} & MISSING_LABEL_TEXTS
    assert {text.lower() for text in STR_NA_VALUES} <= MISSING_LABEL_TEXTS


@pytest.mark.parametrize("writer", ["jsonl", "parquet", "csv"])
def test_an_empty_input_is_left_out_and_never_read_as_the_text_nan(tmp_path, writer):
    """A null/NaN/empty/blank sentence is a missing input: the example is left out and counted (an input text
    "NA" stays text, test_csv_cells_stay_text); a NaN never becomes the sentence "nan"."""
    rows = [{"sentence1": f"a {i}", "sentence2": f"b {i}", "label": i % 2} for i in range(40)]
    empty = {"jsonl": [None, float("nan"), "", "  "], "parquet": [None, float("nan"), "", " "],
             "csv": [None, float("nan"), "", ""]}[writer]
    for i, value in zip((2, 9, 17, 30), empty):
        rows[i]["sentence1" if i % 2 else "sentence2"] = value
    frame = pd.DataFrame(rows)
    write = {"jsonl": lambda f, s: write_jsonl(f / f"{s}.jsonl", rows),
             "parquet": lambda f, s: frame.to_parquet(f / f"{s}.parquet"),
             "csv": lambda f, s: frame.to_csv(f / f"{s}.csv", index=False)}[writer]
    examples = load_examples(DATASETS["mrpc"], both_splits(tmp_path / "d", write))["train"]
    assert examples == [{"text": f"a {i}", "text_pair": f"b {i}", "label": i % 2} for i in range(40)
                        if i not in (2, 9, 17, 30)]


def test_many_empty_inputs_are_refused_naming_the_column(tmp_path):
    rows = [{"sentence": None if i < 3 else f"s{i}", "label": i % 2} for i in range(20)]
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", rows))
    with pytest.raises(FuteError, match="3 of 20 examples have an empty 'sentence'; check the 'sentence' column"):
        load_examples(DATASETS["sst2"], path)


def test_a_label_field_no_row_has_is_a_wrong_name_not_an_unlabelled_split(tmp_path):
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", [{"sentence": "a", "gold": 1}] * 5))
    with pytest.raises(FuteError, match="example 0 has no field 'label'.*or declare their columns"):
        load_examples(DATASETS["sst2"], path)


# ------------------------------------------------------------------ QA answers: no label, unanswerable, layouts

UNANSWERABLE = {"text": [], "answer_start": []}
QA_CONTEXT = "Anna lives in Paris."


PARIS = {"text": ["Paris"], "answer_start": [14]}
QA_LAYOUTS = {  # name: (answers as a file holds them, as they must come out)
    "unanswerable (SQuAD v2)": ({"text": [], "answer_start": []}, UNANSWERABLE),
    "unanswerable, SQuAD's list": ([], UNANSWERABLE),
    "unanswerable, empty text at -1": ({"text": [""], "answer_start": [-1]}, UNANSWERABLE),
    "unanswerable, list with empty text": ([{"text": "", "answer_start": -1}], UNANSWERABLE),
    "starts as floats (pandas)": ({"text": ["Paris"], "answer_start": [14.0]}, PARIS),
    "one answer, no lists": ({"text": "Paris", "answer_start": 14}, PARIS),
    "JSON text (a CSV cell)": (json.dumps(PARIS), PARIS),
    "pandas to_csv text": (str(PARIS), PARIS),
    "datasets to_csv text": ("{'text': array(['Paris'], dtype=object), 'answer_start': array([14], dtype=int32)}", PARIS),
    "numpy 2 scalars in text": ("[{'text': 'Paris', 'answer_start': np.int64(14)}]", PARIS),
}


@pytest.mark.parametrize("layout", QA_LAYOUTS)
def test_qa_answers_in_every_layout(tmp_path, layout):
    answers, expected = QA_LAYOUTS[layout]
    rows = [{"id": "q", "context": QA_CONTEXT, "question": "Where?", "answers": answers}]
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", rows))
    assert load_examples(DATASETS["cq"], path)["train"][0]["answers"] == expected


def test_qa_answers_as_parquet_stores_them(tmp_path):
    """pandas reads parquet's nested lists as numpy arrays: SQuAD's list of answers and the hub's dict of lists."""
    rows = [{"id": "a", "context": QA_CONTEXT, "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14}]},
            {"id": "b", "context": QA_CONTEXT, "question": "Who?", "answers": []}]
    path = both_splits(tmp_path / "d", lambda f, s: pd.DataFrame(rows).to_parquet(f / f"{s}.parquet"))
    assert [e["answers"] for e in load_examples(DATASETS["cq"], path)["train"]] == [
        {"text": ["Paris"], "answer_start": [14]}, UNANSWERABLE]


@pytest.mark.parametrize("answers, message", [
    ({"text": ["Paris"], "answer_start": [14.5]}, "has the answer 'Paris' at 14.5; answer_start must be a character"),
    ({"text": ["Paris"], "answer_start": [-1]}, "has the answer 'Paris' at -1;"),
    ({"text": ["Paris"]}, "has answers .*; expected"),
    ({"text": ["Paris", "Anna"], "answer_start": [14]}, "has 2 answer texts but 1 answer starts"),
    ("Paris", "has answers 'Paris', which is not JSON")], ids=["fraction", "minus one", "no starts", "counts", "text"])
def test_bad_qa_answers_are_errors(tmp_path, answers, message):
    rows = [{"id": "q", "context": QA_CONTEXT, "question": "Where?", "answers": answers}]
    path = both_splits(tmp_path / "d", lambda f, s: write_jsonl(f / f"{s}.jsonl", rows))
    with pytest.raises(FuteError, match=f"example 0 {message}"):
        load_examples(DATASETS["cq"], path)


# ------------------------------------------------------------------ JSON Lines under a .json name

def test_json_lines_of_one_line_named_json(tmp_path):
    path = both_splits(tmp_path / "d", lambda f, s: (f / f"{s}.json").write_text('{"sentence": "a", "label": 1}\n'))
    assert load_examples(DATASETS["sst2"], path)["train"] == [{"text": "a", "label": 1}]


@pytest.mark.parametrize("text, name, message", [
    ('{"sentence": "a", "label": 1}\n{"sentence": oops}\n', "train.json", r"train.json:2: not a JSON line"),
    ('[{"sentence": "a", "label": 1}]\n]\n', "train.json", r"train.json: cannot be read as JSON \(Extra data"),
    ("sentence,label\na,1\n", "train.json", r"train.json: cannot be read as JSON"),
    ('{"sentence": "a", "label": 1}\n{"sentence": "b", "label": 0}\n', "train.json.gz",
     r"train.json.gz: gzipped JSON Lines; decompress it \(gunzip\) and name it train.jsonl")],
    ids=["bad JSON Lines", "JSON with extra data", "CSV", "gzipped JSON Lines"])
def test_a_json_file_that_is_neither_json_nor_json_lines_is_an_error(tmp_path, text, name, message):
    if name.endswith(".gz"):
        with gzip.open(tmp_path / name, "wt") as handle:
            handle.write(text)
    else:
        (tmp_path / name).write_text(text)
    write_jsonl(tmp_path / "validation.jsonl", [{"sentence": "a", "label": 1}])
    with pytest.raises(FuteError, match=message):
        load_examples(DATASETS["sst2"], str(tmp_path))
