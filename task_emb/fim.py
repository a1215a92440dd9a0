"""FIM (TaskEmb-style) task embeddings: squared loss gradients of a fine-tuned surrogate.

Notation (every estimator returns one non-negative value per parameter entry):
    N    number of examples, B_b size of batch b (the last batch may be smaller),
    g_i  gradient of example i's loss,  G_b = (1/B_b) sum_{i in b} g_i  the gradient of
         batch b's mean loss (`loss_fn` returns that mean).

| estimator | formula | source |
|---|---|---|
| reference | (sum_b B_b G_b / N)^2 = (mean_i g_i)^2 | the FUTE original (default) |
| batch | (1/N) sum_b G_b^2 | TaskEmb (tuvuumass/task-transferability) |
| empirical | (1/N) sum_i g_i^2 | the empirical Fisher diagonal |

`reference`: the original backpropagates loss x B_b / 1e4 for every batch into the
same `.grad`, counts *examples* (`instance_count += batch_size`), then takes
grad / count x 1e4 and raises it to `fim_pow` = 2. The 1e4 factors cancel, so this
is the square of the dataset-mean gradient; they are left out here (the
accumulators are float32 at least, where they only changed rounding).
`batch`: TaskEmb's `compute_Fisher_with_labels` squares each batch's mean-loss
gradient, sums over batches and divides by the total number of examples.
(TaskEmb's default samples labels from the model's own prediction; here the
labels are those in the batches, as in FUTE: soft or gold targets.)
`empirical`: the per-example losses are taken as `loss_fn` on one-example batches.

The pass runs in eval mode (no dropout), as both the original (`fim_run`:
`model.eval()`) and TaskEmb without classifier fine-tuning do; the model's mode,
its `requires_grad` flags and its `.grad` are left as they were. Like the original,
the FIM is taken only over the parameters of `fim_parameters` (the backbone), but
each parameter once: the original counted T5's shared embedding three times.

Per-example gradients for `empirical`: task_emb/fim_empirical.py (one batched pass with
hooks, checked against autograd, or a loop over examples).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from data_utils.errors import FuteError
from data_utils.progress import progress
from modeling.features import make_loader
from task_emb.families import LearnReport
from task_emb.fim_empirical import PER_EXAMPLE_MODES, Batch, LossFn, batch_size, grads, sum_squares
from task_emb.options import FIM_ESTIMATORS, micro_batch_size
from task_emb.surrogate import LearnOptions, TrainingSet, fit_surrogate, head_model, make_loss

logger = logging.getLogger(__name__)

OUTPUT_DTYPES = (np.float16, np.float32, np.float64)

# model_type -> the submodules of `model.base_model` the FIM covers; None = all of it.
_ENCODER_DECODER = ("shared", "encoder", "decoder")
_EMBEDDINGS_ENCODER = ("embeddings", "encoder")
FIM_SUBMODULES: dict[str, tuple[str, ...] | None] = {
    **dict.fromkeys(("t5", "mt5", "umt5", "longt5"), _ENCODER_DECODER),
    **dict.fromkeys(("bert", "roberta", "xlm-roberta", "electra", "camembert", "deberta", "deberta-v2"),
                    _EMBEDDINGS_ENCODER),
    # Decoder-only base models hold no head (the LM/score head sits beside them).
    **dict.fromkeys(("gpt2", "gpt_neo", "gptj", "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "opt"),
                    None),
}


def learn(surrogate: str, training: TrainingSet, tokenizer, hp: dict, device, options: LearnOptions) -> LearnReport:
    """Fine-tune the surrogate on the training set, then take the diagonal FIM of its loss over that set
    (`fim_embedding` with options.fim_estimator), flattened (task_emb.families.Learn)."""
    model = head_model(surrogate, training, tokenizer).to(device)
    fit = fit_surrogate(model, training, tokenizer, hp, device, options, "fim")
    loss = make_loss(training.target, options.soft_label_loss)
    batches = make_loader(training.features, tokenizer, micro_batch_size(hp), shuffle=False)
    embedding = fim_embedding(model, progress(batches, desc=f"fim ({options.fim_estimator})", unit="batches"),
                              lambda batch: loss(model, batch), estimator=options.fim_estimator, device=device)
    return LearnReport(embedding, fit)


def fim_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The (name, parameter) pairs the FIM is taken over, each parameter once, in module order.

    T5: shared embedding + encoder + decoder (their `embed_tokens` are the shared
    weight: kept once, under its first name); BERT-like: embeddings + encoder (no
    pooler); GPT-2/Llama-like: the base transformer. Unknown model types: the base
    model minus any pooler. Task heads are never included.
    """
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    base = model.base_model
    names = FIM_SUBMODULES.get(model_type, "fallback")
    if names is None:
        modules = [base]
    elif names == "fallback":
        logger.info("model_type %r has no FIM layout: using its base model without pooler", model_type)
        modules = [child for name, child in base.named_children() if name != "pooler"]
    else:
        missing = [n for n in names if not hasattr(base, n)]
        if missing:
            raise FuteError(f"{type(model).__name__} ({model_type}) has no {missing}: the FIM needs a standard "
                            f"{model_type} backbone; load the surrogate with AutoModelFor* classes")
        modules = [getattr(base, n) for n in names]

    first_name = {id(p): n for n, p in model.named_parameters()}
    seen: set[int] = set()
    params = []
    for module in modules:
        for param in module.parameters():
            if id(param) not in seen:
                seen.add(id(param))
                params.append((first_name[id(param)], param))
    return params


