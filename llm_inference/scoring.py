"""Scoring a prompt with an LLM: greedy generation, verbalizer scores, prompt perplexity.

For one example and one prompt (docs/method.md section 5):

1. The user message is rendered and formatted with the model's chat template
   (token ids of the formatted text, no extra special tokens: the template writes them).
2. Greedy decoding with the settings of configs/generation.json. At step s the
   *processed* score of token v is the model's next-token logit after
   repetition penalty (x1.2 on the prompt's and generated tokens), the
   no-repeat-3-gram ban and the min-new-tokens ban on end-of-sequence, exactly
   what `model.generate(..., output_scores=True)` returns as `scores[s]`.
3. The answer step is the first step whose greedy token is not blank (decodes
   to only whitespace: a space or a newline before the answer); a verbalizer's
   score is the processed score of its single token at that step. If all
   `max_new_tokens` steps are blank, step 0 is used (as the original did) and
   `answer_step` is None. That token's text is the answer's first word; when it
   is no verbalizer ("The"), the scores are not what the model answered, and the
   example says so (`first_word_is_verbalizer`). A score of -inf (a banned token) is written as -1e5,
   as the original did, so the JSON stays valid; NaN or +inf (overflowing logits)
   stops the run.
4. The prompt perplexity is exp of the mean next-token negative log-likelihood
   of the formatted prompt: for prompt tokens x_0..x_{L-1},
       ppl = exp( -1/(L-1) * sum_{t=1}^{L-1} log p(x_t | x_<t) ),
   read from the logits of the same forward pass that gives step 0's scores.

A scoring turn stops at its answer step: the original generated and discarded
the remaining tokens, which changes no score. A chain-of-thought prompt
(10-12) first generates its reasoning (up to 512 tokens, stopping at
end-of-sequence), then asks the follow-up question in a second user turn and
scores that turn; its perplexity is that of the first-turn prompt.

Batches are left-padded with an attention mask and position ids that count
only real tokens, so every example gets the numbers it gets alone (up to
float rounding). The logits processors run on each example's own unpadded ids
for the same reason.
"""
from __future__ import annotations

import inspect
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

from data_utils.artifacts.llm_outputs import first_word, is_verbalizer_word
from data_utils.artifacts.llm_outputs import label_distribution as artifact_label_distribution
from data_utils.errors import FuteError
from data_utils.hf_compat import cache_keyword, position_limit, returned_cache
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
# Stand-in for a score of -inf (a banned token), as the original wrote it: JSON has no infinity.
NEG_INF_SCORE = -1e5


@dataclass(frozen=True)
class GenerationSettings:
    """The generation settings of one turn (configs/generation.json, `generate_kwargs`)."""

    max_new_tokens: int
    min_new_tokens: int
    repetition_penalty: float
    no_repeat_ngram_size: int


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


def generation_settings(cot_max_new_tokens: int | None = None) -> dict[str, GenerationSettings]:
    """The configured settings, with the reasoning turn's length cap replaced when one is given.

    The entry scripts refuse a cap below 1 at parse time (--cot_max_new_tokens); here it is a ValueError.
    """
    settings = load_generation_settings()
    if cot_max_new_tokens is not None:
        if cot_max_new_tokens < 1:
            raise ValueError(f"the reasoning cap must be at least 1 token, got {cot_max_new_tokens}")
        settings["cot"] = replace(settings["cot"], max_new_tokens=cot_max_new_tokens)
    return settings


@dataclass
class TurnResult:
    """One example's greedy turn.

    generated: new token ids (a scoring turn ends with its answer token).
    answer_step: index of the first non-blank step, None when there was none.
    scores: processed scores of the requested token ids at the answer step (step 0 if None).
    prompt_ppl: perplexity of the turn's prompt, when asked for.
    """

    generated: list[int]
    answer_step: int | None
    scores: list[float] | None
    prompt_ppl: float | None


