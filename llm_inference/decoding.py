"""Greedy decoding of a batch of prompts with one causal LM: the answer step, its verbalizer scores, the prompt
perplexity (docs/method.md section 5; llm_inference/scoring.py turns examples into the prompts decoded here).

1. Greedy decoding with one turn's `GenerationSettings`. At step s the *processed*
   score of token v is the model's next-token logit after repetition penalty (x1.2
   on the prompt's and generated tokens), the no-repeat-3-gram ban and the
   min-new-tokens ban on end-of-sequence, exactly what
   `model.generate(..., output_scores=True)` returns as `scores[s]`.
2. The answer step is the first step whose greedy token is not blank (decodes
   to only whitespace: a space or a newline before the answer); a verbalizer's
   score is the processed score of its single token at that step. If all
   `max_new_tokens` steps are blank, step 0 is used (as the original did) and
   `answer_step` is None. A score of -inf (a banned token) is written as -1e5,
   as the original did, so the JSON stays valid; NaN or +inf (overflowing logits)
   stops the run. A scoring turn stops at its answer step: the original generated
   and discarded the remaining tokens, which changes no score.
3. Reasoning blocks (thinking models: Qwen3, DeepSeek-R1, QwQ, Magistral). When the
   tokenizer holds a pair of reasoning tags (`THINKING_TAGS`, each one token) and the
   turn is scored, a block is open when the prompt ends in the opening tag (the
   template opened it: "<think>\n") or when the model writes the opening tag before
   its answer. Inside a block no step is the answer step; the model may write up to
   `max_thinking_tokens` tokens there, then must write the closing tag: the answer
   step is the first non-blank step after it, with `max_new_tokens` steps for the
   answer. A block still open after the budget (or ended by end-of-sequence) leaves
   the turn unscored: `answer_step` is None, the scores are step 0's (as for an
   all-blank answer) and `thinking_closed` is False, which the output counts. A
   template whose thinking can be switched off is rendered with it off
   (llm_inference/prompts.py), so its prompt ends in a closed, empty block and the
   model answers at once. A reasoning turn of a CoT prompt is generated as it
   comes: its block is part of its reasoning.
4. The prompt perplexity is exp of the mean next-token negative log-likelihood
   of the prompt: for prompt tokens x_0..x_{L-1},
       ppl = exp( -1/(L-1) * sum_{t=1}^{L-1} log p(x_t | x_<t) ),
   read from the logits of the same forward pass that gives step 0's scores.

`Turn` does 1 to 3 for one example from the raw next-token logits of any
backend (`Decoder`, llm_inference/backends.py). `GreedyScorer` is the
transformers backend: batches are left-padded with an attention mask and
position ids that count only real tokens, so every example gets the numbers it
gets alone (up to float rounding); the logits processors run on each example's
own unpadded ids for the same reason.
"""
from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

from data_utils.errors import FuteError
from modeling.hf_compat import cache_keyword, position_limit, returned_cache
# Stand-in for a score of -inf (a banned token), as the original wrote it: JSON has no infinity.
NEG_INF_SCORE = -1e5


# Reasoning tags of thinking models, each one token of their vocabularies: Qwen3, QwQ and DeepSeek-R1 write
# <think>...</think>; Magistral (2025-09) writes [THINK]...[/THINK].
THINKING_TAGS: tuple[tuple[str, str], ...] = (("<think>", "</think>"), ("[THINK]", "[/THINK]"))


@dataclass(frozen=True)
class GenerationSettings:
    """The generation settings of one turn (configs/generation.json, `generate_kwargs`); max_thinking_tokens: the
    tokens a scored turn may write inside a reasoning block (module docstring, 3)."""

    max_new_tokens: int
    min_new_tokens: int
    repetition_penalty: float
    no_repeat_ngram_size: int
    max_thinking_tokens: int = 0


@dataclass
class TurnResult:
    """One example's greedy turn.

    generated: new token ids (a scoring turn ends with its answer token).
    answer_step: index of the first non-blank step outside a reasoning block, None when there was none.
    scores: processed scores of the requested token ids at the answer step (step 0 if None).
    prompt_ppl: perplexity of the turn's prompt, when asked for.
    thinking_tokens: tokens written inside the turn's reasoning block, None when it had none.
    thinking_closed: whether that block was closed within the budget (None without a block).
    """

    generated: list[int]
    answer_step: int | None
    scores: list[float] | None
    prompt_ppl: float | None
    thinking_tokens: int | None = None
    thinking_closed: bool | None = None



