"""Prompt files and the renderer: every prompt renders, strings match the paper's prompts by hand."""
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from jinja2 import TemplateError
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GenerationConfig, PreTrainedTokenizerFast

from data_utils.errors import FuteError
from configs.datasets import GENRES
from llm_inference.prompts import (
    NUM_PROMPTS,
    apply_chat_template,
    build_messages,
    cot_followup_message,
    keeps_system_message,
    load_prompt,
    render_user_message,
    verbalizer_token_ids,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "sa": {"text": "A gripping film."},
    "nli": {"premise": "A man is sleeping.", "hypothesis": "A person rests."},
}
ANSWER = "Write your answer ({}) in lower case without any explanation."
COT = (
    "Reason step by step before answering. Write your answer in the following format: "
    "[REASONING] Therefore, the answer is [{}]"
)
FOLLOWUP = "According to the provided reasoning, write your answer ({}) in lower case without any explanation."

# Mixtral-8x7B-Instruct-v0.1's published chat template: it rejects a system message.
MIXTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
SYSTEM_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def make_tokenizer(chat_template=None):
    """A tiny BPE tokenizer: yes/Yes/no/No/maybe merge to one token each; "Maybe" stays two ("M", "aybe")."""
    chars = list("abeymnoYNMs")
    merged = ["ye", "yes", "Ye", "Yes", "no", "No", "ma", "may", "be", "maybe", "ay", "aybe"]
    vocab = {tok: i for i, tok in enumerate(["<unk>", "<s>", "</s>"] + chars + merged)}
    merges = [("y", "e"), ("ye", "s"), ("Y", "e"), ("Ye", "s"), ("n", "o"), ("N", "o"),
              ("m", "a"), ("ma", "y"), ("b", "e"), ("may", "be"), ("a", "y"), ("ay", "be")]
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tok.chat_template = chat_template
    return tok, vocab


@pytest.mark.parametrize("genre", GENRES)
@pytest.mark.parametrize("number", range(NUM_PROMPTS))
def test_every_prompt_renders(genre, number):
    prompt = load_prompt(genre, number)
    message = render_user_message(prompt, EXAMPLES[genre])
    assert "{" not in message and "}" not in message
    for value in EXAMPLES[genre].values():
        assert value in message
    assert prompt.number == number and prompt.template_id == number % 10 and prompt.is_cot == (number >= 10)
    instruction = (COT if prompt.is_cot else ANSWER).format(prompt.label_space)
    assert message.endswith("\n" + instruction)


def test_prompt_files_match_the_papers_prompts():
    """Guard of paper facts: these values are written out from the paper's prompts and the original's
    sa_use.json / nli_use.json, checked by hand, so an edit of configs/prompts/ that changes them shows."""
    sa1 = load_prompt("sa", 1)
    assert sa1.template == "{text} How does the viewer feel about the movie? "
    assert sa1.verbalizers == {"positive": ("good", "Good", "positive"), "negative": ("bad", "Bad", "negative")}
    assert sa1.labels == ("negative", "positive")
    assert sa1.label_space == "good, Good, positive, bad, Bad, negative"
    assert load_prompt("sa", 2).template.endswith("movie? ")
    assert load_prompt("sa", 8).template == "{text} Did the reviewer enjoy the movie?"
    # SA 6: the original's space sits before the newline, not at the end.
    assert load_prompt("sa", 6).template == "{text} \nIs this review positive or negative?"
    assert load_prompt("sa", 6).label_space == "positive, negative"

    nli1 = load_prompt("nli", 1)
    assert nli1.labels == ("entailment", "neutral", "contradiction")
    assert nli1.label_space == "correct, uncertain, incorrect"
    nli8 = load_prompt("nli", 8)
    assert nli8.label_space == "always, Always, sometimes, Sometimes, never, Never"
    assert nli8.verbalizer_labels == ("entailment",) * 2 + ("neutral",) * 2 + ("contradiction",) * 2
    nli3 = load_prompt("nli", 3)
    assert nli3.template == (
        'Take the following as truth: {premise}\nThen the following statement: "{hypothesis}" is true, false, or maybe??'
    )


