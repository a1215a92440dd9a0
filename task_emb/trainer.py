"""The one training loop of the project: AdamW, linear warm-up schedule, accumulation, clipping,
optional early stopping with the best state restored.

Models return raw (un-scaled) losses; only this loop divides by the number of
accumulation steps, so a loss means the same thing everywhere else.
"""
from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from configs.hparams import OPTIMIZER

logger = logging.getLogger(__name__)

LossFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]
EvalFn = Callable[[], dict[str, float]]


@dataclass
class TrainConfig:
    learning_rate: float
    max_epochs: int
    gradient_accumulation_steps: int = 1
    weight_decay: float = OPTIMIZER["weight_decay"]
    warmup_ratio: float = OPTIMIZER["warmup_ratio"]
    max_grad_norm: float = OPTIMIZER["max_grad_norm"]
    patience: int | None = None  # early stopping on evaluate()["best"]; None = fixed epochs


@dataclass
class TrainResult:
    epochs_run: int
    best_epoch: int | None
    best_scores: dict[str, float] | None
    history: list[dict]


def no_decay_parameter_names(model: torch.nn.Module) -> set[str]:
    """Biases and the weights of normalisation layers (LayerNorm, T5LayerNorm, RMSNorm, ...)."""
    names = set()
    for module_name, module in model.named_modules():
        is_norm = "norm" in type(module).__name__.lower()
        for param_name, _ in module.named_parameters(recurse=False):
            if is_norm or param_name == "bias":
                names.add(f"{module_name}.{param_name}" if module_name else param_name)
    return names


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    no_decay = no_decay_parameter_names(model)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trainable if n not in no_decay], "weight_decay": config.weight_decay},
        {"params": [p for n, p in trainable if n in no_decay], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.learning_rate)


def train(model: torch.nn.Module, batches: Iterable[dict], loss_fn: LossFn, config: TrainConfig,
          device: torch.device, evaluate: EvalFn | None = None, desc: str = "train") -> TrainResult:
    """Train `model` on `batches` (re-iterated every epoch).

    With `config.patience`, `evaluate()` runs after every epoch; its "best" value is
    the score to maximise, starting from minus infinity (the reference started from
    0 and so never saved a model whose metric was negative). Training stops after
    `patience` epochs without improvement and the best state is restored.
    """
    steps_per_epoch = math.ceil(len(batches) / config.gradient_accumulation_steps)
    total_steps = max(1, steps_per_epoch * config.max_epochs)
    optimizer = build_optimizer(model, config)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * config.warmup_ratio), total_steps)
    params = [p for p in model.parameters() if p.requires_grad]

    best_score, best_state, best_epoch, best_scores = -math.inf, None, None, None
    history, epochs_without_gain = [], 0
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        running = None
        progress = tqdm(batches, desc=f"{desc} epoch {epoch}/{config.max_epochs}", leave=False, disable=None)
        for step, batch in enumerate(progress, start=1):
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = loss_fn(batch)
            (loss / config.gradient_accumulation_steps).backward()
            if step % config.gradient_accumulation_steps == 0 or step == len(batches):
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            progress.set_postfix(loss=f"{running:.4f}")
        record = {"epoch": epoch, "train_loss": running}
        if evaluate is not None and config.patience is not None:
            scores = evaluate()
            record.update({f"dev_{k}": v for k, v in scores.items()})
            if scores["best"] > best_score:
                best_score, best_epoch, best_scores = scores["best"], epoch, scores
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                epochs_without_gain = 0
            else:
                epochs_without_gain += 1
        logger.info("epoch %d: %s", epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
        history.append(record)
        if config.patience is not None and epochs_without_gain >= config.patience:
            logger.info("early stop after epoch %d (best epoch %s)", epoch, best_epoch)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(epochs_run=epoch, best_epoch=best_epoch, best_scores=best_scores, history=history)