@dataclass
class ExampleScore:
    """What one example gets from one prompt (the per-example fields of the output files).

    first_word: the answer's first word, the text of the token the scores were read at ("" when every
    step was blank); first_word_is_verbalizer: whether it is one of the prompt's verbalizers
    (data_utils.artifacts.llm_outputs.is_verbalizer_word): when not, the scores are not the model's answer.
    answer_scored is False when the greedy answer token decodes to a verbalizer but is not
    a scored id (the model wrote the word as another token than the one scored).
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


class GreedyScorer:
    """Greedy decoding of a batch of token-id prompts with one model (see the module docstring)."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self.device = model.device
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self.eos_ids))
        self._blank: dict[int, bool] = {}
        # Without perplexity only the last position's logits are needed: a [B, 1, V] tensor instead of
        # [B, W, V] for a prompt of W tokens (a CoT follow-up is ~1.5k). generate() checks the same way.
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._cache_keyword = cache_keyword(model)
        # None: no limit (relative positions, or a wrapper module without a config)
        self.positions = position_limit(getattr(model, "config", None))

    def is_blank(self, token_id: int) -> bool:
        """Whether the token decodes to only whitespace (special tokens decode to their text: not blank)."""
        if token_id not in self._blank:
            self._blank[token_id] = not self.tokenizer.decode([token_id], skip_special_tokens=False).strip()
        return self._blank[token_id]

    def encode(self, text: str) -> list[int]:
        """Token ids of a chat-formatted text: its special tokens are in the text already."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @torch.no_grad()
    def run(self, prompts: Sequence[Sequence[int]], settings: GenerationSettings, score_ids: Sequence[int] | None,
            with_ppl: bool) -> list[TurnResult]:
        """Greedy-decode every prompt; with score_ids, stop each example at its answer step."""
        batch = len(prompts)
        width = max(len(p) for p in prompts)
        self._check_positions(width, settings)
        input_ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids):] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        # Positions count real tokens only, so a left-padded example sees the positions it sees alone.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        last_only = {"logits_to_keep": 1} if self._keeps_logits and not with_ppl else {}
        output = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                            **last_only)
        ppl = [_prompt_ppl(output.logits[row], ids) for row, ids in enumerate(prompts)] if with_ppl else None
        logits = output.logits[:, -1, :].float()
        cache = returned_cache(output)
        if cache is None:
            raise FuteError(f"{type(self.model).__name__} returned no key/value cache with use_cache=True; "
                            f"greedy scoring needs a causal LM that caches its keys/values")
        del output

        processors = self._processors(settings)
        sequences = [list(ids) for ids in prompts]
        generated: list[list[int]] = [[] for _ in range(batch)]
        answer_step: list[int | None] = [None] * batch
        picked: list[list[float] | None] = [None] * batch
        done = [False] * batch
        for step in range(settings.max_new_tokens):
            next_ids = []
            for row in range(batch):
                if done[row]:
                    next_ids.append(self.pad_id)
                    continue
                scores = self._process(processors, sequences[row], logits[row], step, settings)
                token = int(scores.argmax())
                if score_ids is not None and (step == 0 or (answer_step[row] is None and not self.is_blank(token))):
                    picked[row] = _verbalizer_scores(scores[list(score_ids)])
                sequences[row].append(token)
                generated[row].append(token)
                if answer_step[row] is None and not self.is_blank(token):
                    answer_step[row] = step
                    done[row] = score_ids is not None
                if token in self.eos_ids:
                    done[row] = True
                next_ids.append(token)
            if all(done) or step == settings.max_new_tokens - 1:
                break
            mask = torch.cat([mask, mask.new_ones((batch, 1))], dim=-1)
            positions = positions[:, -1:] + 1
            self._check_positions(int(positions.max()) + 1, settings)
            step_ids = torch.tensor(next_ids, dtype=torch.long, device=self.device)[:, None]
            output = self.model(input_ids=step_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                                **{self._cache_keyword: cache})
            logits, cache = output.logits[:, -1, :].float(), returned_cache(output)
        return [TurnResult(generated[row], answer_step[row], picked[row], ppl[row] if ppl else None)
                for row in range(batch)]

    def _check_positions(self, length: int, settings: GenerationSettings) -> None:
        """A sequence of `length` tokens must fit the model's positions: past them a model with a position table
        fails with an index error deep inside, and a rotary one reads positions it was never trained on."""
        if self.positions is not None and length > self.positions:
            raise FuteError(f"a prompt and the tokens generated after it (at most {settings.max_new_tokens}) reach "
                            f"{length} tokens, more than the {self.positions} positions of {self.model.name_or_path} "
                            f"(its max_position_embeddings); shorten that example's text, lower "
                            f"--cot_max_new_tokens for reasoning, or use a model with a longer context")

    @staticmethod
    def _processors(settings: GenerationSettings) -> list:
        processors = []
        if settings.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
        if settings.no_repeat_ngram_size > 0:
            processors.append(NoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size))
        return processors

    def _process(self, processors: list, sequence: list[int], logits: torch.Tensor, step: int,
                 settings: GenerationSettings) -> torch.Tensor:
        """Processed scores [V] of one example, from its own unpadded ids (prompt + generated so far)."""
        ids = torch.tensor([sequence], dtype=torch.long, device=logits.device)
        scores = logits[None].clone()
        for processor in processors:
            scores = processor(ids, scores)
        if step < settings.min_new_tokens:
            scores[0, list(self.eos_ids)] = -math.inf
        return scores[0]


def _prompt_ppl(logits: torch.Tensor, ids: Sequence[int]) -> float:
    """exp(mean NLL of tokens 1..L-1 of a prompt); logits [width, V] of its left-padded row."""
    length = len(ids)
    if length < 2:
        return float("nan")
    row_logits = logits[logits.shape[0] - length: logits.shape[0] - 1].float()
    targets = torch.tensor(ids[1:], dtype=torch.long, device=logits.device)
    log_probs = torch.log_softmax(row_logits, dim=-1).gather(-1, targets[:, None])
    return float(torch.exp(-log_probs.mean()))


def _verbalizer_scores(scores: torch.Tensor) -> list[float]:
    """The verbalizers' processed scores as floats: -inf (a token the processors banned) as NEG_INF_SCORE.

    NaN or +inf is a FuteError: no processor produces it, so the model's logits overflowed or its
    weights are broken, and writing it as a number would pass for an answer.
    """
    if (scores.isnan() | scores.isposinf()).any():
        raise FuteError(f"the LLM's next-token scores hold {'NaN' if scores.isnan().any() else '+inf'}: its logits "
                        f"overflow in this precision (float16 does in some models: try --bit 32) or its weights are "
                        f"broken")
    return scores.nan_to_num(neginf=NEG_INF_SCORE).tolist()


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
        self.greedy = GreedyScorer(model, tokenizer)
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.settings = settings or load_generation_settings()
        self.system = keeps_system_message(tokenizer)
        self.verbalizer_ids = scored_verbalizer_ids(tokenizer, prompt, verbalizer_tokens, self.system)
        self.verbalizer_tokens = verbalizer_tokens
        self._warned_unscored = False

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
        if result.answer_step is None:
            logger.warning("no non-blank token in %d generated steps: verbalizer scores taken at step 0",
                           len(result.generated))
        answer = self.tokenizer.decode(result.generated, skip_special_tokens=False)
        word = first_word(answer)
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
            answer_scored=self._answer_scored(result),
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
