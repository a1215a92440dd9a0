"""What every learned task embedding shares: a training set for the surrogate T and the loop that fits T to it.

A family's `learn` (task_emb/families.py) gets the TrainingSet, the resolved hyper-parameters
and the run's options; `fit_surrogate` trains a model on the set (the model's own loss for
gold labels and spans, ours for soft labels and values) and reports what ran (SurrogateFit).
What a training set was made of is one of DatasetSource, ModelSource or LlmSource; the
embedding's record is assembled from them in task_emb/record.py.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from configs.models import llm_label
from modeling.features import make_loader
from task_emb.models import load_head_model, resolve_model_name
from task_emb.options import micro_batch_size
from task_emb.targets import regression_loss, soft_label_loss
from task_emb.trainer import TrainConfig, train
from task_emb.undertraining import surrogate_result


@dataclass
class Head:
    """What T's output head predicts: task_class "cr" with labels (or regression), or "qa"."""

    task_class: str
    labels: tuple[str, ...] = ()
    regression: bool = False


@dataclass(frozen=True)
class DatasetSource:
    """A DTE's training set: the labelled dataset's examples (after --max_train_examples) and its dev split.
    dev_guess: the score to beat on those dev examples (data_utils.chance.dev_guess; None for regression);
    dev_examples_sha256: their fingerprint, part of what a resumed run must match; data: the dataset's
    identity (data_utils/artifacts/data_identity.py)."""

    num_train_examples: int
    num_dev_examples: int
    dev_guess: dict | None
    dev_examples_sha256: str
    data: dict


@dataclass(frozen=True)
class ModelSource:
    """An LM's MTE training set: x' from the pool (`pool`: data_utils.unsup_pool.pool_record) with the y' of the
    model fine-tuned on `data`; answered_fraction: of a QA model, the x' it answers (None for CR models)."""

    num_train_examples: int
    pool: dict | None
    data: dict | None
    answered_fraction: float | None = None


@dataclass(frozen=True)
class LlmSource:
    """An LLM + prompt MTE's training set: the y' lines of run_llm_inference_for_te.py, as they name the LLM and
    the prompt; answers_complete: whether that run finished; pool: the record of the pool its x' were drawn from
    (data_utils.unsup_pool.pool_record, as the x' file's record holds it; None: the y' or x' file has no record
    that says)."""

    num_train_examples: int
    llm_model: str | None
    prompt_number: int | None
    answers_complete: bool
    pool: dict | None = None


Source = DatasetSource | ModelSource | LlmSource


@dataclass
class TrainingSet:
    """T-tokenized training features, how to score them, and (for early stopping) how to evaluate."""

    features: list[dict]
    head: Head
    target: str  # "gold": the dataset's labels; "soft": distributions; "value": regression; "span": QA
    dataset: str | None  # what the embedding describes: the dataset (EmbeddingInfo.dataset); None for an LLM's y'
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None
    source: Source | None = None  # what the features were made of, for the record
    llm: str | None = None  # an LLM + prompt MTE: the LLM ...
    prompt: int | None = None  # ... and its prompt number
    genre: str | None = None  # ... and the task genre (sa / nli) its y' answer
    # The fingerprint of the texts the set was drawn from (data_utils/artifacts/text_prints.py): a dataset's every
    # example, or the pool of x'; None where they cannot be known.
    texts: np.ndarray | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The dataset, or "<llm>:p<k>" for an LLM + prompt as tables name it (configs.models.llm_label), for logs
        and progress bars."""
        return str(self.dataset) if self.llm is None else llm_label(self.llm, self.prompt)


@dataclass(frozen=True)
class LearnOptions:
    """The run's choices a family may use: seed, shuffling, the FIM estimator, the soft-label loss, and where
    training keeps its state after every epoch so that a killed run resumes (task_emb.trainer), with the
    run's identity."""

    seed: int = 42
    shuffle: bool = False
    fim_estimator: str = "reference"
    soft_label_loss: str = "bce"
    resume_path: Path | None = None
    identity: dict = field(default_factory=dict)


def make_loss(target: str, soft_label_loss_kind: str) -> Callable[[torch.nn.Module, dict], torch.Tensor]:
    """loss(model, batch): the model's own loss for gold labels and spans, ours for soft labels/values."""
    if target in ("gold", "span"):
        return lambda model, batch: model(**batch).loss

    def loss(model, batch):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = model(**inputs).logits
        if target == "value":
            return regression_loss(logits, batch["labels"])
        return soft_label_loss(logits, batch["labels"], soft_label_loss_kind)
    return loss


def head_model(surrogate: str, training: TrainingSet, tokenizer) -> torch.nn.Module:
    """The surrogate T (alias, hub id or folder) with a fresh head for the training set's targets."""
    head = training.head
    return load_head_model(resolve_model_name(surrogate), head.task_class, head.labels, head.regression, tokenizer)


@dataclass(frozen=True)
class SurrogateFit:
    """How the surrogate was trained: epochs_run; best_epoch and best_dev (its dev scores), early stopping's
    choice (None on a fixed schedule); optimizer_steps; final_train_loss, the mean batch loss of the last
    epoch; result: the trained surrogate's own result (task_emb.undertraining.surrogate_result: "dev_score",
    or "fit_loss", "constant_loss" and "fit_examples" for soft labels and values)."""

    epochs_run: int
    best_epoch: int | None
    best_dev: dict[str, float] | None
    optimizer_steps: int
    final_train_loss: float | None
    result: Mapping[str, float]


def fit_surrogate(model: torch.nn.Module, training: TrainingSet, tokenizer, hp: Mapping[str, Any], device,
                  options: LearnOptions, desc: str) -> SurrogateFit:
    """Train `model` on the set with the hyper-parameters (task_emb.trainer.train); report what ran."""
    loader = make_loader(training.features, tokenizer, micro_batch_size(hp), options.shuffle, options.seed)
    loss = make_loss(training.target, options.soft_label_loss)
    config = TrainConfig(learning_rate=hp["learning_rate"], max_epochs=hp["max_epochs"],
                         gradient_accumulation_steps=hp["gradient_accumulation_steps"], patience=hp["patience"])
    evaluate = (lambda: training.evaluate(model)) if training.evaluate is not None else None
    result = train(model, loader, lambda batch: loss(model, batch), config, device, evaluate,
                   desc=f"{desc} {training.label}", resume_path=options.resume_path, identity=options.identity)
    return SurrogateFit(result.epochs_run, result.best_epoch, result.best_scores, result.optimizer_steps,
                        result.final_train_loss, surrogate_result(model, training, tokenizer, micro_batch_size(hp),
                                                                  device, options.soft_label_loss, result.best_scores))
