"""The LLM prompts: data in configs/prompts/, one renderer here.

A prompt number is 0-12 per genre (sa, nli): 0-9 are the ten templates of the
genre's prompt file, 10-12 are templates 0-2 again with the chain-of-thought
(CoT) instruction in place of the answer instruction.

The user message of a prompt is

    template filled with the example + "\\n" + instruction with {label_space}

where label_space lists every verbalizer of the prompt joined by ", " in the
order the original wrote them (SA: positive first; NLI: entailment, neutral,
contradiction). Rendering replaces exactly the placeholders the genre declares,
in one pass, so braces inside a text (or a placeholder name inside a premise)
come out literally.
"""
from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from configs.datasets import GENRES, NUM_PROMPTS, NUM_TEMPLATES, is_cot_prompt
from data_utils.artifacts.llm_outputs import verbalizer_labels
from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

PROMPT_DIR = Path(__file__).resolve().parent.parent / "configs" / "prompts"


@dataclass(frozen=True)
class Prompt:
    """One prompt of a genre, ready to render.

    verbalizers maps each label to its answer words, in the original's prompt order
    (label_space_order of the prompt file); labels is the task's label order
    (SA: negative, positive; NLI: entailment, neutral, contradiction), the order
    of gold and predicted label indices. verbalizers_key is where the verbalizers are
    set, as "file: key" (a label's list is that key + "." + the label), for errors to
    name the place to change them.
    """

    number: int
    genre: str
    template_id: int
    is_cot: bool
    template: str
    verbalizers: dict[str, tuple[str, ...]]
    labels: tuple[str, ...]
    fields: tuple[str, ...]
    name: str = ""
    verbalizers_key: str = ""

    @property
    def verbalizer_list(self) -> tuple[str, ...]:
        """Every verbalizer, flat, in prompt order (the original's `token_info.verbalizers`)."""
        return tuple(word for words in self.verbalizers.values() for word in words)

    @property
    def verbalizer_labels(self) -> tuple[str, ...]:
        """The label of each entry of verbalizer_list."""
        return tuple(verbalizer_labels(self.verbalizers))

    @property
    def label_space(self) -> str:
        """E.g. "yes, Yes, no, No" for SA prompt 0."""
        return ", ".join(self.verbalizer_list)


@functools.cache
def _instructions() -> dict[str, str]:
    return json.loads((PROMPT_DIR / "instructions.json").read_text(encoding="utf-8"))


@functools.cache
def _genre_file(genre: str) -> dict[str, Any]:
    path = PROMPT_DIR / f"{genre}.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    ids = [t["id"] for t in spec["templates"]]
    if ids != list(range(NUM_TEMPLATES)):
        raise FuteError(f"{path}: templates must have ids 0-{NUM_TEMPLATES - 1} in order, found {ids}")
    for t in spec["templates"]:
        if set(t["verbalizers"]) != set(spec["labels"]):
            raise FuteError(
                f"{path}: template {t['id']} has verbalizers for {sorted(t['verbalizers'])}; "
                f"give one list per label {spec['labels']}"
            )
    return spec


def _fill(text: str, values: dict[str, str]) -> str:
    """Replace each "{name}" for name in values, in one pass; nothing else is touched."""
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in values))
    return pattern.sub(lambda m: values[m.group(0)[1:-1]], text)


def load_prompt(genre: str, number: int) -> Prompt:
    """Prompt `number` (0-12) of `genre` ("sa" or "nli"); 10-12 are templates 0-2 with CoT."""
    genre = str(genre).strip().lower()
    if genre not in GENRES:
        raise FuteError(f"unknown prompt genre {genre!r}: use one of {', '.join(GENRES)}")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < NUM_PROMPTS:
        raise FuteError(
            f"prompt number {number!r} is out of range: use 0-{NUM_PROMPTS - 1} "
            f"(0-{NUM_TEMPLATES - 1} vanilla, {NUM_TEMPLATES}-{NUM_PROMPTS - 1} chain-of-thought)"
        )
    spec = _genre_file(genre)
    template_id = number % NUM_TEMPLATES
    entry = spec["templates"][template_id]
    return Prompt(
        number=number,
        genre=genre,
        template_id=template_id,
        is_cot=is_cot_prompt(number),
        template=entry["template"],
        verbalizers={label: tuple(entry["verbalizers"][label]) for label in spec["label_space_order"]},
        labels=tuple(spec["labels"]),
        fields=tuple(spec["fields"]),
        name=entry.get("name", ""),
        verbalizers_key=f"configs/prompts/{genre}.json: templates[{template_id}].verbalizers",
    )


