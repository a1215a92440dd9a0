"""One task embedding, from a labelled dataset (DTE), a fine-tuned model (MTE) or LLM outputs (MTE).

The steps, whatever the input:
1. training data for the surrogate T: T-tokenized inputs with their targets
   (gold labels; the soft labels y' of a model run once on x'; or LLM y');
2. T with a task head for those targets;
3. prefix: freeze T, learn per-layer prefixes (+ head); the embedding is the
   layer-mean of the prefixes. fim: fine-tune all of T, then take the diagonal
   Fisher information of the loss over the training data.
The TextEmb baseline (`text_embedding`) needs no training: the mean of T's final
hidden states over the dataset's tokens.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from configs.datasets import GENRE_LABELS, DatasetSpec
from configs.hparams import PREFIX, TASK_EMB, UNDERTRAINED_PREFIX_DISPLACEMENT
from data_utils.errors import FuteError
from data_utils.features import make_loader, tokenize_cr, tokenize_qa
from data_utils.artifacts.llm_outputs import read_answers
from data_utils.loading import get_spec, load_examples
from task_emb.evaluation import collect_outputs, evaluate_cr, evaluate_qa
from task_emb.fim import fim_embedding
from task_emb.models import (RECORD_NAME, fine_tuned_dataset, load_base_model, load_head_model, load_tokenizer,
                             resolve_model_name)
from task_emb.prefix import PrefixTaskModel, displacement_from_init
from task_emb.targets import regression_loss, soft_label_loss, span_to_characters
from task_emb.trainer import TrainConfig, check_training_flags, train

logger = logging.getLogger(__name__)


@dataclass
class Head:
    """What T's output head predicts: "cr" with labels (or regression), or "qa"."""

    task: str
    labels: tuple[str, ...] = ()
    regression: bool = False


@dataclass
class TrainingSet:
    """T-tokenized training features, how to score them, and (for early stopping) how to evaluate."""

    features: list[dict]
    head: Head
    target: str  # "gold": the dataset's labels; "soft": distributions; "value": regression; "span": QA
    task: str  # what the embedding describes: the dataset, or the LLM task genre (sa / nli)
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None
    info: dict = field(default_factory=dict)
    llm: str | None = None  # an LLM + prompt MTE: the LLM ...
    prompt: int | None = None  # ... and its prompt number

    @property
    def label(self) -> str:
        """The task, or "<llm>:p<k>" for an LLM + prompt, as logs and progress bars name it."""
        if self.llm is None:
            return self.task
        return self.llm if self.prompt is None else f"{self.llm}:p{self.prompt}"


def hyper_parameters(input_kind: str, task_type: str, method: str, is_baseline: bool, overrides: dict) -> dict:
    """The defaults table of docs/method.md section 4 for this mode, with every flag the user gave taking precedence.

    Checked before any model loads: sizes and epochs at least 1, the batch a multiple of
    the accumulation steps (FuteError naming the flag)."""
    group = "qa" if task_type == "qa" else "cr"
    key = (input_kind, group, method, is_baseline)
    if key not in TASK_EMB:
        raise FuteError(f"no task-embedding defaults for input {input_kind}, task {task_type}, method {method}, "
                        f"baseline {is_baseline}; --is_baseline True only applies to --input_type data")
    values = dict(TASK_EMB[key])
    values.update({k: v for k, v in overrides.items() if v is not None})
    check_training_flags(values)
    return values


# ----------------------------------------------------------------------------- training data

def data_training_set(spec: DatasetSpec, tokenizer, max_len: int, dataset_path: str | None,
                      max_train_examples: int | None, seed: int, micro_batch: int, device) -> TrainingSet:
    """A labelled dataset: gold labels; the dev split drives early stopping."""
    splits = load_examples(spec, dataset_path, max_train_examples, seed)
    if spec.task == "qa":
        features, _ = tokenize_qa(splits["train"], tokenizer, max_len)
        dev_features, dev_meta = tokenize_qa(splits["dev"], tokenizer, max_len)
        dev_batches = list(make_loader(dev_features, tokenizer, micro_batch, shuffle=False))

        def evaluate(model):
            return evaluate_qa(model, dev_batches, splits["dev"], dev_meta, device)
    else:
        features = tokenize_cr(splits["train"], tokenizer, max_len)
        dev_batches = list(make_loader(tokenize_cr(splits["dev"], tokenizer, max_len), tokenizer, micro_batch, False))

        def evaluate(model):
            return evaluate_cr(model, dev_batches, spec, device)
    head = Head(spec.task, spec.labels, spec.regression)
    return TrainingSet(features, head, "span" if spec.task == "qa" else "gold", spec.name, evaluate,
                       {"num_train_examples": len(features), "num_dev_examples": len(splits["dev"])})


