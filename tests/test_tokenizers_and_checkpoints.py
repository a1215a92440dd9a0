"""Tokenizers and checkpoints as they ship: padding and truncation sides, pad == eos, BOS/EOS, and backbones
saved under another name.

Every family of the test kit (BERT, RoBERTa, GPT-2, Llama, Qwen3, T5) is loaded as a copy whose
tokenizer_config.json says padding_side / truncation_side "left" (as Llama, Mistral and Qwen checkpoints
often do), and must give the features, labels, losses, predictions, embeddings and LLM scores that
"right" gives. QA labels are checked against the answer text itself.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, AutoModelForQuestionAnswering, AutoTokenizer)

import run_qa_train
from configs.datasets import GENRE_LABELS
from data_utils.declarations import get_spec
from data_utils.errors import FuteError
from llm_inference.models import load_llm_model
from llm_inference.prompts import load_prompt
from llm_inference.scoring import PromptScorer
from modeling.features import make_loader, tokenize_cr, tokenize_qa
from task_emb.evaluation import collect_outputs
from task_emb.families import FAMILIES as EMBEDDING_FAMILIES
from task_emb.models import load_base_model, load_head_model, load_tokenizer, save_checkpoint
from task_emb.pipeline import model_training_set
from task_emb.surrogate import Head, LearnOptions, TrainingSet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAMILIES = ("bert", "roberta", "gpt2", "llama", "qwen3", "t5")
SIDES = {"right": {"padding_side": "right", "truncation_side": "right"},
         "left padding": {"padding_side": "left", "truncation_side": "right"},
         "left truncation": {"padding_side": "right", "truncation_side": "left"},
         "left": {"padding_side": "left", "truncation_side": "left"}}
CR_MAX_LEN, QA_MAX_LEN = 24, 40
CPU = torch.device("cpu")

TEXTS = ["The movie was good.", "Bad.", "I loved every minute of this wonderful story and I would watch it again.",
         "The acting was terrible, the script was even worse and nothing in this movie makes any sense at all, "
         "which is why I left the cinema after half an hour and never came back.",
         "A warm comedy.", "The jokes fall flat and the story drags on.", "One of the best films of the year.",
         "Boring, slow and far too long."]
CR = [{"text": text, "label": i % 2} for i, text in enumerate(TEXTS)]
CR_PAIRS = [{"text": text, "text_pair": TEXTS[-1 - i], "label": i % 2} for i, text in enumerate(TEXTS)]


def qa_examples() -> list[dict]:
    """Answers early in contexts of different lengths; one context far past QA_MAX_LEN, one unanswerable."""
    rows = [("Where was Anna born?", "Anna was born in Paris and moved away.", "Paris"),
            ("Who won the prize?", "Marie Curie won the Nobel Prize in physics in 1903.", "Marie Curie"),
            ("When was it completed?", "The Eiffel Tower was completed in 1889 in Paris. " * 8, "1889"),
            ("What do bees make?", "Bees collect nectar from flowers to make honey.", "honey"),
            ("What is the highest mountain?", "The library opens at nine.", None)]
    examples = []
    for i, (question, context, answer) in enumerate(rows):
        answers = ({"text": [answer], "answer_start": [context.index(answer)]} if answer
                   else {"text": [], "answer_start": []})
        examples.append({"id": str(i), "question": question, "context": context, "answers": answers})
    return examples


@pytest.fixture(scope="module")
def family_paths(tiny_bert, tiny_roberta, tiny_gpt2, tiny_llama, tiny_qwen3, tiny_t5) -> dict[str, Path]:
    return {"bert": tiny_bert, "roberta": tiny_roberta, "gpt2": tiny_gpt2, "llama": tiny_llama, "qwen3": tiny_qwen3,
            "t5": tiny_t5}


@pytest.fixture(scope="module")
def shipped(family_paths, tmp_path_factory):
    """shipped(family, **tokenizer settings): a copy of the family's folder whose tokenizer was saved with those
    settings (padding_side, truncation_side, add_bos_token, add_eos_token), as a checkpoint would ship it."""
    root = tmp_path_factory.mktemp("shipped")
    made: dict[tuple, Path] = {}

    def folder(family: str, **settings) -> Path:
        key = (family, *sorted(settings.items()))
        if key not in made:
            target = root / f"{family}_{len(made)}"
            shutil.copytree(family_paths[family], target)
            AutoTokenizer.from_pretrained(family_paths[family], **settings).save_pretrained(target)
            made[key] = target
        return made[key]
    return folder


def batches(features: list[dict], tokenizer, size: int = 4) -> list[dict]:
    return list(make_loader(features, tokenizer, size, shuffle=False))


def assert_same_batches(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def all_features(tokenizer) -> dict[str, list[dict]]:
    return {"cr": tokenize_cr(CR, tokenizer, CR_MAX_LEN), "pairs": tokenize_cr(CR_PAIRS, tokenizer, CR_MAX_LEN),
            "qa": tokenize_qa(qa_examples(), tokenizer, QA_MAX_LEN)[0]}


# ----------------------------------------------------------------------------- features and QA labels

@pytest.mark.parametrize("family", FAMILIES)
def test_features_and_batches_do_not_depend_on_the_tokenizer_sides(shipped, family):
    reference = load_tokenizer(str(shipped(family, **SIDES["right"])))
    expected = {name: batches(features, reference) for name, features in all_features(reference).items()}
    # The data pads and truncates: the test would see a side that changed anything.
    cr = expected["cr"][0]
    assert (cr["attention_mask"] == 0).any() and cr["input_ids"].shape[1] == CR_MAX_LEN
    for sides in ("left padding", "left truncation", "left"):
        tokenizer = load_tokenizer(str(shipped(family, **SIDES[sides])))
        for name, features in all_features(tokenizer).items():
            assert_same_batches(batches(features, tokenizer), expected[name])
        assert (tokenizer.padding_side, tokenizer.truncation_side) == tuple(SIDES[sides].values())  # restored


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("sides", ["right", "left padding", "left truncation", "left"])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_qa_label_in_a_padded_batch_decodes_to_the_gold_answer(shipped, family, sides):
    """The issue's reproduction: under a left-padding tokenizer 3 of 4 spans of the first batch were not the answer."""
    tokenizer = load_tokenizer(str(shipped(family, **SIDES[sides])))
    examples = qa_examples()
    features, _ = tokenize_qa(examples, tokenizer, QA_MAX_LEN)
    batch = batches(features, tokenizer, size=len(examples))[0]
    assert (batch["attention_mask"] == 0).any()
    for row, example in enumerate(examples):
        start, end = int(batch["start_positions"][row]), int(batch["end_positions"][row])
        if not example["answers"]["text"]:
            assert (start, end) == (0, 0)
            continue
        span = tokenizer.decode(batch["input_ids"][row, start:end + 1], skip_special_tokens=True)
        assert normalised(span) == normalised(example["answers"]["text"][0]), (family, sides, row)