class Decoder(ABC):
    """What every inference backend shares: the HF tokenizer (chat-formatted text -> ids, blank tokens), the
    end-of-sequence ids and the position limit. A backend adds `run`, which decodes a batch of prompts from its
    own logits with `Turn` (llm_inference/backends.py lists them)."""

    def __init__(self, tokenizer, eos: int | list[int] | None, positions: int | None, model_name: str,
                 positions_from: str = "max_position_embeddings"):
        self.tokenizer = tokenizer
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self.eos_ids))
        self.positions = positions  # None: no limit (relative positions, or a wrapper module without a config)
        self.model_name, self.positions_from = model_name, positions_from
        self.thinking_tags = thinking_tags(tokenizer)
        self._blank: dict[int, bool] = {}

    def is_blank(self, token_id: int) -> bool:
        """Whether the token decodes to only whitespace (special tokens decode to their text: not blank)."""
        if token_id not in self._blank:
            self._blank[token_id] = not self.tokenizer.decode([token_id], skip_special_tokens=False).strip()
        return self._blank[token_id]

    def encode(self, text: str) -> list[int]:
        """Token ids of a chat-formatted text: its special tokens are in the text already."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @abstractmethod
    def run(self, prompts: Sequence[Sequence[int]], settings: GenerationSettings, score_ids: Sequence[int] | None,
            with_ppl: bool) -> list[TurnResult]:
        """Greedy-decode every prompt; with score_ids, stop each example at its answer step."""

    def check_positions(self, length: int, settings: GenerationSettings) -> None:
        """A sequence of `length` tokens must fit the model's positions: past them a model with a position table
        fails with an index error deep inside, and a rotary one reads positions it was never trained on."""
        if self.positions is not None and length > self.positions:
            raise FuteError(f"a prompt and the tokens generated after it (at most {settings.max_new_tokens}) reach "
                            f"{length} tokens, more than the {self.positions} positions of {self.model_name} "
                            f"(its {self.positions_from}); shorten that example's text, lower "
                            f"--cot_max_new_tokens for reasoning, or use a model with a longer context")


class Turn:
    """One example's greedy turn, step by step, from raw next-token logits whatever computed them: the processed
    scores of each step (module docstring, 1), the greedy token, the answer step and the verbalizer scores there
    (2), past a reasoning block (3). `done` once the answer step is scored (with score_ids), end-of-sequence is
    written, the answer has had its `max_new_tokens` steps or a reasoning block outruns its budget; a decoder
    runs at most `max_steps` steps."""

    def __init__(self, decoder: Decoder, settings: GenerationSettings, score_ids: Sequence[int] | None,
                 prompt: Sequence[int]):
        self.decoder, self.settings, self.score_ids = decoder, settings, score_ids
        self.sequence = list(prompt)
        self.generated: list[int] = []
        self.answer_step: int | None = None
        self.scores: list[float] | None = None
        self.done = False
        self.answer_steps = 0  # steps outside a reasoning block
        # Reasoning blocks are read in scored turns only; a CoT reasoning turn generates its block as reasoning.
        self.tags = decoder.thinking_tags if score_ids is not None else None
        self.thinking_tokens: int | None = None  # None until a block opens
        self.thinking_closed: bool | None = None
        if self.tags is not None and self._prompt_opens_block(prompt):
            self.thinking_tokens, self.thinking_closed = 0, False
        self.max_steps = settings.max_new_tokens + (settings.max_thinking_tokens + 2 if self.tags else 0)
        self.processors = []
        if settings.repetition_penalty != 1.0:
            self.processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
        if settings.no_repeat_ngram_size > 0:
            self.processors.append(NoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size))

    def advance(self, logits: torch.Tensor, step: int) -> int:
        """Take step `step` from the raw next-token logits [V] (float32); return the greedy token."""
        scores = self._process(logits, step)
        token = int(scores.argmax())
        self.take(token, step, scores)
        return token

    def take(self, token: int, step: int, scores: torch.Tensor | None = None) -> None:
        """Take step `step`'s greedy token, with the step's processed scores [V] when the backend has them; one that
        has not (vLLM: it decodes by itself) reads the verbalizer scores at `score_step` afterwards (`set_scores`)."""
        self.sequence.append(token)
        self.generated.append(token)
        if scores is not None and self.score_ids is not None and step == 0:  # kept when no step answers (original)
            self.set_scores(scores[list(self.score_ids)])
        if self._thinks(token):
            return
        answered = not self.decoder.is_blank(token)
        if self.answer_step is None and answered:
            self.answer_step = step
            if self.score_ids is not None:
                if scores is not None:
                    self.set_scores(scores[list(self.score_ids)])
                self.done = True
        self.answer_steps += 1
        if token in self.decoder.eos_ids or self.answer_steps >= self.settings.max_new_tokens:
            self.done = True

    @property
    def score_step(self) -> int:
        """The step whose scores are the verbalizers': the answer step, else step 0 (module docstring, 2)."""
        return 0 if self.answer_step is None else self.answer_step

    def set_scores(self, scores: torch.Tensor) -> None:
        """The verbalizers' scores [len(score_ids)] at `score_step` (see `_verbalizer_scores`)."""
        self.scores = _verbalizer_scores(scores)

    def result(self, prompt_ppl: float | None) -> TurnResult:
        return TurnResult(self.generated, self.answer_step, self.scores, prompt_ppl, self.thinking_tokens,
                          self.thinking_closed)

    def _thinks(self, token: int) -> bool:
        """Whether `token` belongs to a reasoning block (its opening tag, a token inside it or its closing tag);
        a block that outruns its budget, or ends the sequence, ends the turn unscored."""
        if self.tags is None:
            return False
        opening, closing = self.tags
        if self.thinking_closed is False:
            if token == closing:
                self.thinking_closed = True
            else:
                self.thinking_tokens += 1
                if self.thinking_tokens > self.settings.max_thinking_tokens or token in self.decoder.eos_ids:
                    self.done = True
            return True
        if token == opening and self.thinking_tokens is None and self.answer_step is None:
            self.thinking_tokens, self.thinking_closed = 0, False
            return True
        return False

    def _prompt_opens_block(self, prompt: Sequence[int]) -> bool:
        """Whether the prompt's last non-blank token is the opening tag (the template opened the block)."""
        for token in reversed(prompt):
            if not self.decoder.is_blank(token):
                return token == self.tags[0]
        return False

    def _process(self, logits: torch.Tensor, step: int) -> torch.Tensor:
        """Processed scores [V], from the example's own unpadded ids (prompt + generated so far)."""
        ids = torch.tensor([self.sequence], dtype=torch.long, device=logits.device)
        scores = logits[None].clone()
        for processor in self.processors:
            scores = processor(ids, scores)
        if step < self.settings.min_new_tokens:
            scores[0, list(self.decoder.eos_ids)] = -math.inf
        return scores[0]


