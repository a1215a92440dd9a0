"""Targets y' for model task embeddings, and the losses that fit the surrogate to them.

A model M is run once on the unlabelled inputs x'; its outputs become the labels
that the surrogate T learns from:
- classification: y' = softmax(M's logits), a distribution over M's labels;
- regression: y' = M's raw output;
- extractive QA: M's argmax start/end tokens, turned into a character span of the
  context, which is mapped onto T's own tokens later (the reference reused M's
  token positions for T's tokenizer);
- LLM: the label distribution each y' line carries (data_utils.artifacts.llm_outputs).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from task_emb.options import SOFT_LABEL_LOSSES


def soft_label_loss(logits: torch.Tensor, targets: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Loss of logits [B, L] against target distributions [B, L] (rows sum to 1).

    bce (the reference's default, an accident of Hugging Face inferring
        "multi_label_classification" from float labels): mean over B*L of
        BCE-with-logits(logit_bl, target_bl), i.e. every label is an independent
        sigmoid fitted to its probability.
    ce (soft cross-entropy): mean over B of -sum_l target_bl * log softmax(logits_b)_l.
    """
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, targets)
    if kind == "ce":
        return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    raise ValueError(f"unknown soft label loss {kind!r}; use one of {SOFT_LABEL_LOSSES}")


def regression_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """MSE between outputs [B, 1] (or [B]) and targets [B], as Hugging Face's regression loss."""
    return F.mse_loss(outputs.reshape(-1), targets.reshape(-1))


def span_to_characters(start: int, end: int, offsets: Sequence[tuple[int, int] | None]) -> tuple[int, int] | None:
    """M's predicted token span -> (start_char, end_char) in the context, or None when it is no
    valid context span (outside the context, on the batch's padding past the example's last
    token, or end before start): the "no answer" target."""
    if end < start or end >= len(offsets) or offsets[start] is None or offsets[end] is None:
        return None
    return offsets[start][0], offsets[end][1]