@pytest.mark.parametrize("family, settings", [
    ("llama", {"add_bos_token": False}), ("llama", {"add_eos_token": True}),
    ("llama", {"add_bos_token": False, "add_eos_token": True}), ("t5", {}), ("qwen3", {}), ("roberta", {})])
def test_bos_and_eos_added_or_not_keep_qa_spans_and_cr_labels(shipped, family, settings):
    """Qwen adds nothing, T5 adds </s>, RoBERTa <s> ... </s></s> ... </s>, Llama <s> (and </s> if asked)."""
    tokenizer = load_tokenizer(str(shipped(family, **settings)))
    ids = tokenizer("a b")["input_ids"]
    if "add_bos_token" in settings:
        assert (ids[0] == tokenizer.bos_token_id) == settings["add_bos_token"]
    if "add_eos_token" in settings:
        assert (ids[-1] == tokenizer.eos_token_id) == settings["add_eos_token"]
    examples = qa_examples()
    features, _ = tokenize_qa(examples, tokenizer, QA_MAX_LEN)
    for feature, example in zip(features, examples):
        start, end = feature["start_positions"], feature["end_positions"]
        if not example["answers"]["text"]:  # "no answer" is position 0, whatever token sits there
            assert (start, end) == (0, 0)
            continue
        span = tokenizer.decode(feature["input_ids"][start:end + 1], skip_special_tokens=True)
        assert normalised(span) == normalised(example["answers"]["text"][0])
    assert [f["labels"] for f in tokenize_cr(CR_PAIRS, tokenizer, CR_MAX_LEN)] == [e["label"] for e in CR_PAIRS]


