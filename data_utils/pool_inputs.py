"""x' for a task type: the pool's examples (data_utils/unsup_pool.py) as the inputs a model reads.

`build_inputs` gives the x' of a fine-tuned model's MTE (cr, qa) and `select_model_inputs` the x' lines an
LLM answers (sa, nli; written by data_utils/artifacts/model_inputs.py), both in the reference's fields and
with its rules for splitting one text into an NLI pair and for cutting texts to the surrogate's budget.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from configs.datasets import TASK_TYPES
from configs.hparams import DEFAULT_SEED, UNSUP_POOL
from data_utils.artifacts.model_inputs import ModelInput
from data_utils.errors import FuteError
from data_utils.progress import progress
from data_utils.unsup_pool import PoolExample


def build_inputs(
    examples: Sequence[PoolExample],
    task_type: str,
    cr_is_pair: bool = False,
    tokenizer: Any = None,
    max_length: int = 512,
) -> list[dict]:
    """x' records for `task_type`, one per example, in the given order.

    - cr, single-input target: {"text"}; for a pair, the *second* text (the reference
      took the last segment, e.g. the passage of a question/passage pair).
    - cr pair target, and qa: {"text", "text_pair"}; "" when the example has no pair.
    - sa: {"content"}; for a pair, the second text (as the reference).
    - nli: {"premise", "hypothesis"}; a single text is split as the reference did
      (`split_for_nli`).
    With a `tokenizer` (the surrogate's), sa/nli texts longer than the reference's
    budget are cut to it: sa max_length - 1 tokens; nli max_length - 2 tokens shared,
    each side cut to max(budget // 2, budget - shorter side). Texts within the budget
    are left untouched (the reference re-decoded every text, which silently dropped
    characters outside the tokenizer's vocabulary).
    """
    return [_build_one(example, task_type, cr_is_pair, tokenizer, max_length)[0] for example in examples]


def split_for_nli(text: str) -> tuple[str, str, int]:
    """Split one text into (premise, hypothesis, kind), the reference's rule.

    kind 1: the text contains "premise:" (any case). The hypothesis starts at
    "hypothesis:" (exact case) or, without it, at (index of "premise:" + 7 + len) // 2;
    if that point comes before "premise:", the text before "premise:" is the hypothesis
    and the rest the premise. kind 3: otherwise the text is cut at its middle
    *character* (len // 2), even inside a word. Both halves are stripped.
    """
    premise_at = text.lower().find("premise:")
    if premise_at == -1:
        middle = len(text) // 2
        return text[:middle].strip(), text[middle:].strip(), 3
    hypothesis_at = text.find("hypothesis:")
    if hypothesis_at == -1:
        hypothesis_at = (premise_at + len("premise") + len(text)) // 2
    if hypothesis_at > premise_at:
        return text[:hypothesis_at].strip(), text[hypothesis_at:].strip(), 1
    return text[premise_at:].strip(), text[:premise_at].strip(), 1


def _build_one(example: PoolExample, task_type: str, cr_is_pair: bool, tokenizer: Any, max_length: int) -> tuple[dict, int]:
    """(record, kind). kind ranks examples for the line cap as the reference did:
    nli 1 "premise:" split < 2 natural pair < 3 middle split; sa 1 single < 2 pair."""
    pair = example.text_pair
    if task_type == "cr" and not cr_is_pair:
        return {"text": pair or example.text}, 0
    if task_type in ("cr", "qa"):
        return {"text": example.text, "text_pair": pair or ""}, 0
    if task_type == "sa":
        content = _truncate(tokenizer, pair or example.text, max_length - 1)
        return {"content": content}, 2 if pair else 1
    if task_type == "nli":
        if pair:
            premise, hypothesis, kind = example.text, pair, 2
        else:
            premise, hypothesis, kind = split_for_nli(example.text)
        if tokenizer is not None:
            premise, hypothesis = _truncate_pair(tokenizer, premise, hypothesis, max_length - 2)
        return {"premise": premise, "hypothesis": hypothesis}, kind
    raise FuteError(f"unknown task type {task_type!r}; choose one of {', '.join(TASK_TYPES)}")


def _truncate(tokenizer: Any, text: str, budget: int) -> str:
    if tokenizer is None:
        return text
    ids = tokenizer.encode(text, add_special_tokens=False)
    return text if len(ids) <= budget else tokenizer.decode(ids[:budget], skip_special_tokens=True)


def _truncate_pair(tokenizer: Any, premise: str, hypothesis: str, budget: int) -> tuple[str, str]:
    p_ids = tokenizer.encode(premise, add_special_tokens=False)
    h_ids = tokenizer.encode(hypothesis, add_special_tokens=False)
    if len(p_ids) + len(h_ids) <= budget:
        return premise, hypothesis
    # The shorter side keeps all of itself when it fits in half the budget.
    per_side = max(budget // 2, budget - min(len(p_ids), len(h_ids)))
    return (
        tokenizer.decode(p_ids[:per_side], skip_special_tokens=True),
        tokenizer.decode(h_ids[:per_side], skip_special_tokens=True),
    )


def select_model_inputs(
    examples: Sequence[PoolExample],
    task_type: str,
    max_lines: int = UNSUP_POOL["max_llm_lines"],
    seed: int = DEFAULT_SEED,
    cr_is_pair: bool = False,
    tokenizer: Any = None,
    max_length: int = 512,
) -> list[ModelInput]:
    """The x' lines of `examples`, numbered 0..n-1 (data_utils.artifacts.model_inputs.write_model_inputs writes them).

    As the reference: the examples are written in the order given (the pool, shuffled
    once by the caller); when more than `max_lines` remain, they are ranked by kind
    (see `_build_one`; stable, so the given order decides within a kind), the first
    `max_lines` kept and shuffled with `seed`. Field names are the reference's
    ({"content"} for sa, {"premise", "hypothesis"} for nli).
    """
    if max_lines < 1:
        raise FuteError(f"max_lines must be >= 1, got {max_lines}")
    if not examples:
        raise FuteError("no pool examples to write x' from; check the pool source and exclusion list")
    built = [_build_one(e, task_type, cr_is_pair, tokenizer, max_length)
             for e in progress(examples, desc=f"{task_type} x'", unit="examples")]
    if len(built) > max_lines:
        built = sorted(built, key=lambda pair: pair[1])[:max_lines]
        random.Random(seed).shuffle(built)
    return [ModelInput(index, record) for index, (record, _) in enumerate(built)]