def model_training_set(checkpoint: str, spec: DatasetSpec, inputs: list[dict], tokenizer, max_len: int,
                       micro_batch: int, device) -> TrainingSet:
    """A fine-tuned model M on x': its outputs y' are computed once here and reused every epoch."""
    m_tokenizer = load_tokenizer(checkpoint)
    m_model = load_head_model(checkpoint, spec.task, spec.labels, spec.regression, m_tokenizer).to(device)
    if spec.task == "qa":
        examples = [{"id": str(i), "question": x["text"], "context": x["text_pair"],
                     "answers": {"text": [], "answer_start": []}} for i, x in enumerate(inputs)]
        # longest_first, as the reference tokenized x': a single pool text sits in the question
        # slot with an empty context, and only_second could not cut it.
        m_features, m_meta = tokenize_qa(examples, m_tokenizer, max_len, truncation="longest_first")
        outputs, _ = collect_outputs(m_model, make_loader(m_features, m_tokenizer, micro_batch, False), device,
                                     ("start_logits", "end_logits"))
        # Argmax over each feature's own tokens: the batch's padding is no prediction of M, and
        # leaving it out makes y' independent of which examples share a batch.
        lengths = [len(offsets) for offsets in m_meta["offsets"]]
        starts = [int(row[:n].argmax()) for row, n in zip(_rows(outputs["start_logits"]), lengths)]
        ends = [int(row[:n].argmax()) for row, n in zip(_rows(outputs["end_logits"]), lengths)]
        answered = 0
        for example, start, end, offsets in zip(examples, starts, ends, m_meta["offsets"]):
            span = span_to_characters(start, end, offsets)
            if span is not None:
                example["answers"] = {"text": [example["context"][span[0]:span[1]]], "answer_start": [span[0]]}
                answered += 1
        features, _ = tokenize_qa(examples, tokenizer, max_len, truncation="longest_first")
        info = {"answered_fraction": answered / max(1, len(examples))}
        target = "span"
    else:
        m_features = tokenize_cr(inputs, m_tokenizer, max_len)
        outputs, _ = collect_outputs(m_model, make_loader(m_features, m_tokenizer, micro_batch, False), device,
                                     ("logits",))
        logits = torch.from_numpy(np.concatenate(outputs["logits"]))
        targets = logits[:, 0] if spec.regression else torch.softmax(logits, dim=-1)
        features = tokenize_cr(inputs, tokenizer, max_len)
        for feature, value in zip(features, targets.tolist()):
            feature["labels"] = value
        info = {}
        target = "value" if spec.regression else "soft"
    del m_model
    info["num_train_examples"] = len(features)
    return TrainingSet(features, Head(spec.task, spec.labels, spec.regression), target, spec.name, info=info)


def _rows(batches: list[np.ndarray]):
    """Per-batch [b, len] arrays -> their rows, in order."""
    return (row for batch in batches for row in batch)


def llm_training_set(path: str, task_type: str, llm_name: str, tokenizer, max_len: int) -> TrainingSet:
    """The LLM's answers y' to x' (the JSONL of run_llm_inference_for_te.py): its label distributions."""
    answers = read_answers(path, task_type)
    features = tokenize_cr(answers.inputs, tokenizer, max_len)
    for feature, probs in zip(features, answers.probs):
        feature["labels"] = probs
    info = {"num_train_examples": len(features), "llm_model": answers.model, "prompt_number": answers.prompt}
    # The LLM as the y' lines name it (as run_llm_inference.py's files do); --lm_model_name when they do not.
    llm = answers.model or (llm_name if llm_name != "none" else "llm")
    return TrainingSet(features, Head("cr", GENRE_LABELS[task_type]), "soft", task_type, info=info, llm=llm,
                       prompt=answers.prompt)