# ----------------------------------------------------------------------------- losses, predictions, embeddings

HP = {"learning_rate": 1e-2, "max_epochs": 1, "batch_size": 4, "gradient_accumulation_steps": 1, "patience": None,
      "micro_batch_size": 4}
SST2 = get_spec("sst2")


def outputs_under(folder: Path, workdir: Path) -> dict[str, np.ndarray]:
    """Everything a family computes from the tokenizer in `folder`: CR and QA losses and logits of fresh heads,
    prefix and FIM DTEs and MTEs, the QA prefix DTE and TextEmb."""
    tokenizer = load_tokenizer(str(folder))
    features = all_features(tokenizer)
    out = {}
    for task, name, labels in (("cr", "cr", SST2.labels), ("qa", "qa", ())):
        torch.manual_seed(0)
        model = load_head_model(str(folder), task, labels, tokenizer=tokenizer)
        keys = ("logits",) if task == "cr" else ("start_logits", "end_logits")
        logits, loss = collect_outputs(model, batches(features[name], tokenizer), CPU, keys)
        out[f"{task} loss"] = np.array(loss)
        out.update({f"{task} {key}": np.concatenate([row for batch in logits[key] for row in batch.reshape(
            batch.shape[0], -1)]) for key in keys})
        save_checkpoint(model, tokenizer, str(workdir / task))  # M, with the tokenizer as it ships

    cr = TrainingSet(features["cr"], Head("cr", SST2.labels), "gold", "sst2")
    qa = TrainingSet(features["qa"], Head("qa"), "span", "cq")
    m_cr = model_training_set(str(workdir / "cr" / "hf_checkpoint"), SST2, CR, tokenizer, CR_MAX_LEN, 4, CPU)
    m_qa = model_training_set(str(workdir / "qa" / "hf_checkpoint"), get_spec("cq"),
                              [{"text": e["question"], "text_pair": e["context"]} for e in qa_examples()],
                              tokenizer, QA_MAX_LEN, 4, CPU)
    for label, family, training in (("prefix DTE", "prefix", cr), ("FIM DTE", "fim", cr), ("TextEmb", "text", cr),
                                    ("prefix MTE", "prefix", m_cr), ("FIM MTE", "fim", m_cr),
                                    ("QA prefix DTE", "prefix", qa), ("QA prefix MTE", "prefix", m_qa)):
        torch.manual_seed(0)
        out[label] = EMBEDDING_FAMILIES[family].learn(str(folder), training, tokenizer, HP, CPU,
                                                      LearnOptions(seed=0)).embedding
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_losses_predictions_and_embeddings_do_not_depend_on_the_tokenizer_sides(shipped, family, tmp_path):
    expected = outputs_under(shipped(family, **SIDES["right"]), tmp_path / "right")
    got = outputs_under(shipped(family, **SIDES["left"]), tmp_path / "left")
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{family}: {name}")


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_llm_scores_do_not_depend_on_the_tokenizer_sides_or_its_bos_setting(shipped, family):
    """Scoring pads by hand and writes the template's own special tokens: nothing of the tokenizer's settings counts."""
    model = load_llm_model(str(shipped(family)), 32, CPU)
    prompt = load_prompt("sa", 0)
    examples = [{"text": text} for text in TEXTS[:4]]

    def scores(**settings):
        tokenizer = AutoTokenizer.from_pretrained(shipped(family, **settings))
        return PromptScorer(model, tokenizer, prompt, verbalizer_tokens="first").score(examples)

    expected = scores(**SIDES["right"])
    variants = [SIDES["left"], {"padding_side": "left", "add_eos_token": True}]
    if family == "llama":  # the Llama-2 template writes <s> itself
        variants.append({"padding_side": "right", "add_bos_token": False})
    for settings in variants:
        assert scores(**settings) == expected, settings


