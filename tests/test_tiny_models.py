"""The offline test kit's tiny models load by path, run, and keep the promised tokenizer facts."""
from __future__ import annotations

import filecmp
from pathlib import Path

import jinja2
import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from tiny_models import BUILDERS, MODEL_MAX_LENGTH, VERBALIZER_WORDS

TEXT = "The reviewer did not enjoy the movie at all."
ENCODERS = ["tiny_bert", "tiny_roberta", "tiny_t5", "tiny_gpt2"]
LLMS = ["tiny_llama", "tiny_mixtral"]  # Llama-2-style tokenizers; the Qwen3 ChatML model has its own tests
SYSTEM = "You are a helpful assistant."
USER = "Is this review positive?"


def _folder(request, fixture: str) -> Path:
    return request.getfixturevalue(fixture)


@pytest.mark.parametrize("fixture", [*ENCODERS, *LLMS, "tiny_qwen3"])
def test_tokenizer_is_fast_with_offsets_and_max_length(request, fixture):
    tokenizer = AutoTokenizer.from_pretrained(_folder(request, fixture))
    assert tokenizer.is_fast
    assert tokenizer.model_max_length == MODEL_MAX_LENGTH
    enc = tokenizer(TEXT, return_offsets_mapping=True, add_special_tokens=False)
    # "movie" is one token in every vocabulary; its offsets must point at it in TEXT.
    spans = [TEXT[s:e].strip() for s, e in enc["offset_mapping"]]
    assert "movie" in spans
    start = TEXT.index("movie")
    assert (start, start + len("movie")) in [
        (s + (TEXT[s] == " "), e) for s, e in enc["offset_mapping"] if e > s
    ]


@pytest.mark.parametrize(
    "fixture, pad, in_config",
    [
        ("tiny_bert", "[PAD]", True),
        ("tiny_roberta", "<pad>", True),
        ("tiny_t5", "<pad>", True),
        ("tiny_gpt2", None, False),
        ("tiny_llama", "<unk>", True),
        ("tiny_mixtral", "<unk>", True),
        ("tiny_qwen3", "<|endoftext|>", False),
    ],
)
def test_pad_tokens(request, fixture, pad, in_config):
    """GPT-2 has no pad token on purpose, like the real gpt2; Qwen3's tokenizer pads with its eos
    while its config names no pad id, as Qwen3 ships; the rest have one in both."""
    folder = _folder(request, fixture)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.pad_token == pad
    assert AutoConfig.from_pretrained(folder).pad_token_id == (tokenizer.pad_token_id if in_config else None)


@pytest.mark.parametrize("fixture", ENCODERS)
def test_encoders_load_for_classification_and_qa(request, fixture):
    folder = _folder(request, fixture)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    enc = tokenizer(TEXT, "Did the reviewer like it?", return_tensors="pt")
    seq_len = enc["input_ids"].shape[1]

    classifier = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3).eval()
    qa = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = classifier(**enc).logits
        out = qa(**enc)
    assert logits.shape == (1, 3)
    assert out.start_logits.shape == out.end_logits.shape == (1, seq_len)
    assert torch.isfinite(logits).all() and torch.isfinite(out.start_logits).all()
    model_type = classifier.config.model_type
    expected = {"bert": "Bert", "roberta": "Roberta", "t5": "T5", "gpt2": "GPT2"}[model_type]
    assert type(classifier).__name__ == f"{expected}ForSequenceClassification"
    assert type(qa).__name__ == f"{expected}ForQuestionAnswering"
    assert classifier.config.vocab_size == len(tokenizer)