def model_dataset_of(load_path: str, to_train_dataset: str | None) -> DatasetSpec:
    """The dataset a checkpoint was fine-tuned on: --to_train_dataset, else its fute_record.json."""
    name = to_train_dataset or fine_tuned_dataset(load_path)
    if name is None:
        raise FuteError(f"cannot tell which dataset {load_path} was fine-tuned on (no {RECORD_NAME} beside it); "
                        f"pass --to_train_dataset")
    return get_spec(name)


# ----------------------------------------------------------------------------- learning the embedding

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


def learn_embedding(method: str, surrogate: str, training: TrainingSet, tokenizer, hp: dict, device,
                    seed: int, shuffle: bool, fim_estimator: str, soft_label_loss_kind: str) -> np.ndarray:
    """Train on the surrogate and return the task embedding (1-D float32)."""
    head = training.head
    model = load_head_model(resolve_model_name(surrogate), head.task, head.labels, head.regression, tokenizer)
    if method == "prefix":
        model = PrefixTaskModel(model, prefix_len=PREFIX["prefix_len"], seed=seed, dropout=PREFIX["dropout"])
    model.to(device)
    micro_batch = hp["batch_size"] // hp["gradient_accumulation_steps"]
    loader = make_loader(training.features, tokenizer, micro_batch, shuffle, seed)
    loss = make_loss(training.target, soft_label_loss_kind)
    config = TrainConfig(learning_rate=hp["learning_rate"], max_epochs=hp["max_epochs"],
                         gradient_accumulation_steps=hp["gradient_accumulation_steps"], patience=hp["patience"])
    evaluate = (lambda: training.evaluate(model)) if training.evaluate is not None else None
    result = train(model, loader, lambda batch: loss(model, batch), config, device, evaluate,
                   desc=f"{method} {training.label}")
    training.info.update(epochs_run=result.epochs_run, best_epoch=result.best_epoch, best_dev=result.best_scores)
    diagnostics = {"optimizer_steps": result.optimizer_steps, "final_train_loss": result.final_train_loss}
    training.info["diagnostics"] = diagnostics
    if method == "prefix":
        diagnostics.update(displacement_from_init(model.prefix_encoder, seed))
        diagnostics["undertrained"] = diagnostics["relative_displacement"] < UNDERTRAINED_PREFIX_DISPLACEMENT
        if diagnostics["undertrained"]:
            logger.warning(
                "the prefix embedding of %s moved only %.2f of its initialisation's norm from it (cosine %.3f, %d "
                "optimiser steps; below %.2f counts as under-trained): it mostly measures the shared starting point. "
                "Give it more training: more x' (--max_data_for_task_emb_train), more epochs (--max_epochs) or a "
                "higher --learning_rate", training.label, diagnostics["relative_displacement"],
                diagnostics["cosine_to_init"], result.optimizer_steps, UNDERTRAINED_PREFIX_DISPLACEMENT)
        return model.embedding().astype(np.float32)
    fim_batches = make_loader(training.features, tokenizer, micro_batch, shuffle=False)
    return fim_embedding(model, tqdm(fim_batches, desc="fim", leave=False, disable=None), lambda batch: loss(model, batch),
                         estimator=fim_estimator, device=device)


@torch.no_grad()
def text_embedding(surrogate: str, features: list[dict], tokenizer, batch_size: int, device) -> np.ndarray:
    """TextEmb (TaskEmb's baseline): the mean of T's final hidden states over every non-padding
    token of the dataset, [hidden_size]. An encoder-decoder model uses its encoder."""
    model = load_base_model(resolve_model_name(surrogate)).to(device).eval()
    total, count = None, 0
    inputs = [{k: v for k, v in f.items() if k not in ("labels", "start_positions", "end_positions")}
              for f in features]
    for batch in tqdm(make_loader(inputs, tokenizer, batch_size, shuffle=False), desc="textemb", leave=False,
                      disable=None):
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden = model(**batch).last_hidden_state  # [B, T, H]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=(0, 1))
        total = summed if total is None else total + summed
        count += int(mask.sum())
    return (total / max(count, 1)).float().cpu().numpy()