class GreedyScorer(Decoder):
    """The transformers backend: batched greedy decoding of token-id prompts with one model and its key/value
    cache (see the module docstring)."""

    def __init__(self, model, tokenizer):
        super().__init__(tokenizer, model.generation_config.eos_token_id,
                         position_limit(getattr(model, "config", None)), getattr(model, "name_or_path", "the model"))
        self.model = model
        self.device = model.device
        # Without perplexity only the last position's logits are needed: a [B, 1, V] tensor instead of
        # [B, W, V] for a prompt of W tokens (a CoT follow-up is ~1.5k). generate() checks the same way.
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._cache_keyword = cache_keyword(model)

    @torch.no_grad()
    def run(self, prompts: Sequence[Sequence[int]], settings: GenerationSettings, score_ids: Sequence[int] | None,
            with_ppl: bool) -> list[TurnResult]:
        batch = len(prompts)
        width = max(len(p) for p in prompts)
        self.check_positions(width, settings)
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
        ppl = [prompt_perplexity(output.logits[row], ids) for row, ids in enumerate(prompts)] if with_ppl else None
        logits = output.logits[:, -1, :].float()
        cache = returned_cache(output)
        if cache is None:
            raise FuteError(f"{type(self.model).__name__} returned no key/value cache with use_cache=True; "
                            f"greedy scoring needs a causal LM that caches its keys/values")
        del output

        turns = [Turn(self, settings, score_ids, ids) for ids in prompts]
        for step in range(max(turn.max_steps for turn in turns)):
            next_ids = [self.pad_id if turn.done else turn.advance(logits[row], step) for row, turn in enumerate(turns)]
            if all(turn.done for turn in turns):
                break
            mask = torch.cat([mask, mask.new_ones((batch, 1))], dim=-1)
            positions = positions[:, -1:] + 1
            self.check_positions(int(positions.max()) + 1, settings)
            step_ids = torch.tensor(next_ids, dtype=torch.long, device=self.device)[:, None]
            output = self.model(input_ids=step_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                                **{self._cache_keyword: cache})
            logits, cache = output.logits[:, -1, :].float(), returned_cache(output)
        return [turn.result(ppl[row] if ppl else None) for row, turn in enumerate(turns)]


def thinking_tags(tokenizer) -> tuple[int, int] | None:
    """(opening id, closing id) of the first pair of THINKING_TAGS that are both tokens of the tokenizer's vocabulary,
    None when no pair is."""
    vocab = tokenizer.get_vocab()
    return next(((vocab[opening], vocab[closing]) for opening, closing in THINKING_TAGS
                 if opening in vocab and closing in vocab), None)


def prompt_perplexity(logits: torch.Tensor, ids: Sequence[int]) -> float:
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
