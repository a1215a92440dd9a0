"""Scoring a prompt with an LLM: each example's verbalizer scores and prompt perplexity, turn by turn.

For one example and one prompt (docs/method.md section 5):

1. The user message is rendered and formatted with the model's chat template
   (token ids of the formatted text, no extra special tokens: the template writes them).
2. The formatted prompt is decoded greedily (llm_inference/decoding.py: the answer
   step, the verbalizers' processed scores there, the prompt perplexity) with the
   settings of configs/generation.json: "vanilla" for a scored turn, "cot" for a
   reasoning turn.
3. The answer token's text is the answer's first word; when it is no verbalizer
   ("The"), the scores are not what the model answered, and the example says so
   (`first_word_is_verbalizer`).

A chain-of-thought prompt (10-12) first generates its reasoning (up to 512 tokens,
stopping at end-of-sequence), then asks the follow-up question in a second user
turn and scores that turn; its perplexity is that of the first-turn prompt.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from data_utils.artifacts.llm_outputs import first_word, is_verbalizer_word
from data_utils.artifacts.llm_outputs import label_distribution as artifact_label_distribution
from llm_inference.decoding import Decoder, GenerationSettings, GreedyScorer, TurnResult
from llm_inference.prompts import (
    Prompt,
    apply_chat_template,
    cot_followup_message,
    format_first_turn,
    keeps_system_message,
    verbalizer_token_ids,
)

logger = logging.getLogger(__name__)

GENERATION_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "generation.json"


def load_generation_settings(path: Path = GENERATION_CONFIG) -> dict[str, GenerationSettings]:
    """{"vanilla": ..., "cot": ...}; greedy decoding (do_sample false, num_beams 1) is checked, not assumed."""
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    settings = {}
    for name in ("vanilla", "cot"):
        kwargs = config[name]["generate_kwargs"]
        if kwargs.get("do_sample") or kwargs.get("num_beams", 1) != 1:
            raise ValueError(f"{path}: {name} must be greedy (do_sample false, num_beams 1)")
        settings[name] = GenerationSettings(
            max_new_tokens=int(kwargs["max_new_tokens"]),
            min_new_tokens=int(kwargs.get("min_new_tokens", 0)),
            repetition_penalty=float(kwargs.get("repetition_penalty", 1.0)),
            no_repeat_ngram_size=int(kwargs.get("no_repeat_ngram_size", 0)),
        )
    return settings


def generation_settings(cot_max_new_tokens: int | None = None, max_thinking_tokens: int | None = None
                        ) -> dict[str, GenerationSettings]:
    """The configured settings, with the reasoning turn's length cap replaced when one is given, and the scored
    turn's budget of tokens inside a reasoning block (decoding.py, 3; None: 0).

    The entry scripts refuse a cap below 1 and a negative budget at parse time (--cot_max_new_tokens,
    --max_thinking_tokens); here they are a ValueError.
    """
    settings = load_generation_settings()
    if cot_max_new_tokens is not None:
        if cot_max_new_tokens < 1:
            raise ValueError(f"the reasoning cap must be at least 1 token, got {cot_max_new_tokens}")
        settings["cot"] = replace(settings["cot"], max_new_tokens=cot_max_new_tokens)
    if max_thinking_tokens is not None:
        if max_thinking_tokens < 0:
            raise ValueError(f"the thinking budget cannot be negative, got {max_thinking_tokens}")
        settings["vanilla"] = replace(settings["vanilla"], max_thinking_tokens=max_thinking_tokens)
    return settings


@dataclass
class ExampleScore:
    """What one example gets from one prompt (the per-example fields of the output files).

    first_word: the answer's first word, the text of the token the scores were read at ("" when every
    step was blank); first_word_is_verbalizer: whether it is one of the prompt's verbalizers
    (data_utils.artifacts.llm_outputs.is_verbalizer_word): when not, the scores are not the model's answer.
    answer_scored is False when the greedy answer token decodes to a verbalizer but is not
    a scored id (the model wrote the word as another token than the one scored), and when a reasoning
    block was not closed within the budget. thinking: {"tokens", "closed"} of the scored turn's reasoning
    block (llm_inference/decoding.py, 3), None without one.
    """

    input_prompt: str
    word_scores: list[float]
    verbalizers: list[str]
    answer_step: int | None
    answer: str
    prompt_ppl: float
    first_word: str
    first_word_is_verbalizer: bool
    chat_history: list[dict[str, str]] | None = None
    answer_scored: bool = True
    thinking: dict[str, Any] | None = None



# ----------------------------------------------------------------------------- prompts -> scores

def scored_verbalizer_ids(tokenizer, prompt: Prompt, verbalizer_tokens: str, system: bool) -> list[int]:
    """The token id scored for each verbalizer of `prompt` (verbalizer_list order); needs the tokenizer only.

    The ids are those the model writes after the template's generation prompt, which ends every
    turn the same way, whatever the example (or the CoT history) before it. `system`: whether the
    first turn carries the system message (`keeps_system_message`). FuteError from
    `verbalizer_token_ids` for a verbalizer that cannot be scored.
    """
    _, generation_prompt = format_first_turn(tokenizer, prompt, {field: field for field in prompt.fields}, system)
    ids = verbalizer_token_ids(tokenizer, prompt, verbalizer_tokens, generation_prompt)
    return [token for label in prompt.verbalizers for token in ids[label]]


class PromptScorer:
    """Scores examples (dicts with the prompt's fields) with one prompt, vanilla or chain-of-thought."""

    def __init__(self, model, tokenizer, prompt: Prompt, settings: dict[str, GenerationSettings] | None = None,
                 verbalizer_tokens: str = "single"):
        """`model`: a decoder of any backend (llm_inference/backends.py), or a transformers causal LM (decoded by
        decoding.GreedyScorer)."""
        self.greedy = model if isinstance(model, Decoder) else GreedyScorer(model, tokenizer)
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.settings = settings or load_generation_settings()
        self.system = keeps_system_message(tokenizer)
        self.verbalizer_ids = scored_verbalizer_ids(tokenizer, prompt, verbalizer_tokens, self.system)
        self.verbalizer_tokens = verbalizer_tokens
        self._warned_unscored = self._warned_unclosed = False

    def first_turn(self, example: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
        """(messages, formatted prompt) of the first user turn; a system turn only where the template shows it."""
        return format_first_turn(self.tokenizer, self.prompt, example, self.system)

    def score(self, examples: Sequence[dict[str, Any]]) -> list[ExampleScore]:
        """One batch: every example's verbalizer scores and prompt perplexity."""
        turns = [self.first_turn(example) for example in examples]
        prompts = [self.greedy.encode(text) for _, text in turns]
        if not self.prompt.is_cot:
            results = self.greedy.run(prompts, self.settings["vanilla"], self.verbalizer_ids, with_ppl=True)
            return [self._example(text, result, result.prompt_ppl, None)
                    for (_, text), result in zip(turns, results)]

        # Chain of thought: the reasoning turn, then the follow-up turn, which is scored.
        reasoning = self.greedy.run(prompts, self.settings["cot"], None, with_ppl=True)
        histories, second = [], []
        for (messages, _), result in zip(turns, reasoning):
            text = self.tokenizer.decode(_strip_eos(result.generated, self.greedy.eos_ids), skip_special_tokens=True)
            history = [*messages, {"role": "assistant", "content": text.strip()},
                       {"role": "user", "content": cot_followup_message(self.prompt)}]
            histories.append(history)
            second.append(self.greedy.encode(apply_chat_template(self.tokenizer, history)))
        answers = self.greedy.run(second, self.settings["vanilla"], self.verbalizer_ids, with_ppl=False)
        return [self._example(text, answer, first.prompt_ppl, history)
                for (_, text), first, answer, history in zip(turns, reasoning, answers, histories)]

    def score_all(self, examples: Sequence[dict[str, Any]], batch_size: int
                  ) -> Iterator[tuple[Sequence[dict[str, Any]], list[ExampleScore]]]:
        """Yield (batch of examples, their scores); examples carry their prompt fields under "fields".

        Longest prompts go first: batches of similar length waste little on padding, and an
        out-of-memory error shows up (and halves the batch) at the start, not after hours.
        """
        lengths = [len(self.greedy.encode(self.first_turn(example["fields"])[1])) for example in examples]
        ordered = [examples[i] for i in sorted(range(len(examples)), key=lambda i: -lengths[i])]
        yield from iter_batches(ordered, batch_size, lambda chunk: self.score([e["fields"] for e in chunk]))

    def _example(self, text: str, result: TurnResult, ppl: float | None,
                 history: list[dict[str, str]] | None) -> ExampleScore:
        """The ExampleScore of a scored turn; a CoT history gets the scored answer as its last message."""
        if result.thinking_closed is False:
            if not self._warned_unclosed:
                self._warned_unclosed = True
                logger.warning("the model wrote more than %d tokens of reasoning without closing the block: such "
                               "examples are unscored (scores of step 0), counted as unclosed_thinking in the output; "
                               "raise --max_thinking_tokens to let it finish",
                               self.settings["vanilla"].max_thinking_tokens)
        elif result.answer_step is None:
            logger.warning("no non-blank token in %d generated steps: verbalizer scores taken at step 0",
                           len(result.generated))
        answer = self.tokenizer.decode(result.generated, skip_special_tokens=False)
        # After a reasoning block, the answer's first word is the answer step's, not the block's opening tag.
        answered = result.generated[result.answer_step:] if result.thinking_closed and result.answer_step else None
        word = first_word(answer if answered is None else self.tokenizer.decode(answered, skip_special_tokens=False))
        return ExampleScore(
            input_prompt=text,
            word_scores=result.scores,
            verbalizers=list(self.prompt.verbalizer_list),
            answer_step=result.answer_step,
            answer=answer,
            prompt_ppl=float(ppl),
            first_word=word,
            first_word_is_verbalizer=is_verbalizer_word(word, self.prompt.verbalizer_list, self.verbalizer_tokens),
            chat_history=None if history is None else [*history, {"role": "assistant", "content": answer}],
            answer_scored=result.thinking_closed is not False and self._answer_scored(result),
            thinking=None if result.thinking_tokens is None else {"tokens": result.thinking_tokens,
                                                                  "closed": result.thinking_closed},
        )

    def _answer_scored(self, result: TurnResult) -> bool:
        """False when the answer token spells a verbalizer under an id that is not scored (warned once)."""
        if result.answer_step is None:
            return True
        token = result.generated[result.answer_step]
        word = self.tokenizer.decode([token], skip_special_tokens=False).strip()
        if token in self.verbalizer_ids or word not in self.prompt.verbalizer_list:
            return True
        if not self._warned_unscored:
            self._warned_unscored = True
            logger.warning("the model answered %r as token %d (%r), which is not the verbalizer id scored; such "
                           "answers are counted as unscored_answers in the output (check the chat template)",
                           word, token, self.tokenizer.convert_ids_to_tokens(token))
        return False


def _strip_eos(ids: list[int], eos_ids: set[int]) -> list[int]:
    return ids[:-1] if ids and ids[-1] in eos_ids else ids


def iter_batches(items: Sequence[Any], batch_size: int, fn: Callable[[Sequence[Any]], list]
                 ) -> Iterator[tuple[Sequence[Any], list]]:
    """Yield (chunk, fn(chunk)) over items in order; on out-of-memory, halve the batch and retry the chunk."""
    start, size = 0, max(1, batch_size)
    while start < len(items):
        chunk = items[start:start + size]
        try:
            out = fn(chunk)
        except torch.OutOfMemoryError:
            if size == 1:
                raise
            size //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            logger.warning("out of memory: retrying with batch size %d", size)
            continue
        yield chunk, out
        start += len(chunk)


# ----------------------------------------------------------------------------- labels

def label_distribution(word_scores: Sequence[float], prompt: Prompt) -> dict[str, Any]:
    """The label view of one example's verbalizer scores under `prompt`, in the genre's label order
    (data_utils.artifacts.llm_outputs.label_distribution: max over a label's verbalizers, softmax)."""
    return artifact_label_distribution(word_scores, prompt.verbalizer_labels, prompt.labels)
