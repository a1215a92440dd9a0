"""Chat templates of the public styles on tokenizers built here, verbalizer ids in context, pinned templates
for the paper's aliases, and the template as part of an LLM run's identity.

The templates below are written for these tests from the published behaviour of each family (what the
hub's templates render), not copied: Llama-2-chat and Mixtral-Instruct of December 2023 are the pinned
files of configs/chat_templates/; the others are Mixtral-Instruct as the hub has it now (system message
merged into the first user turn), Gemma-it (no system role), Zephyr (generation prompt ends in a
newline) and ChatML.
"""
from __future__ import annotations

import json
import logging
import string
from pathlib import Path

import pytest
import torch
from jinja2 import TemplateError
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import run_llm_inference
from data_utils.errors import FuteError
from llm_inference.models import TEMPLATE_DIR, choose_chat_template
from llm_inference.prompts import answer_token_ids, format_first_turn, keeps_system_message, load_prompt

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LLAMA_2 = (TEMPLATE_DIR / "llama-2-chat.jinja").read_text()
MIXTRAL_2023 = (TEMPLATE_DIR / "mixtral-8x7b-instruct-v0.1-2023-12.jinja").read_text()
MIXTRAL_NOW = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('After the optional system message, roles must alternate') }}{%- endif %}"
    "{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}"
    "{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}"
    "{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}{%- endif %}"
    "{%- endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)
ZEPHYR = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<unk>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>", "<|system|>", "<|user|>", "<|assistant|>",
            "<|im_start|>", "<|im_end|>"]
# Each answer word exists twice, as in a SentencePiece vocabulary: after a space ("▁yes") and not ("yes").
WORD_MERGES = [("y", "e"), ("ye", "s"), ("▁", "yes"), ("Y", "e"), ("Ye", "s"), ("▁", "Yes"),
               ("n", "o"), ("▁", "no"), ("N", "o"), ("▁", "No")]