def render_user_message(prompt: Prompt, example: dict[str, Any]) -> str:
    """The first user message: filled template + "\\n" + answer (or CoT) instruction."""
    values = {}
    for field in prompt.fields:
        if example.get(field) is None:
            raise FuteError(
                f"example has no {field!r} field, which {prompt.genre} prompts need "
                f"(fields: {', '.join(prompt.fields)}); got keys {sorted(example)}"
            )
        values[field] = str(example[field])
    instruction = _instructions()["cot" if prompt.is_cot else "answer"]
    return _fill(prompt.template, values) + "\n" + _fill(instruction, {"label_space": prompt.label_space})


def cot_followup_message(prompt: Prompt) -> str:
    """The second user turn of a CoT prompt, asking for the bare answer after the reasoning."""
    return _fill(_instructions()["cot_followup"], {"label_space": prompt.label_space})


def build_messages(prompt: Prompt, example: dict[str, Any], system: bool = True) -> list[dict[str, str]]:
    """Chat messages of the first turn: [system,] user (system: see `keeps_system_message`)."""
    messages = [{"role": "user", "content": render_user_message(prompt, example)}]
    if system:
        messages.insert(0, {"role": "system", "content": _instructions()["system"]})
    return messages


def _check_has_template(tokenizer) -> None:
    if getattr(tokenizer, "chat_template", None) is None:
        raise FuteError(
            f"tokenizer {tokenizer.name_or_path!r} has no chat template: the LLM prompts need a chat model "
            "(an instruct/chat checkpoint), or pass one with --chat_template FILE"
        )


def takes_thinking_switch(template: str | None) -> bool:
    """Whether a chat template reads the `enable_thinking` variable (Qwen3's and its kind's): rendered with
    enable_thinking=False, its generation prompt closes an empty reasoning block ("<think>\n\n</think>\n\n"),
    so the first generated token is the answer, as the scoring assumes, not "<think>"."""
    return template is not None and "enable_thinking" in template