def fim_embedding(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn, estimator: str = "reference",
                  device: torch.device | str | None = None, dtype=np.float32, chunk_size: int = 32,
                  per_example: str = "auto") -> np.ndarray:
    """The FIM task embedding: a 1-D array of length sum of `fim_parameters` sizes, in that order.

    batches: dicts of tensors with the batch on dimension 0 (labels included);
    values that are not such tensors are passed unchanged to every slice.
    loss_fn(batch) -> scalar mean loss over the batch (it calls `model`).
    estimator: one of FIM_ESTIMATORS (formulas in the module docstring).
    device: where the model and batches go (default: where the model is).
    dtype: np.float32, np.float64, or np.float16 (halves a t5-base vector to ~0.4 GB;
    values below ~6e-8 become 0: the count is logged).
    chunk_size, per_example: `empirical` only: examples per hooked forward/backward
    (at most a batch; the first one holds at most 4, checked against autograd), and
    "hooks" / "loop" / "auto" (hooks where every FIM layer is supported).
    """
    if estimator not in FIM_ESTIMATORS:
        raise FuteError(f"unknown FIM estimator {estimator!r}; use one of {', '.join(FIM_ESTIMATORS)}")
    if per_example not in PER_EXAMPLE_MODES:
        raise FuteError(f"unknown per-example mode {per_example!r}; use one of {', '.join(PER_EXAMPLE_MODES)}")
    if np.dtype(dtype) not in [np.dtype(d) for d in OUTPUT_DTYPES]:
        raise FuteError(f"FIM output dtype {np.dtype(dtype)} is not supported; use float16, float32 or float64")
    if chunk_size < 1:
        raise FuteError(f"chunk_size must be at least 1, got {chunk_size}")
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    named = fim_parameters(model)
    params = [p for _, p in named]

    with _fim_mode(model, params):
        acc_dtype = torch.promote_types(params[0].dtype, torch.float32)
        flat = torch.zeros(sum(p.numel() for p in params), dtype=acc_dtype, device=device)
        views = list(torch.split(flat, [p.numel() for p in params]))
        views = [v.view(p.shape) for v, p in zip(views, params)]
        batches = (_to_device(b, device) for b in batches)
        if estimator == "reference":
            n = _sum_batch_gradients(batches, loss_fn, params, views, square=False)
            flat.div_(max(n, 1)).pow_(2)
        elif estimator == "batch":
            n = _sum_batch_gradients(batches, loss_fn, params, views, square=True)
            flat.div_(max(n, 1))
        else:
            n = sum_squares(model, batches, loss_fn, params, views, chunk_size, per_example)
            flat.div_(max(n, 1))
    if n == 0:
        raise FuteError("the FIM got no examples: the training data for the task embedding is empty")
    logger.info("FIM (%s) over %d examples: %d values, mean %.3e", estimator, n, flat.numel(), flat.mean().item())
    return _to_numpy(flat, dtype)


# ---------------------------------------------------------------------------
# Batch plumbing
# ---------------------------------------------------------------------------


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@contextlib.contextmanager
def _fim_mode(model: nn.Module, params: list[nn.Parameter]) -> Iterator[None]:
    """Eval mode; gradients for the FIM parameters only; everything restored afterwards."""
    was_training = model.training
    flags = {p: p.requires_grad for p in model.parameters()}
    wanted = {id(p) for p in params}
    model.eval()
    for p in flags:
        p.requires_grad_(id(p) in wanted)
    try:
        yield
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.train(was_training)


def _to_numpy(flat: torch.Tensor, dtype) -> np.ndarray:
    """The FIM as a numpy vector of `dtype`. Values below float16's smallest subnormal become 0 (logged: the
    cosine hardly moves); a non-finite value is a FuteError, as is one beyond float16's range (65504)."""
    full = flat.detach().cpu().numpy()
    if not np.isfinite(full).all():
        raise FuteError(f"the FIM holds {np.count_nonzero(~np.isfinite(full))} NaN or inf values: the surrogate's "
                        f"gradients overflowed (a diverged fine-tune); lower --learning_rate")
    if np.dtype(dtype) != np.float16:
        return full.astype(dtype, copy=False)
    overflow = int(np.count_nonzero(np.abs(full) > np.finfo(np.float16).max))
    if overflow:
        raise FuteError(f"{overflow} FIM values exceed float16's range ({np.finfo(np.float16).max:g}); save it "
                        f"with --save_dtype float32")
    out = full.astype(np.float16)
    underflow = int(np.count_nonzero((out == 0) & (full != 0)))
    if underflow:
        logger.warning("float16 FIM: %d values below float16's range flushed to 0", underflow)
    return out


# ---------------------------------------------------------------------------
# The three estimators
# ---------------------------------------------------------------------------


def _sum_batch_gradients(batches: Iterable[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                         views: list[torch.Tensor], square: bool) -> int:
    """views += sum_b G_b^2 (square) or sum_b B_b G_b; returns N."""
    n = 0
    for batch in batches:
        size = batch_size(batch)
        loss = loss_fn(batch)
        for view, grad in zip(views, grads(loss if square else loss * size, params)):
            if grad is not None:
                view.add_(grad.square() if square else grad)
        n += size
    return n