def sentencepiece_tokenizer(chat_template: str | None = None) -> PreTrainedTokenizerFast:
    """Llama-style: Metaspace ("▁" for spaces, one at the start), byte fallback ("\\n" is <0x0A>), BPE."""
    chars = ["▁", *string.ascii_letters, *string.digits, *string.punctuation]
    pieces = SPECIALS + [f"<0x{i:02X}>" for i in range(256)] + chars + ["".join(pair) for pair in WORD_MERGES]
    backend = Tokenizer(models.BPE(vocab={piece: i for i, piece in enumerate(pieces)}, merges=WORD_MERGES,
                                   unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    backend.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>", pad_token="<unk>", padding_side="left",
                                        additional_special_tokens=SPECIALS[3:])
    tokenizer.chat_template = chat_template
    return tokenizer


def piece_ids(tokenizer, *pieces):
    return [tokenizer.convert_tokens_to_ids(piece) for piece in pieces]


SYSTEM_AND_USER = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
STYLES = {  # template, rendering of SYSTEM_AND_USER (None: the system role is refused), keeps the system turn
    "llama-2": (LLAMA_2, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]", True),
    "mixtral-2023": (MIXTRAL_2023, None, False),
    "mixtral-now": (MIXTRAL_NOW, "<s> [INST] S\n\nU [/INST]", True),
    "gemma": (GEMMA, None, False),
    "zephyr": (ZEPHYR, "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n", True),
    "chatml": (CHATML, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n", True),
}
USER_ONLY = {
    "mixtral-2023": "<s>[INST] U [/INST]",
    "gemma": "<s><start_of_turn>user\nU<end_of_turn>\n<start_of_turn>model\n",
}
# The token a model writes its answer "yes" as, right after each style's generation prompt.
ANSWER_PIECE = {"llama-2": "▁yes", "mixtral-2023": "▁yes", "mixtral-now": "▁yes", "gemma": "yes", "zephyr": "yes",
                "chatml": "yes"}


def byte_level_tokenizer(path, chat_template: str) -> PreTrainedTokenizerFast:
    """The tiny GPT-2 byte-level BPE, given the special tokens of the templates above."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>", "additional_special_tokens": SPECIALS[3:]})
    tokenizer.chat_template = chat_template
    return tokenizer


@pytest.mark.parametrize("kind", ["sentencepiece", "byte-level"])
@pytest.mark.parametrize("style", STYLES)
def test_each_style_renders_and_keeps_the_system_turn_only_where_shown(style, kind, tiny_gpt2):
    template, rendering, keeps = STYLES[style]
    tokenizer = sentencepiece_tokenizer(template) if kind == "sentencepiece" else byte_level_tokenizer(tiny_gpt2,
                                                                                                        template)
    if rendering is None:
        with pytest.raises(TemplateError):
            tokenizer.apply_chat_template(SYSTEM_AND_USER, tokenize=False, add_generation_prompt=True)
        assert tokenizer.apply_chat_template(SYSTEM_AND_USER[1:], tokenize=False,
                                             add_generation_prompt=True) == USER_ONLY[style]
    else:
        assert tokenizer.apply_chat_template(SYSTEM_AND_USER, tokenize=False, add_generation_prompt=True) == rendering
    assert keeps_system_message(tokenizer) is keeps


@pytest.mark.parametrize("style", STYLES)
def test_verbalizer_ids_are_the_tokens_written_after_the_generation_prompt(style):
    tokenizer = sentencepiece_tokenizer(STYLES[style][0])
    _, generation_prompt = format_first_turn(tokenizer, load_prompt("sa", 0), {"text": "A fine film."},
                                             keeps_system_message(tokenizer))
    assert answer_token_ids(tokenizer, generation_prompt, "yes") == piece_ids(tokenizer, ANSWER_PIECE[style])
    assert answer_token_ids(tokenizer, generation_prompt, "No") == piece_ids(
        tokenizer, "▁No" if ANSWER_PIECE[style].startswith("▁") else "No")
    # Out of context (no prompt) a word is read as at the start of a text, Llama-2-chat's case:
    # its ids are what they were before ids were taken in context.
    assert answer_token_ids(tokenizer, "", "yes") == tokenizer.encode("yes", add_special_tokens=False)
    assert tokenizer.encode("yes", add_special_tokens=False) == piece_ids(tokenizer, "▁yes")


@pytest.mark.parametrize("style", STYLES)
def test_byte_level_verbalizer_ids_follow_the_generation_prompt(style, tiny_gpt2):
    tokenizer = byte_level_tokenizer(tiny_gpt2, STYLES[style][0])
    _, generation_prompt = format_first_turn(tokenizer, load_prompt("sa", 0), {"text": "A fine film."},
                                             keeps_system_message(tokenizer))
    spaced = ANSWER_PIECE[style].startswith("▁")  # the same styles answer after a space in either vocabulary
    assert answer_token_ids(tokenizer, generation_prompt, "yes") == tokenizer.encode(
        " yes" if spaced else "yes", add_special_tokens=False)


def test_byte_level_bpe_chatml_answers_without_the_space_marker(tiny_gpt2):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHATML
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Is it good?"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert answer_token_ids(tokenizer, prompt, "yes") == tokenizer.encode("yes", add_special_tokens=False)
    assert answer_token_ids(tokenizer, prompt, "yes") != tokenizer.encode(" yes", add_special_tokens=False)
    chatml_llama_prompt = "<s>[INST] Is it good? [/INST]"  # after a visible character: a space, "Ġyes"
    assert answer_token_ids(tokenizer, chatml_llama_prompt, "yes") == tokenizer.encode(" yes",
                                                                                      add_special_tokens=False)


# ------------------------------------------------------------------ the paper's aliases, pinned


@pytest.mark.parametrize("hub_template", [MIXTRAL_2023, MIXTRAL_NOW])
def test_mixtral_alias_renders_the_papers_format_under_either_hub_template(hub_template, caplog):
    tokenizer = sentencepiece_tokenizer(hub_template)
    with caplog.at_level(logging.WARNING, logger="llm_inference.models"):
        chosen = choose_chat_template("mixtral", tokenizer)
    assert chosen.text == MIXTRAL_2023 and "pinned for mixtral" in chosen.source
    warned = [r.getMessage() for r in caplog.records if "renders prompts differently" in r.getMessage()]
    assert len(warned) == (hub_template is MIXTRAL_NOW)
    _, text = format_first_turn(tokenizer, load_prompt("sa", 0), {"text": "A fine film."},
                                keeps_system_message(tokenizer))
    assert text.startswith("<s>[INST] Does the movie review below make someone want to watch it? \n\nA fine film.\n")
    assert "helpful assistant" not in text and text.endswith(" [/INST]")


def test_llama_aliases_render_llama_2_chat_with_the_system_turn(caplog):
    tokenizer = sentencepiece_tokenizer(ZEPHYR)  # whatever the download carries
    for alias in ("llama-13b", "llama-70b"):
        assert choose_chat_template(alias, tokenizer).text == LLAMA_2
    text = tokenizer.apply_chat_template(SYSTEM_AND_USER, tokenize=False, add_generation_prompt=True)
    assert text == STYLES["llama-2"][1]


def test_a_template_file_wins_and_a_model_without_one_is_refused(tmp_path):
    path = tmp_path / "chatml.jinja"
    path.write_text(CHATML)
    tokenizer = sentencepiece_tokenizer(ZEPHYR)
    chosen = choose_chat_template("mixtral", tokenizer, str(path))
    assert (chosen.text, chosen.source, tokenizer.chat_template) == (CHATML, f"file {path}", CHATML)
    assert choose_chat_template("some/model", sentencepiece_tokenizer(GEMMA)).source == "the tokenizer of some/model"
    with pytest.raises(FuteError, match="has no chat template.*--chat_template"):
        choose_chat_template("some/model", sentencepiece_tokenizer(None))


# ------------------------------------------------------- the reproduced case: "yes" after a newline


def answer_yes_model(tokenizer, folder: Path) -> Path:
    """A tiny Llama whose every greedy step writes "yes" (no space marker), with "▁no" scored above "▁yes".

    Attention and MLP outputs are zeroed, so the final hidden state is the normalised embedding, the
    same one-hot direction for every token; the output rows set the logits along it:
    yes 3 > ▁no 2 > ▁yes 1 > every other token 0 (times sqrt(hidden_size) after the RMS norm).
    """
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        for piece, value in (("yes", 3.0), ("▁no", 2.0), ("▁yes", 1.0)):
            model.lm_head.weight[tokenizer.convert_tokens_to_ids(piece), 0] = value
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_sst2(tmp_path, model_folder, template: str, save: str):
    template_file = tmp_path / f"{abs(hash(template))}.jinja"
    template_file.write_text(template)
    data = tmp_path / "sst2.jsonl"
    data.write_text("".join(json.dumps({"sentence": s, "label": y, "idx": i}) + "\n" for i, (s, y) in
                            enumerate([("A warm and funny film.", 1), ("Dull.", 0), ("I loved it.", 1)])))
    return run_llm_inference.main(["--model", str(model_folder), "--dataset_name", "sst2", "--prompt_number", "0",
                                   "--bit", "32", "--device", "cpu", "--dataset_path", str(data),
                                   "--chat_template", str(template_file), "--save_path", str(tmp_path / save)])


def test_zephyr_style_answer_yes_after_a_newline_is_predicted_positive(tmp_path):
    folder = answer_yes_model(sentencepiece_tokenizer(), tmp_path / "model")
    out = run_sst2(tmp_path, folder, ZEPHYR, "zephyr")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for result in out["results"]:
        assert result["token_info"]["answer"] == "yes" and result["token_info"]["answer_scored"] is True
        assert result["normalized_pred"] == 1  # positive: the model's greedy answer
        # the scores read are those of "yes"/"Yes"/"no"/"No" as written after the newline
        assert result["token_info"]["word_scores"][0] == max(result["token_info"]["word_scores"])
    assert out["summary"]["unscored_answers"] == 0
    assert tokenizer.convert_ids_to_tokens(tokenizer.encode("yes", add_special_tokens=False)) == ["▁yes"]


def test_an_answer_under_an_unscored_id_is_warned_once_and_counted(tmp_path, caplog):
    folder = answer_yes_model(sentencepiece_tokenizer(), tmp_path / "model")
    with caplog.at_level(logging.WARNING, logger="llm_inference.scoring"):
        out = run_sst2(tmp_path, folder, LLAMA_2, "llama")  # "[/INST]": "▁yes" is scored, "yes" is written
    assert [r["token_info"]["answer_scored"] for r in out["results"]] == [False] * 3
    assert out["summary"]["unscored_answers"] == 3
    assert sum("not the verbalizer id scored" in r.getMessage() for r in caplog.records) == 1


def test_the_template_is_recorded_and_a_resume_with_another_is_refused(tmp_path):
    folder = answer_yes_model(sentencepiece_tokenizer(), tmp_path / "model")
    out = run_sst2(tmp_path, folder, ZEPHYR, "run")
    assert out["chat_template"]["source"].startswith("file ") and len(out["chat_template"]["sha256"]) == 64
    assert out["chat_template_sha256"] == out["chat_template"]["sha256"]
    assert run_sst2(tmp_path, folder, ZEPHYR, "run")["results"] == out["results"]  # same template: reused
    with pytest.raises(FuteError, match="chat_template_sha256"):
        run_sst2(tmp_path, folder, CHATML, "run")


def test_llama_2_chat_ids_are_unchanged_by_taking_them_in_context():
    tokenizer = sentencepiece_tokenizer(LLAMA_2)
    prompt = load_prompt("sa", 0)
    _, generation_prompt = format_first_turn(tokenizer, prompt, {"text": "Fine."}, True)
    assert generation_prompt.endswith(" [/INST]")
    for word in prompt.verbalizer_list:  # yes, Yes, no, No
        assert answer_token_ids(tokenizer, generation_prompt, word) == tokenizer.encode(word, add_special_tokens=False)


def test_the_y_prime_record_counts_unscored_answers_of_the_whole_file(tmp_path):
    import run_llm_inference_for_te

    folder = answer_yes_model(sentencepiece_tokenizer(), tmp_path / "model")
    template = tmp_path / "llama2.jinja"
    template.write_text(LLAMA_2)
    x_prime = tmp_path / "x.jsonl"
    x_prime.write_text("".join(json.dumps({"content": text, "data_index": i}) + "\n"
                               for i, text in enumerate(["Fine.", "Dull.", "Great fun."])))
    argv = ["--model", str(folder), "--task_genre", "sa", "--prompt_number", "0", "--bit", "32", "--device", "cpu",
            "--data_load_path", str(x_prime), "--chat_template", str(template), "--save_path", str(tmp_path / "y")]
    assert run_llm_inference_for_te.main(argv) == 3
    assert run_llm_inference_for_te.main(argv) == 0  # a rerun adds nothing and counts the whole file again
    record = json.loads((tmp_path / "y.record.json").read_text())["config"]
    assert record["unscored_answers"] == 3 and record["chat_template"]["source"] == f"file {template}"
