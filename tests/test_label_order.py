"""Label indices that cross a boundary with their own names (data_utils/label_order.py).

Each case gives an order that differs from the dataset's and checks, against a computation written here,
that index i means the dataset's label i: a checkpoint's head (fine-tuning, transfer), a fine-tuned model's
outputs y' in the MTE, and a ClassLabel column of a parquet file or a hub dataset.
"""
from __future__ import annotations

import datasets
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from data_utils import examples, loading
from data_utils.errors import FuteError
from data_utils.label_order import named, order_by_name
from data_utils.declarations import get_spec
from data_utils.loading import load_examples
from task_emb import pipeline
from task_emb.models import load_head_model, load_task_model, load_tokenizer, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = ["a wonderful film", "a dull and boring film", "the plot is thin but the actors are great"]
CPU = torch.device("cpu")


def classifier_checkpoint(base, folder, names: list[str], seed: int = 0):
    """A classifier of `base` whose config calls output k `names[k]` (a head drawn from `seed`), saved to
    `folder` with its tokenizer, as another tool would ship it."""
    tokenizer = load_tokenizer(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    for module in model.modules():  # a head that tells its rows apart
        if isinstance(module, torch.nn.Linear) and module.out_features == len(names):
            torch.nn.init.normal_(module.weight, std=1.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def logits_by_name(folder, texts=TEXTS) -> list[dict[str, float]]:
    """Each text's logit per label name, read with transformers alone, one unpadded text at a time."""
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = []
    with torch.no_grad():
        for text in texts:
            logits = model(**tokenizer(text, return_tensors="pt")).logits[0]
            rows.append({model.config.id2label[k].lower(): float(v) for k, v in enumerate(logits)})
    return rows


def our_logits(model, folder, texts=TEXTS) -> torch.Tensor:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        return torch.stack([model.eval()(**tokenizer(text, return_tensors="pt")).logits[0] for text in texts])


def test_names_and_their_order():
    assert order_by_name(["Positive", "NEGATIVE"], ["negative", "positive"]) == [1, 0]
    assert order_by_name(["CONTRADICTION", "NEUTRAL", "ENTAILMENT"], ["entailment", "neutral", "contradiction"]) \
        == [2, 1, 0]
    assert order_by_name(["pos", "neg"], ["negative", "positive"]) == [1, 0]  # the hub's imdb abbreviations
    assert order_by_name(["bad", "good"], ["negative", "positive"]) is None
    assert order_by_name(["not_entailment", "entailment"], ["entailment", "not_entailment"]) == [1, 0]
    assert order_by_name(["neutral", "entails"], ["entailment", "not_entailment"]) is None
    assert order_by_name(["negative", "negative"], ["negative", "positive"]) is None
    assert not named(["LABEL_0", "LABEL_1"]) and not named(["0", "1", "2"]) and named(["LABEL_0", "positive"])


# ----------------------------------------------------------------------------- checkpoint -> head

@pytest.mark.parametrize("family, dataset, names", [
    ("bert", "sst2", ["positive", "negative"]),
    ("roberta", "mnli", ["CONTRADICTION", "NEUTRAL", "ENTAILMENT"]),  # roberta-large-mnli's order and case
    ("gpt2", "sst2", ["POSITIVE", "NEGATIVE"]),
    ("t5", "mnli", ["neutral", "contradiction", "entailment"]),
])
def test_a_head_that_names_its_labels_in_another_order_is_read_in_the_datasets(
        request, tmp_path, family, dataset, names):
    folder = classifier_checkpoint(request.getfixturevalue(f"tiny_{family}"), tmp_path / "ckpt", names)
    spec = get_spec(dataset)
    model = load_head_model(str(folder), "cr", spec.labels, tokenizer=load_tokenizer(str(folder)))
    expected = torch.tensor([[row[label] for label in spec.labels] for row in logits_by_name(folder)])
    torch.testing.assert_close(our_logits(model, folder), expected)
    assert list(model.config.id2label.values()) == list(spec.labels)


def test_transfer_from_rte_to_wnli_keeps_each_class_with_its_name(tmp_path, tiny_bert):
    """rte says (entailment, not_entailment), wnli (not_entailment, entailment): the head continued on wnli
    must give entailment the rte head's entailment row; a head of other names (sst2 -> mrpc) is kept as is."""
    rte, wnli, sst2, mrpc = (get_spec(name) for name in ("rte", "wnli", "sst2", "mrpc"))
    tokenizer = load_tokenizer(str(tiny_bert))
    for source, target in ((rte, wnli), (sst2, mrpc)):
        folder = tmp_path / source.name
        model = load_head_model(str(tiny_bert), "cr", source.labels, tokenizer=tokenizer)
        with torch.no_grad():
            model.classifier.weight.normal_(generator=torch.Generator().manual_seed(1))
        save_checkpoint(model, tokenizer, str(folder))
        by_name = logits_by_name(folder / "hf_checkpoint")
        continued = load_task_model(target, str(tiny_bert), tokenizer, str(folder))
        got = our_logits(continued, folder / "hf_checkpoint")
        if source is rte:
            expected = [[row[label] for label in target.labels] for row in by_name]
        else:  # another task's head: its rows as they are, as the reference kept them
            expected = [[row[label] for label in source.labels] for row in by_name]
        torch.testing.assert_close(got, torch.tensor(expected))


# ----------------------------------------------------------------------------- model outputs -> y'

def test_mte_soft_labels_are_in_the_datasets_label_order(tmp_path, tiny_bert, tiny_t5):
    folder = classifier_checkpoint(tiny_bert, tmp_path / "ckpt", ["positive", "negative"])
    training = pipeline.model_training_set(str(folder), get_spec("sst2"), [{"text": t} for t in TEXTS],
                                           load_tokenizer(str(tiny_t5)), 32, 4, CPU)
    for feature, row in zip(training.features, logits_by_name(folder)):
        expected = torch.softmax(torch.tensor([row["negative"], row["positive"]]), -1)
        assert feature["labels"] == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.parametrize("names, message", [
    (["bad", "good"], "names its outputs ['bad', 'good'], not the labels ['negative', 'positive']"),
    (["LABEL_0", "LABEL_1", "LABEL_2"], "are not in the checkpoint or do not fit it"),  # a 3-way head for sst2
])
def test_mte_refuses_a_head_that_is_not_the_datasets(tmp_path, tiny_bert, tiny_t5, names, message):
    folder = classifier_checkpoint(tiny_bert, tmp_path / "ckpt", names)
    with pytest.raises(FuteError, match=message.replace("[", r"\[").replace("]", r"\]")):
        pipeline.model_training_set(str(folder), get_spec("sst2"), [{"text": t} for t in TEXTS],
                                    load_tokenizer(str(tiny_t5)), 32, 4, CPU)


# ----------------------------------------------------------------------------- file -> label id

def write_sst2_parquet(folder, label: datasets.ClassLabel) -> list[int]:
    """train/validation parquet files of sst2 written by datasets with `label`; the dataset's label index of
    every train row, computed from the names."""
    names = ["negative", "positive"]
    by_index = [names[i % 2] for i in range(10)]
    own = [name.lower() for name in label.names] if named(label.names) else names  # "0", "1": the dataset's
    stored = [own.index(name) if name in own else names.index(name) for name in by_index]
    features = datasets.Features({"sentence": datasets.Value("string"), "label": label})
    for split in ("train", "validation"):
        rows = {"sentence": [f"film number {i}" for i in range(10)], "label": stored}
        datasets.Dataset.from_dict(rows, features=features).to_parquet(folder / f"{split}.parquet")
    return [names.index(name) for name in by_index]


@pytest.mark.parametrize("label", [datasets.ClassLabel(names=["positive", "negative"]),
                                   datasets.ClassLabel(names=["Negative", "Positive"]),
                                   datasets.ClassLabel(num_classes=2)])
def test_a_parquet_class_label_column_is_read_by_its_names(tmp_path, label):
    expected = write_sst2_parquet(tmp_path, label)
    splits = load_examples(get_spec("sst2"), str(tmp_path))
    assert [example["label"] for example in splits["train"]] == expected


def test_a_parquet_class_label_of_other_names_is_refused(tmp_path):
    write_sst2_parquet(tmp_path, datasets.ClassLabel(names=["bad", "good"]))
    with pytest.raises(FuteError, match=r"ClassLabel whose integers mean \['bad', 'good'\], not sst2's labels"):
        load_examples(get_spec("sst2"), str(tmp_path))


@pytest.mark.parametrize("dataset, names, expected", [("sst2", ["positive", "negative"], [1, 0, None]),
                                                      ("imdb", ["neg", "pos"], [0, 1, None])])  # the hub's own
def test_a_hub_class_label_is_read_by_its_names(monkeypatch, dataset, names, expected):
    spec = get_spec(dataset)
    features = datasets.Features({name: datasets.Value("string") for name in spec.inputs}
                                 | {spec.label_field: datasets.ClassLabel(names=names)})
    rows = {**{name: ["great", "awful", "?"] for name in spec.inputs}, spec.label_field: [0, 1, -1]}
    table = datasets.Dataset.from_dict(rows, features=features)
    monkeypatch.setattr(loading, "read_split", lambda read: table)
    rows = loading._read_hub_split(spec, "train")
    assert [examples.label_index(spec, row[spec.label_field], "hub", i) for i, row in enumerate(rows)] == expected


def test_a_head_of_another_size_is_made_without_transformers_warning_of_a_mismatch(tmp_path, tiny_bert,
                                                                                   hf_records):
    """A 2-label checkpoint continued on a 3-label task, on a regression and on QA: the head has the task's size,
    and transformers says nothing of num_labels disagreeing with the checkpoint's id2label (it did, for every
    transfer between tasks of other label counts)."""
    import transformers

    classifier_checkpoint(tiny_bert, tmp_path / "two", ["negative", "positive"])
    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()  # another test module may have silenced it
    try:
        three = load_head_model(str(tmp_path / "two"), "cr", ("entailment", "neutral", "contradiction"))
        score = load_head_model(str(tmp_path / "two"), "cr", regression=True)
        span = load_head_model(str(tmp_path / "two"), "qa")
    finally:
        transformers.logging.set_verbosity(before)
    assert (three.config.num_labels, score.config.num_labels, span.config.num_labels) == (3, 1, 2)
    assert three.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert score.config.problem_type == "regression"
    assert not [r.getMessage() for r in hf_records if "incompatible" in r.getMessage()]