# ----------------------------------------------------------------------------- decoders padding with eos

@pytest.mark.parametrize("family, eos_text", [("qwen3", "<|endoftext|>"), ("gpt2", "<|endoftext|>"),
                                              ("llama", "</s>")])
@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_a_decoder_classifier_padding_with_eos_reads_the_same_token_in_any_batch(shipped, family, eos_text,
                                                                                   padding_side):
    """Decoder classifiers pick the last token that is not config.pad_token_id. With the tokenizer padding with
    eos (GPT-2 and Qwen3 as they ship; Llama when its tokenizer has no pad, while its config says <unk>), each
    example must get the logits it gets alone, also when its own text ends in eos."""
    folder = shipped(family, padding_side=padding_side)
    tokenizer = load_tokenizer(str(folder))
    if family == "llama":
        tokenizer.pad_token = tokenizer.eos_token
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    torch.manual_seed(0)
    model = load_head_model(str(folder), "cr", SST2.labels, tokenizer=tokenizer).eval()
    assert model.config.pad_token_id == tokenizer.pad_token_id
    rows = [{"text": "The movie was good." + eos_text, "label": 1}, *CR[:3]]
    features = tokenize_cr(rows, tokenizer, CR_MAX_LEN)
    assert features[0]["input_ids"][-1] == tokenizer.eos_token_id
    together = collect_outputs(model, batches(features, tokenizer), CPU, ("logits",))[0]["logits"][0]
    alone = np.concatenate([collect_outputs(model, batches([f], tokenizer), CPU, ("logits",))[0]["logits"][0]
                            for f in features])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- checkpoints

def weights_equal(model, checkpoint_weights: dict[str, torch.Tensor], prefix: str, checkpoint_prefix: str) -> int:
    """How many of the model's backbone weights (under `prefix`) equal the checkpoint's (under checkpoint_prefix);
    asserts that every one does."""
    state = {name[len(prefix):]: tensor for name, tensor in model.state_dict().items() if name.startswith(prefix)}
    for name, tensor in state.items():
        torch.testing.assert_close(tensor, checkpoint_weights[checkpoint_prefix + name], rtol=0, atol=0)
    return len(state)


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_a_causal_lm_checkpoint_fills_the_qa_backbone_named_transformer(family, family_paths, tmp_path, caplog):
    """LlamaForQuestionAnswering/Qwen3ForQuestionAnswering hold the backbone as `transformer`, the causal LM's
    checkpoint as `model`: every backbone weight must come from the checkpoint, in QA and back in CR (transfer)."""
    path = family_paths[family]
    checkpoint = load_file(path / "model.safetensors")
    tokenizer = load_tokenizer(str(path))
    with caplog.at_level(logging.INFO):
        qa = load_head_model(str(path), "qa", tokenizer=tokenizer)
    assert qa.base_model_prefix == "transformer"
    assert weights_equal(qa, checkpoint, "transformer.", "model.") == sum(k.startswith("model.") for k in checkpoint)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("holds the backbone as 'model'" in r.getMessage() for r in caplog.records)
    # Our QA checkpoint keeps the model's own names, so plain transformers reads it whole...
    save_checkpoint(qa, tokenizer, str(tmp_path / "qa"))
    saved = load_file(tmp_path / "qa" / "hf_checkpoint" / "model.safetensors")
    assert any(k.startswith("transformer.") for k in saved) and not any(k.startswith("model.") for k in saved)
    plain, info = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "qa" / "hf_checkpoint",
                                                                output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    # ... and QA -> CR transfer (a `model` backbone) and TextEmb's bare backbone read all of it.
    cr = load_head_model(str(tmp_path / "qa" / "hf_checkpoint"), "cr", SST2.labels, tokenizer=tokenizer)
    assert weights_equal(cr, saved, "model.", "transformer.") == weights_equal(qa, saved, "transformer.",
                                                                             "transformer.")
    base = load_base_model(str(tmp_path / "qa" / "hf_checkpoint"))
    assert weights_equal(base, saved, "", "transformer.") > 0


