"""The embedding families task_emb computes: `FAMILIES`, {--task_emb_type: Family}, where a family is registered.

A family pairs its data in configs/methods.py (its methods, one per schedule, and its default
hyper-parameters) with the code that computes it: a function of the `Learn` protocol, and the
input positions it takes from the surrogate (the prefix's). Adding a family takes its module
with `learn`, one entry here and its tests; run_task_emb.py, the record and its readers need
nothing else. An entry calls its module's `learn` from inside a function, so that reading this
table (run_task_emb.py --help lists its names) imports no torch.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from configs.hparams import PREFIX
from configs.methods import FAMILIES_BY_NAME, EmbeddingFamily
from data_utils.errors import FuteError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from task_emb.surrogate import LearnOptions, SurrogateFit, TrainingSet


@dataclass(frozen=True)
class LearnReport:
    """What a family's `learn` found.

    embedding: the task embedding, 1-D float32 [dim] (the caller stores it in --save_dtype);
    fit: how the surrogate was trained (task_emb.surrogate.fit_surrogate: epochs, early stopping's choice,
        optimiser steps, its own result); None for a family that trains nothing (TextEmb), whose
        embedding is then not checked for under-training;
    diagnostics: the family's own measures, recorded with the fit's (prefix: `relative_displacement` and
        `cosine_to_init`, its distance from the shared start e0, which task_emb/undertraining.py reads).
    """

    embedding: np.ndarray
    fit: SurrogateFit | None = None
    diagnostics: Mapping[str, float] = field(default_factory=dict)


class Learn(Protocol):
    """How a family computes one task embedding (task_emb.embed calls it; the record is written there).

    surrogate: the model T, as --task_emb_model_lm_name gives it (alias, hub id or folder), loaded by `learn`;
    training: T-tokenized features with their targets (task_emb.surrogate.TrainingSet: gold labels, soft
        labels y' [num_labels] summing to 1, regression values or answer spans), its output head and, for a
        DTE, how to score T on the dev split (early stopping);
    tokenizer: T's tokenizer (it tokenized `training`; it pads the batches);
    hp: the resolved hyper-parameters (task_emb.pipeline.hyper_parameters): learning_rate, max_epochs,
        batch_size (examples per optimiser step), gradient_accumulation_steps, micro_batch_size (examples
        per forward pass), patience (epochs without a dev gain before stopping; None: fixed epochs), max_len;
    device: where T runs;
    options: the run's seed, data shuffling, FIM estimator, soft-label loss, and where training keeps its
        state so that a killed run resumes (task_emb.trainer.train).
    Returns the LearnReport. Bad input (a surrogate the family cannot serve, a non-finite loss) raises FuteError
    naming the fix.
    """

    def __call__(self, surrogate: str, training: TrainingSet, tokenizer: Any, hp: Mapping[str, Any],
                 device: torch.device, options: LearnOptions) -> LearnReport: ...


@dataclass(frozen=True)
class Family:
    """config: the family's data (configs/methods.py: name, methods, defaults); learn: how it is computed;
    reserved_positions: positions of T an input does not get (the prefix's, which the model counts as past
    tokens), checked against --max_len before any model loads."""

    config: EmbeddingFamily
    learn: Learn
    reserved_positions: int = 0

    @property
    def name(self) -> str:
        return self.config.name


def _learn_text(surrogate, training, tokenizer, hp, device, options) -> LearnReport:
    from task_emb import textemb

    return textemb.learn(surrogate, training, tokenizer, hp, device, options)


def _learn_fim(surrogate, training, tokenizer, hp, device, options) -> LearnReport:
    from task_emb import fim

    return fim.learn(surrogate, training, tokenizer, hp, device, options)


def _learn_prefix(surrogate, training, tokenizer, hp, device, options) -> LearnReport:
    from task_emb import prefix

    return prefix.learn(surrogate, training, tokenizer, hp, device, options)


FAMILIES: dict[str, Family] = {
    "text": Family(FAMILIES_BY_NAME["text"], _learn_text),
    "fim": Family(FAMILIES_BY_NAME["fim"], _learn_fim),
    "prefix": Family(FAMILIES_BY_NAME["prefix"], _learn_prefix, reserved_positions=PREFIX["prefix_len"]),
}


def family(name: str) -> Family:
    """The registered family `name`; FuteError listing the known ones."""
    if name not in FAMILIES:
        raise FuteError(f"unknown task-embedding family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]