@pytest.mark.parametrize("fixture, model_type", [("tiny_llama", "llama"), ("tiny_mixtral", "mixtral")])
def test_llms_load_as_causal_lm(request, fixture, model_type):
    folder = _folder(request, fixture)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert model.config.model_type == model_type
    enc = tokenizer([TEXT, "Yes."], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (2, enc["input_ids"].shape[1], len(tokenizer))
    # Left padding: the short row starts with pads, both rows end in real tokens.
    assert enc["attention_mask"][1, 0] == 0 and enc["attention_mask"][:, -1].tolist() == [1, 1]
    assert enc["input_ids"][0, 0] == tokenizer.bos_token_id == 1
    if model_type == "mixtral":
        assert 2 <= model.config.num_local_experts <= 4 and model.config.num_experts_per_tok == 2


@pytest.mark.parametrize("fixture", LLMS)
def test_verbalizers_are_single_tokens_alone_and_after_the_prompt(request, fixture):
    tokenizer = AutoTokenizer.from_pretrained(_folder(request, fixture))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": USER}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    for word in VERBALIZER_WORDS:
        ids = tokenizer.encode(word, add_special_tokens=False)
        assert tokenizer.convert_ids_to_tokens(ids) == ["▁" + word], word
        # The word as the model would generate it right after "[/INST]".
        assert tokenizer.encode(prompt + " " + word, add_special_tokens=False) == prompt_ids + ids, word
        assert tokenizer.decode(ids) == word


@pytest.mark.parametrize("fixture", LLMS)
def test_blank_tokens_exist(request, fixture):
    """A "▁" token (a space) and the byte token of a newline, as in Llama-2."""
    tokenizer = AutoTokenizer.from_pretrained(_folder(request, fixture))
    space_id = tokenizer.convert_tokens_to_ids("▁")
    newline_id = tokenizer.convert_tokens_to_ids("<0x0A>")
    assert space_id != tokenizer.unk_token_id and newline_id != tokenizer.unk_token_id
    yes_id = tokenizer.convert_tokens_to_ids("▁yes")
    # Llama's decoder strips one leading space, so a space shows only after a word.
    assert tokenizer.decode([yes_id, space_id]) == "yes "
    assert tokenizer.decode([space_id]).strip() == ""
    assert tokenizer.decode([newline_id]) == "\n"
    assert newline_id in tokenizer.encode("yes\nno", add_special_tokens=False)


def test_llama_chat_template_with_system_message(tiny_llama):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "Why?"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        f"<s>[INST] <<SYS>>\n{SYSTEM}\n<</SYS>>\n\n{USER} [/INST] yes </s><s>[INST] Why? [/INST]"
    )
    ids = tokenizer.apply_chat_template(messages[:2], add_generation_prompt=True, return_dict=False)
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id


def test_mixtral_chat_template_rejects_system_role(tiny_mixtral):
    tokenizer = AutoTokenizer.from_pretrained(tiny_mixtral)
    with pytest.raises(jinja2.exceptions.TemplateError, match="System role"):
        tokenizer.apply_chat_template(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            tokenize=False,
            add_generation_prompt=True,
        )
    messages = [
        {"role": "user", "content": USER},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "Why?"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == f"<s>[INST] {USER} [/INST]yes</s>[INST] Why? [/INST]"


def test_roberta_pairs_and_its_masked_lm_checkpoint(tiny_roberta):
    tokenizer = AutoTokenizer.from_pretrained(tiny_roberta)
    assert [tokenizer.convert_ids_to_tokens(i) for i in range(5)] == ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    ids = tokenizer("a", "b")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "a", "</s>", "</s>", "b", "</s>"]
    names = set(load_file(tiny_roberta / "model.safetensors"))
    assert not any("pooler" in name or "classifier" in name for name in names)


def test_qwen3_tokenizer_and_model_as_qwen3_ships(tiny_qwen3):
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3)
    assert (tokenizer.bos_token, tokenizer.unk_token) == (None, None)
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer("a b")["input_ids"] == tokenizer.encode("a b", add_special_tokens=False)  # adds nothing
    prompt = tokenizer.apply_chat_template([{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
                                           tokenize=False, add_generation_prompt=True)
    assert prompt == (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{USER}<|im_end|>\n"
                      "<|im_start|>assistant\n")
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    assert prompt_ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    for word in VERBALIZER_WORDS:  # written after the newline that ends the generation prompt
        ids = tokenizer.encode(word, add_special_tokens=False)
        assert len(ids) == 1 and tokenizer.encode(prompt + word, add_special_tokens=False) == prompt_ids + ids, word
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3)
    assert model.config.model_type == "qwen3" and model.lm_head.weight is model.model.embed_tokens.weight
    assert AutoModelForQuestionAnswering.from_config(model.config).base_model_prefix == "transformer"


def test_two_builds_are_identical(tmp_path):
    for name, build in BUILDERS.items():
        first, second = build(tmp_path / f"{name}_1"), build(tmp_path / f"{name}_2")
        files = sorted(p.name for p in first.iterdir())
        assert files == sorted(p.name for p in second.iterdir())
        assert "model.safetensors" in files and "tokenizer.json" in files
        match, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
        assert (mismatch, errors) == ([], []), name


def test_weights_depend_on_the_seed_only(tiny_llama, tmp_path):
    """The saved weights are those of a fresh model initialised after torch.manual_seed(0)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    torch.manual_seed(0)
    fresh = type(model)(AutoConfig.from_pretrained(tiny_llama))
    torch.manual_seed(1)
    other = type(model)(AutoConfig.from_pretrained(tiny_llama))
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(model.state_dict()[weight], fresh.state_dict()[weight])
    assert not torch.equal(model.state_dict()[weight], other.state_dict()[weight])
