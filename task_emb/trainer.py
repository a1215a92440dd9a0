"""The one training loop of the project: AdamW, linear warm-up schedule, accumulation, clipping,
optional early stopping with the best state restored, and resuming after a kill.

Models return raw (un-scaled) losses; only this loop divides by the number of
accumulation steps, so a loss means the same thing everywhere else.

Resuming (`resume_path`): after every epoch the whole training state is saved there, atomically:
the trainable tensors and buffers, the optimiser and scheduler states, the random states
(python, numpy, torch, CUDA) and the data order's generator, early stopping's best state,
the history and what identifies the run (`run_identity`: its flags, a fingerprint of the
examples it trains on and of the model it starts from). A run given the same path finds the
state of its last finished epoch and continues with the next one, so a run killed mid-way (a
SLURM job preempted or out of time) and run again ends where an uninterrupted run ends. A state
saved by another run (another identity: other flags, other data, another starting model) is
refused. The caller deletes the file once its outputs are written (`finish`), and before it
starts afresh (--overwrite True).
"""
from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from configs.hparams import OPTIMIZER
from data_utils.artifacts.completion import NOT_IDENTITY
from data_utils.errors import FuteError
from data_utils.progress import progress

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
    """epochs_run, optimizer_steps: what ran; final_train_loss: the mean batch loss of the last epoch;
    best_epoch/best_scores: early stopping's choice (None without it); history: one record per epoch."""

    epochs_run: int
    best_epoch: int | None
    best_scores: dict[str, float] | None
    history: list[dict]
    optimizer_steps: int = 0
    final_train_loss: float | None = None


# The reference's rule (and that of transformers' run_glue examples): a parameter is not
# decayed when its name contains one of these. It is written for BERT's names; on T5 it
# decays the `layer_norm` weights and exempts `relative_attention_bias` (an embedding
# table), which we keep: the effect is tiny at lr 2e-5 and it is what the paper ran.
NO_DECAY_SUBSTRINGS = ("bias", "LayerNorm.weight")


def no_decay_parameter_names(model: torch.nn.Module) -> set[str]:
    """Names of the parameters without weight decay: those containing "bias" or "LayerNorm.weight"."""
    return {name for name, _ in model.named_parameters() if any(part in name for part in NO_DECAY_SUBSTRINGS)}