def test_run_qa_train_on_the_left_padding_llama_scores_as_the_right_padding_one(shipped, tmp_path):
    """The issue, end to end: the tiny Llama ships padding_side "left"; the dev F1 must be that of "right"."""
    data = tmp_path / "cq"
    data.mkdir()
    examples = qa_examples()
    for split in ("train", "validation"):
        rows = [{**e, "id": f"{split}{k}", "title": "t"} for k, e in enumerate(examples * 2)]
        (data / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    scores = {}
    for side in ("left", "right"):
        folder = shipped("llama", padding_side=side)
        assert AutoTokenizer.from_pretrained(folder).padding_side == side
        scores[side] = run_qa_train.main([
            "--to_train_dataset", "cq", "--dataset_path", str(data), "--lm_model_name", str(folder),
            "--model_save_path", str(tmp_path / side), "--score_save_path", str(tmp_path / f"{side}_score"),
            "--max_epochs", "1", "--batch_size", "4", "--max_len", str(QA_MAX_LEN), "--learning_rate", "1e-3"])
    assert scores["left"] == scores["right"]
    saved = load_file(tmp_path / "left" / "hf_checkpoint" / "model.safetensors")
    assert sum(k.startswith("transformer.") for k in saved) == 2 * 9 + 2  # 2 layers of 9 weights, embeddings, norm


def write_checkpoint(source: Path, target: Path, edit) -> Path:
    """A copy of `source` with its weights edited by edit(weights dict)."""
    shutil.copytree(source, target)
    weights = load_file(target / "model.safetensors")
    edit(weights)
    save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
    return target


@pytest.mark.parametrize("family, head", [("bert", "cr"), ("llama", "qa"), ("t5", "cr"), ("roberta", "qa")])
def test_a_backbone_weight_missing_from_the_checkpoint_is_an_error_naming_it(family_paths, tmp_path, family, head):
    def drop(weights):
        lost = sorted(name for name in weights if ".0." in name and name.endswith("weight"))[0]
        weights.pop(lost)
        drop.lost = lost

    folder = write_checkpoint(family_paths[family], tmp_path / family, drop)
    leaf = drop.lost.split(".", 1)[1] if family in ("llama", "bert", "roberta") else drop.lost
    with pytest.raises(FuteError, match=rf"{folder}: 1 backbone weight\(s\) of \w+ are not in the checkpoint.*"
                                        rf"{leaf.replace('.', '[.]')}"):
        load_head_model(str(folder), head, SST2.labels, tokenizer=load_tokenizer(str(folder)))


def test_a_backbone_weight_of_another_shape_is_an_error(family_paths, tmp_path):
    """ignore_mismatched_sizes (for a head of another shape) must not re-initialise a backbone weight."""
    def widen(weights):
        name = "bert.encoder.layer.1.output.dense.bias"
        weights[name] = torch.zeros(weights[name].shape[0] + 1)

    folder = write_checkpoint(family_paths["bert"], tmp_path / "bert", widen)
    with pytest.raises(FuteError, match=r"encoder\.layer\.1\.output\.dense\.bias"):
        load_head_model(str(folder), "cr", SST2.labels)


def test_an_llm_without_its_lm_head_is_an_error(family_paths, tmp_path):
    """An LLM keeps its LM head: a bare-backbone checkpoint would score with a random one."""
    AutoModelForCausalLM.from_pretrained(family_paths["llama"]).model.save_pretrained(tmp_path / "bare")
    with pytest.raises(FuteError, match=r"1 weight\(s\) of LlamaForCausalLM .*lm_head\.weight"):
        load_llm_model(str(tmp_path / "bare"), 32, CPU)


def test_a_new_head_is_one_info_line_for_every_family(family_paths, caplog, hf_records):
    """No transformers table or warning either: the head's line replaces them."""
    for family, path in family_paths.items():
        for task in ("cr", "qa"):
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="modeling.hf_compat"):
                load_head_model(str(path), task, GENRE_LABELS["sa"])
            lines = [r for r in caplog.records if r.name == "modeling.hf_compat"]
            assert {r.levelno for r in lines} == {logging.INFO}, (family, task)
            assert "initialised new head weights" in lines[-1].getMessage(), (family, task)
    assert not [r for r in hf_records if r.levelno >= logging.WARNING]