def test_render_vanilla_exact():
    message = render_user_message(load_prompt("nli", 2), {"premise": "P.", "hypothesis": "H."})
    assert message == "P.\nQuestion: H. true, false, or maybe?\n" + ANSWER.format(
        "true, True, maybe, Maybe, false, False"
    )


@pytest.mark.parametrize("number", [10, 11, 12])
def test_cot_prompts_reuse_templates_0_to_2(number):
    for genre in GENRES:
        cot, vanilla = load_prompt(genre, number), load_prompt(genre, number - 10)
        assert cot.is_cot and not vanilla.is_cot
        assert (cot.template, cot.verbalizers) == (vanilla.template, vanilla.verbalizers)
        example = EXAMPLES[genre]
        filled = render_user_message(vanilla, example)[: -len(ANSWER.format(vanilla.label_space))]
        assert render_user_message(cot, example) == filled + COT.format(cot.label_space)


def test_cot_followup_and_messages():
    prompt = load_prompt("sa", 10)
    assert cot_followup_message(prompt) == FOLLOWUP.format("yes, Yes, no, No")
    messages = build_messages(prompt, {"text": "Fine."})
    assert messages[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert messages[1]["role"] == "user"
    assert messages[1]["content"] == (
        "Does the movie review below make someone want to watch it? \n\nFine.\n" + COT.format("yes, Yes, no, No")
    )
    assert [m["role"] for m in build_messages(prompt, {"text": "Fine."}, system=False)] == ["user"]


def test_braces_in_text_render_literally():
    text = "Odd {text} and {} and {{hypothesis}} and {label_space}"
    sa = render_user_message(load_prompt("sa", 1), {"text": text})
    assert sa.startswith(text + " How does the viewer feel")
    nli = render_user_message(load_prompt("nli", 0), {"premise": "{hypothesis}", "hypothesis": "{premise}"})
    assert nli.startswith("Given that {hypothesis} Does it follow that {premise} yes, no, or maybe?\n")


def test_bad_inputs_raise():
    with pytest.raises(FuteError, match="'hypothesis'"):
        render_user_message(load_prompt("nli", 0), {"premise": "P."})
    with pytest.raises(FuteError, match="'text'"):
        render_user_message(load_prompt("sa", 0), {"content": "x"})
    with pytest.raises(FuteError, match="sa, nli"):
        load_prompt("qa", 0)
    for number in (-1, 13, True):
        with pytest.raises(FuteError, match="0-12"):
            load_prompt("sa", number)


def test_chat_template_with_system():
    tok, _ = make_tokenizer(SYSTEM_TEMPLATE)
    messages = [{"role": "system", "content": "S."}, {"role": "user", "content": "U."}]
    assert apply_chat_template(tok, messages) == "<|system|>S.\n<|user|>U.\n<|assistant|>"
    assert apply_chat_template(tok, messages, add_generation_prompt=False) == "<|system|>S.\n<|user|>U.\n"


def test_a_template_that_rejects_or_ignores_the_system_message_does_not_keep_it(caplog):
    ignores = "{% for m in messages %}{% if m['role'] != 'system' %}[{{ m['content'] }}]{% endif %}{% endfor %}"
    with caplog.at_level(logging.INFO, logger="llm_inference.prompts"):
        assert keeps_system_message(make_tokenizer(SYSTEM_TEMPLATE)[0])
        assert not keeps_system_message(make_tokenizer(MIXTRAL_TEMPLATE)[0])
        assert not keeps_system_message(make_tokenizer(ignores)[0])
    logged = [r.getMessage() for r in caplog.records]
    assert any("rejects a system message" in line for line in logged)
    assert any("ignores the system message" in line for line in logged)
    tok, _ = make_tokenizer(MIXTRAL_TEMPLATE)
    messages = build_messages(load_prompt("sa", 4), {"text": "Great."}, system=False)
    expected = "<s>[INST] Is the movie review below positive? \n\nGreat.\n" + ANSWER.format("yes, Yes, no, No") + " [/INST]"
    assert apply_chat_template(tok, messages) == expected


def test_chat_template_other_errors_propagate():
    tok, _ = make_tokenizer("{{ raise_exception('Tool calls are not supported') }}")
    with pytest.raises(TemplateError, match="Tool calls"):
        keeps_system_message(tok)


def test_no_chat_template_raises():
    tok, _ = make_tokenizer(None)
    with pytest.raises(FuteError, match="chat template"):
        apply_chat_template(tok, [{"role": "user", "content": "U."}])


def test_verbalizer_token_ids():
    tok, vocab = make_tokenizer()
    ids = verbalizer_token_ids(tok, load_prompt("sa", 0))
    assert ids == {"positive": [vocab["yes"], vocab["Yes"]], "negative": [vocab["no"], vocab["No"]]}
    assert tok.convert_ids_to_tokens(tok.encode("Maybe", add_special_tokens=False)) == ["M", "aybe"]
    where = r"configs/prompts/nli\.json: templates\[0\]\.verbalizers\.\w+"  # the place to change it
    with pytest.raises(FuteError, match=rf"'Maybe' \({where}\).*\['M', 'aybe'\]"):
        verbalizer_token_ids(tok, load_prompt("nli", 0))
    with pytest.raises(FuteError, match="'good'"):  # split into unknown characters
        verbalizer_token_ids(tok, load_prompt("sa", 5))
    unknown_word = replace(load_prompt("sa", 6), verbalizers={"positive": ("g",), "negative": ("no",)})
    assert tok.encode("g", add_special_tokens=False) == [tok.unk_token_id]
    with pytest.raises(FuteError, match="'g'"):  # one token, but the unknown one
        verbalizer_token_ids(tok, unknown_word)


def test_first_token_mode_scores_a_split_verbalizer_by_its_first_token():
    tok, vocab = make_tokenizer()
    ids = verbalizer_token_ids(tok, load_prompt("nli", 0), mode="first")
    assert ids["neutral"] == [vocab["maybe"], tok.convert_tokens_to_ids("M")]  # "Maybe" -> ["M", "aybe"]
    clash = replace(load_prompt("nli", 0), verbalizers={"entailment": ("Maybe",), "neutral": ("M",),
                                                        "contradiction": ("no",)})
    with pytest.raises(FuteError, match="starts with the same token as a verbalizer of label 'entailment'"):
        verbalizer_token_ids(tok, clash, mode="first")
    with pytest.raises(FuteError, match="unknown verbalizer token mode"):
        verbalizer_token_ids(tok, load_prompt("sa", 0), mode="last")


def test_generation_settings():
    """Guard of paper facts (the original's generate() arguments), and a check that every key is read."""
    settings = json.loads((ROOT / "configs" / "generation.json").read_text())
    vanilla, cot = settings["vanilla"]["generate_kwargs"], settings["cot"]["generate_kwargs"]
    assert (vanilla["max_new_tokens"], vanilla["do_sample"], vanilla["num_beams"]) == (5, False, 1)
    assert (cot["max_new_tokens"], cot["do_sample"], cot["num_beams"]) == (512, False, 1)
    for kwargs in (vanilla, cot):
        assert (kwargs["repetition_penalty"], kwargs["no_repeat_ngram_size"]) == (1.2, 3)
        GenerationConfig(**kwargs).validate(strict=True)
    # Only generate_kwargs are read (llm_inference/scoring.py): any other key would be a setting that does nothing.
    assert set(settings) == {"_comment", "vanilla", "cot"}
    assert set(settings["vanilla"]) == set(settings["cot"]) == {"_comment", "generate_kwargs"}