def apply_chat_template(tokenizer, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Format messages with the tokenizer's chat template, as text (its special tokens written in it); a template
    with a thinking switch is rendered with thinking off (`takes_thinking_switch`)."""
    _check_has_template(tokenizer)
    switch = {"enable_thinking": False} if takes_thinking_switch(tokenizer.chat_template) else {}
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         **switch)


def format_first_turn(tokenizer, prompt: Prompt, example: dict[str, Any], system: bool
                      ) -> tuple[list[dict[str, str]], str]:
    """(messages, chat-formatted text with the generation prompt) of a prompt's first user turn."""
    messages = build_messages(prompt, example, system=system)
    return messages, apply_chat_template(tokenizer, messages)


def keeps_system_message(tokenizer) -> bool:
    """Whether the chat template shows the model a system message.

    False when the template raises on a system role (Mixtral-8x7B-Instruct as of the
    paper, Gemma) or renders the conversation without its text. The original sent
    the system message only where the template took it; deciding this once, from a
    probe conversation, lets every saved history be exactly what the model saw.
    Errors of a template that cannot render a plain user turn either propagate.
    """
    _check_has_template(tokenizer)
    marker = "FUTE system message probe"
    user = {"role": "user", "content": "U"}
    try:
        text = apply_chat_template(tokenizer, [{"role": "system", "content": marker}, user])
    except (TemplateError, ValueError) as err:
        apply_chat_template(tokenizer, [user])  # a template broken for other reasons raises here
        logger.info("the chat template of %s rejects a system message (%s): it is left out",
                    tokenizer.name_or_path, str(err).strip().splitlines()[0] if str(err).strip() else err)
        return False
    if marker not in text:
        logger.info("the chat template of %s ignores the system message: it is left out", tokenizer.name_or_path)
        return False
    return True


def answer_token_ids(tokenizer, generation_prompt: str, word: str) -> list[int]:
    """The token ids a model writes for `word` as its answer, right after `generation_prompt`.

    After a prompt that ends in a visible character, the answer follows a space (Llama-2-chat:
    "... [/INST] yes"); after one that ends in whitespace it follows directly (Zephyr:
    "<|assistant|>\n" then "yes"). A SentencePiece vocabulary holds two different tokens for
    the two, "▁yes" and "yes", so the id of `word` out of context can be the one the model
    never writes. The ids are those of tokenize(prompt + separator + word) beyond those of
    tokenize(prompt); with an empty prompt, those of `word` alone. Raises FuteError when the
    word would merge with the prompt's last token (no id sequence continues the prompt).
    """
    if not generation_prompt:
        return tokenizer.encode(word, add_special_tokens=False)
    separator = "" if generation_prompt[-1].isspace() else " "
    before = tokenizer.encode(generation_prompt, add_special_tokens=False)
    after = tokenizer.encode(generation_prompt + separator + word, add_special_tokens=False)
    if after[:len(before)] != before:
        raise FuteError(f"the answer {word!r} merges with the last token of the chat prompt of "
                        f"{tokenizer.name_or_path!r} (...{generation_prompt[-20:]!r}), so it has no token of its own "
                        "after it; pass a chat template whose generation prompt ends otherwise (--chat_template)")
    return after[len(before):]


VERBALIZER_TOKENS = ("single", "first")


def verbalizer_token_ids(tokenizer, prompt: Prompt, mode: str = "single", generation_prompt: str = ""
                         ) -> dict[str, list[int]]:
    """label -> the token id of each of its verbalizers, as written right after `generation_prompt`.

    Each verbalizer's tokens are `answer_token_ids(tokenizer, generation_prompt, word)`, the
    ones the model would produce at the scored step (out of context with no prompt).
    The scores are read at one generated step, so a verbalizer must be one token
    (mode "single", the original's rule: anything else is an error naming it).
    mode "first" scores a verbalizer split into several tokens by its first token,
    an approximation for small vocabularies (the demo's SmolLM2 splits "uncertain");
    two verbalizers of different labels whose first tokens coincide are still an error.
    """
    if mode not in VERBALIZER_TOKENS:
        raise FuteError(f"unknown verbalizer token mode {mode!r}; use one of {', '.join(VERBALIZER_TOKENS)}")
    ids: dict[str, list[int]] = {}
    owner: dict[int, str] = {}
    for label, words in prompt.verbalizers.items():
        ids[label] = []
        for word in words:
            # Named by where it is set (not by prompt number): prompts sharing the words share the error.
            where = f"verbalizer {word!r} ({prompt.verbalizers_key}.{label})"
            tokens = answer_token_ids(tokenizer, generation_prompt, word)
            unknown = tokenizer.unk_token_id is not None and tokens[:1] == [tokenizer.unk_token_id]
            if not tokens or unknown or (len(tokens) != 1 and mode == "single"):
                pieces = tokenizer.convert_ids_to_tokens(tokens)
                raise FuteError(
                    f"{where} is not one token of {tokenizer.name_or_path!r} (it became {pieces}); change it "
                    f"there to a word that is one token, use a model whose vocabulary has it as a single token, "
                    f"or pass --verbalizer_tokens first to score it by its first token"
                )
            if owner.setdefault(tokens[0], label) != label:
                raise FuteError(f"{where} starts with the same token as a verbalizer of label {owner[tokens[0]]!r} "
                                f"of {tokenizer.name_or_path!r}; their scores cannot be told apart: change one of "
                                f"them")
            ids[label].append(tokens[0])
    return ids
