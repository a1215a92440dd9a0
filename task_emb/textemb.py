"""TextEmb (TaskEmb's baseline): the mean of the surrogate's final hidden states over the dataset.

embedding = sum over examples and non-padding tokens of h_t / their number, [hidden_size];
an encoder-decoder surrogate uses its encoder. Nothing is trained.
"""
from __future__ import annotations

from typing import Any

import torch

from data_utils.progress import progress
from modeling.features import make_loader
from task_emb.families import LearnReport
from task_emb.models import load_base_model, resolve_model_name
from task_emb.options import micro_batch_size
from task_emb.surrogate import LearnOptions, TrainingSet


@torch.no_grad()
def learn(surrogate: str, training: TrainingSet, tokenizer, hp: dict[str, Any], device,
          options: LearnOptions) -> LearnReport:
    """The TextEmb vector of the training set's inputs (1-D float32), nothing trained (task_emb.families.Learn)."""
    model = load_base_model(resolve_model_name(surrogate)).to(device).eval()
    total, count = None, 0
    inputs = [{k: v for k, v in f.items() if k not in ("labels", "start_positions", "end_positions")}
              for f in training.features]
    for batch in progress(make_loader(inputs, tokenizer, micro_batch_size(hp), shuffle=False), desc="textemb",
                          unit="batches"):
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden = model(**batch).last_hidden_state  # [B, T, H]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=(0, 1))
        total = summed if total is None else total + summed
        count += int(mask.sum())
    return LearnReport((total / max(count, 1)).float().cpu().numpy())