# Devices where torch's fused AdamW runs (one kernel over every tensor of a group): on all-MiniLM-L6-v2 it takes
# 12 ms a step on a 2-core CPU, the default per-tensor loop 74 ms. The update is AdamW's either way; only float
# rounding differs (benchmarks/README.md, bench_finetune.py). transformers' Trainer uses it by default too.
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, in two groups: decayed, and those `no_decay_parameter_names` exempts;
    fused where every parameter lies on a device of FUSED_ADAMW_DEVICES."""
    no_decay = no_decay_parameter_names(model)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trainable if n not in no_decay], "weight_decay": config.weight_decay},
        {"params": [p for n, p in trainable if n in no_decay], "weight_decay": 0.0},
    ]
    fused = bool(trainable) and all(p.device.type in FUSED_ADAMW_DEVICES for _, p in trainable)
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.learning_rate, fused=fused or None)


def train(model: torch.nn.Module, batches: Iterable[dict], loss_fn: LossFn, config: TrainConfig,
          device: torch.device, evaluate: EvalFn | None = None, desc: str = "train",
          resume_path: str | os.PathLike | None = None, identity: Mapping[str, Any] | None = None) -> TrainResult:
    """Train `model` on `batches` (re-iterated every epoch).

    With `config.patience`, `evaluate()` runs after every epoch; its "best" value is
    the score to maximise, starting from minus infinity (the reference started from
    0 and so never saved a model whose metric was negative). As in the reference, a
    score >= the best so far counts as a gain: a tie keeps the later model and resets
    the patience. Training stops after `patience` epochs without a gain and the best
    state is restored. Only trainable tensors (and buffers) are kept for that: frozen
    parameters never change, so restoring the rest is exact.

    With `resume_path`, the training state is saved there after every epoch and, when the
    file exists (of a run with the same `identity`), training continues after its epoch.

    A batch loss that is NaN or inf stops the run with a FuteError naming the epoch, the step
    and, where it can be told, the batch row at fault (`_non_finite_culprit`); so does a dev
    score that is not finite; the state saved after the last finished epoch stays as it was.
    """
    steps_per_epoch = math.ceil(len(batches) / config.gradient_accumulation_steps)
    total_steps = max(1, steps_per_epoch * config.max_epochs)
    optimizer = build_optimizer(model, config)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * config.warmup_ratio), total_steps)
    params = [p for p in model.parameters() if p.requires_grad]

    best_score, best_state, best_epoch, best_scores = -math.inf, None, None, None
    history, epochs_without_gain = [], 0
    epoch, optimizer_steps = 0, 0
    generator = getattr(batches, "generator", None)  # a shuffling DataLoader's: the data order
    identity = dict(identity or {})
    saved = _load_state(resume_path, identity) if resume_path is not None else None
    if saved is not None:
        _restore(model, saved["tensors"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        _set_random_states(saved["random"], generator)
        epoch, optimizer_steps, history = saved["epoch"], saved["optimizer_steps"], saved["history"]
        best_score, best_state, best_epoch, best_scores, epochs_without_gain = saved["best"]
        logger.info("%s: resuming after epoch %d (saved in %s)", desc, epoch, resume_path)
    stopped = saved is not None and saved["stopped"]  # early stopping had ended the run
    for epoch in range(epoch + 1, 0 if stopped else config.max_epochs + 1):
        model.train()
        running, loss_sum = None, 0.0
        bar = progress(batches, desc=f"{desc} epoch {epoch}/{config.max_epochs}", unit="batches")
        for step, batch in enumerate(bar, start=1):
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = loss_fn(batch)
            value = loss.item()
            if not math.isfinite(value):
                raise FuteError(f"{desc}: the training loss is {value} at epoch {epoch}, step {step} of {len(batches)}; "
                                f"{_non_finite_culprit(batch, loss_fn, config.learning_rate)}")
            (loss / config.gradient_accumulation_steps).backward()
            if step % config.gradient_accumulation_steps == 0 or step == len(batches):
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                optimizer_steps += 1
            loss_sum += value
            running = value if running is None else 0.98 * running + 0.02 * value
            bar.set_postfix(loss=f"{running:.4f}")  # a smoothed loss for the bar and the log lines
        record = {"epoch": epoch, "train_loss": loss_sum / max(len(batches), 1)}  # the epoch's mean batch loss
        if evaluate is not None and config.patience is not None:
            scores = evaluate()
            if not math.isfinite(scores["best"]):  # NaN would never count as a gain, silently
                raise FuteError(f"{desc}: the dev score is {scores['best']} after epoch {epoch}; the model's outputs "
                                f"are not finite")
            record.update({f"dev_{k}": v for k, v in scores.items()})
            if scores["best"] >= best_score:
                best_score, best_epoch, best_scores = scores["best"], epoch, scores
                best_state = _trainable_state(model)
                epochs_without_gain = 0
            else:
                epochs_without_gain += 1
        logger.info("epoch %d: %s", epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
        history.append(record)
        stopped = config.patience is not None and epochs_without_gain >= config.patience
        if resume_path is not None:
            _save_state(resume_path, {
                "identity": identity, "epoch": epoch, "stopped": stopped, "optimizer_steps": optimizer_steps,
                "history": history, "tensors": _trainable_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "random": _random_states(generator),
                "best": (best_score, best_state, best_epoch, best_scores, epochs_without_gain)})
        if stopped:
            logger.info("early stop after epoch %d (best epoch %s)", epoch, best_epoch)
            break
    if best_state is not None:
        _restore(model, best_state)
    return TrainResult(epochs_run=epoch, best_epoch=best_epoch, best_scores=best_scores, history=history,
                       optimizer_steps=optimizer_steps,
                       final_train_loss=history[-1]["train_loss"] if history else None)


# Batch entries that are token-level inputs: not worth printing when a row is at fault (its targets are).
TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _non_finite_culprit(batch: dict[str, torch.Tensor], loss_fn: LossFn, learning_rate: float) -> str:
    """Why a batch's loss is not finite, as far as can be told: rows of the batch holding a non-finite
    target or input, else rows whose loss alone is not finite (each run again without gradients; only
    on this error, so it costs nothing otherwise), else divergence."""
    size = len(next(iter(batch.values())))
    for key, tensor in batch.items():
        if tensor.is_floating_point():
            bad = (~torch.isfinite(tensor.reshape(size, -1))).any(dim=1).nonzero().flatten().tolist()
            if bad:
                return (f"row {bad[0]} of that batch ({len(bad)} of {size} rows) has {key} "
                        f"{tensor[bad[0]].tolist()}: fix that example")
    with torch.no_grad():
        losses = [loss_fn({k: v[row:row + 1] for k, v in batch.items()}).item() for row in range(size)]
    bad = [row for row, loss in enumerate(losses) if not math.isfinite(loss)]
    if bad and len(bad) < size:
        targets = "; ".join(f"{k} {v[bad[0]].tolist()}" for k, v in batch.items() if k not in TOKEN_INPUTS)
        return f"row {bad[0]} of that batch ({len(bad)} of {size} rows) alone has loss {losses[bad[0]]} ({targets})"
    return (f"the batch holds no non-finite value and {'every' if bad else 'no'} row alone gives a non-finite loss: "
            f"training diverged; lower --learning_rate (now {learning_rate:g})")


def run_identity(flags: Mapping[str, Any], **fingerprints: str | None) -> dict[str, Any]:
    """What identifies a run for resuming: its flags, less those that change nothing it computes (NOT_IDENTITY:
    overwrite, device, log_level), and `fingerprints` of what it trains on and from: e.g. train_data and dev_data
    (data_utils.io.json_sha256 of the examples), start_model (task_emb.models.model_fingerprint). A flag alone
    cannot tell a dataset fixed in place, or a checkpoint trained again, from the one a saved state learned on."""
    identity = {key: value for key, value in flags.items() if key not in NOT_IDENTITY}
    return {**identity, **fingerprints}


def resume_path_for(output: str | os.PathLike) -> Path:
    """Where the run writing `output` keeps its training state: `<output without suffix>.training_state.pt`."""
    output = Path(output)
    return output.with_name(output.stem + ".training_state.pt")


def finish(resume_path: str | os.PathLike | None) -> bool:
    """Delete a run's saved training state (and a temporary a kill left of it), once the outputs it led to are
    written, or to start afresh; True when there was one."""
    if resume_path is None:
        return False
    resume_path = Path(resume_path)
    _temporary(resume_path).unlink(missing_ok=True)
    there = resume_path.is_file()
    resume_path.unlink(missing_ok=True)
    return there


def _random_states(generator: torch.Generator | None) -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "data_order": generator.get_state() if generator is not None else None}


def _set_random_states(states: dict[str, Any], generator: torch.Generator | None) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if generator is not None and states["data_order"] is not None:
        generator.set_state(states["data_order"])


def _save_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """torch.save to a temporary file beside `path`, then rename: a kill never leaves half a state."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # the output's folder, made by the first write
    torch.save(state, _temporary(path))
    os.replace(_temporary(path), path)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _load_state(path: str | os.PathLike, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state at `path` (None when there is none); a state of another run is a FuteError."""
    path = Path(path)
    if not path.is_file():
        return None
    # Our own file, written by _save_state: python and numpy random states are not plain tensors.
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("identity") != identity:
        differs = sorted(k for k in {*identity, *state.get("identity", {})}
                         if identity.get(k) != state.get("identity", {}).get(k))
        raise FuteError(f"{path} holds the training state of another run (it differs in {', '.join(differs)}); "
                        f"rerun with that run's flags and data to finish it, or delete it to start afresh")
    return state


def _trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CPU copies of the trainable parameters and of the buffers (running statistics may change)."""
    tensors = [(n, p) for n, p in model.named_parameters() if p.requires_grad] + list(model.named_buffers())
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in tensors}


@torch.no_grad()
def _restore(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    for name, value in state.items():
        tensors[name].copy_(value)
