"""Is a learned task embedding under-trained? Each of these signs is enough to flag it:

1. The surrogate's own result is no better than an answer that reads no input.
   - DTE (gold labels): the surrogate's dev score at the end of training (early stopping's choice, or
     after the last epoch of a fixed schedule) is not clearly above the guess to beat on the same dev
     examples (data_utils/chance.py: one class for every example, by the main metric; for QA the
     context's first words; regression has no such guess), as run_cr_train.py records it for a
     fine-tune ("dev_guess"). Clearly above: by more than UNDERTRAINED_DEV_MARGIN_SE standard errors of
     a score at the guess's level g over the n dev examples, sqrt(g (1 - g) / n), the binomial standard
     error of a proportion (for F1 a scale, not an exact error): a surrogate within it has learned no
     more than the dev sample's luck gives a guess.
   - MTE (soft labels or values y' of a model M on x'): the surrogate's loss against y', the loss it
     was trained with, on the first FIT_EXAMPLES x' after training, is at or above the loss of the
     best constant answer, the mean of y' over those x' (the minimiser of BCE, soft cross-entropy and
     squared error alike). It is measured on training x' because holding x' out would change the
     MTE; a surrogate that cannot fit its own training targets better than a constant has learned
     nothing of M, which is the direction the flag needs.
2. A prefix embedding moved less than UNDERTRAINED_PREFIX_DISPLACEMENT of ||e0|| from the shared start
   e0 (task_emb/prefix.py records the displacement): its cosines mostly compare e0 with itself. Its
   trainable head can fit the targets while the prefix barely moves, so sign 1 alone cannot see this.

Not checked: an MTE of an extractive QA model (its targets are spans, scored only after n-best
post-processing against M's answers) and TextEmb (nothing is trained). `check` logs every reason as a
warning; the record holds them (diagnostics "undertrained", "undertrained_reasons": task_emb/record.py).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch

from configs.hparams import (UNDERTRAINED_DEV_MARGIN_SE, UNDERTRAINED_FIT_EXAMPLES,
                             UNDERTRAINED_PREFIX_DISPLACEMENT)
from modeling.features import make_loader
from task_emb.evaluation import collect_outputs
from task_emb.targets import regression_loss, soft_label_loss

if TYPE_CHECKING:  # task_emb.surrogate calls surrogate_result
    from task_emb.families import LearnReport
    from task_emb.surrogate import TrainingSet

logger = logging.getLogger(__name__)

# A constant answer's probabilities are kept this far from 0 and 1, where its logits are infinite.
_EPS = 1e-7
MORE_TRAINING = {
    "DTE": "more epochs (--max_epochs), more examples (--max_train_examples) or another --learning_rate",
    "MTE": "more x' (--max_data_for_task_emb_train), more epochs (--max_epochs) or a higher --learning_rate",
}


def surrogate_result(model: torch.nn.Module, training: TrainingSet, tokenizer, micro_batch: int, device,
                     soft_loss: str, best_scores: dict[str, float] | None) -> dict[str, float]:
    """The trained surrogate's own result: {"dev_score"} for a set with a dev split (`best_scores` when early
    stopping chose them, else one evaluation now), {"fit_loss", "constant_loss", "fit_examples"} for soft
    labels or values, {} otherwise (QA spans of a model)."""
    if training.evaluate is not None:
        scores = best_scores if best_scores is not None else training.evaluate(model)
        return {"dev_score": scores["best"]}
    if training.target not in ("soft", "value"):
        return {}
    chosen = training.features[:UNDERTRAINED_FIT_EXAMPLES]
    inputs = [{key: value for key, value in feature.items() if key != "labels"} for feature in chosen]
    outputs, _ = collect_outputs(model, make_loader(inputs, tokenizer, micro_batch, shuffle=False), device,
                                 ("logits",))
    logits = torch.from_numpy(np.concatenate(outputs["logits"])).double()
    targets = torch.tensor([feature["labels"] for feature in chosen], dtype=torch.float64)
    mean = targets.mean(dim=0, keepdim=True)
    if training.target == "value":
        fit, constant = regression_loss(logits, targets), regression_loss(mean.expand_as(targets), targets)
    else:
        fit = soft_label_loss(logits, targets, soft_loss)
        constant = soft_label_loss(constant_logits(mean, soft_loss).expand_as(targets), targets, soft_loss)
    return {"fit_loss": float(fit), "constant_loss": float(constant), "fit_examples": len(chosen)}


def constant_logits(probabilities: torch.Tensor, soft_loss: str) -> torch.Tensor:
    """Logits whose loss `soft_loss` reads as `probabilities` ([1, L]): per-label log-odds for bce (independent
    sigmoids), log-probabilities for ce (a softmax)."""
    p = probabilities.clamp(_EPS, 1 - _EPS)
    return torch.log(p) - torch.log1p(-p) if soft_loss == "bce" else torch.log(p)


def reasons(measured: Mapping[str, float], dev_guess: dict | None, dev_examples: int | None = None) -> list[str]:
    """Why an embedding is under-trained, from what its run measured (the surrogate's own result, `surrogate_result`,
    and the family's diagnostics: a prefix's displacement) and, for a DTE, the guess to beat on its `dev_examples`
    dev examples (data_utils.chance.dev_guess; None where there is none; without their number, the guess itself)."""
    found = []
    if "dev_score" in measured and dev_guess is not None:
        score, guess = measured["dev_score"], dev_guess["score"]
        margin = dev_margin(guess, dev_examples)
        if score <= guess + margin:
            found.append(f"surrogate dev score {score:.3f} <= {guess:.3f} of the guess '{dev_guess['guess']}'"
                         + (f" + {margin:.3f} (one standard error over {dev_examples} dev examples)" if margin else ""))
    if "fit_loss" in measured and measured["fit_loss"] >= measured["constant_loss"]:
        found.append(f"surrogate loss on x' {measured['fit_loss']:.4f} >= {measured['constant_loss']:.4f} of "
                     f"the constant answer (mean y')")
    if measured.get("relative_displacement", np.inf) < UNDERTRAINED_PREFIX_DISPLACEMENT:
        found.append(f"moved {measured['relative_displacement']:.2f} of the norm of e0 from e0 (cosine "
                     f"{measured['cosine_to_init']:.3f}), below {UNDERTRAINED_PREFIX_DISPLACEMENT:.2f}")
    return found


def dev_margin(guess: float, dev_examples: int | None) -> float:
    """How far above a guess scoring `guess` (in [0, 1]) a dev score must be: UNDERTRAINED_DEV_MARGIN_SE standard
    errors sqrt(g (1 - g) / n) over `dev_examples` n (0 when n is not known)."""
    if not dev_examples:
        return 0.0
    g = min(max(guess, 0.0), 1.0)
    return UNDERTRAINED_DEV_MARGIN_SE * float(np.sqrt(g * (1 - g) / dev_examples))


def check(report: LearnReport, dev_guess: dict | None, kind: str, label: str,
          dev_examples: int | None = None) -> list[str] | None:
    """The `reasons` the embedding of `kind` (DTE, MTE) of `label` is under-trained, each warned about once, naming
    what to raise; None for a family that trains nothing (report.fit None)."""
    if report.fit is None:
        return None
    found = reasons({**report.fit.result, **report.diagnostics}, dev_guess, dev_examples)
    for reason in found:
        logger.warning("the %s %s is under-trained: %s (after %d optimiser steps); it describes a surrogate that "
                       "learned little of it. Give it more training: %s", kind, label, reason,
                       report.fit.optimizer_steps, MORE_TRAINING[kind])
    return found
