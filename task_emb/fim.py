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

Per-example gradients for `empirical` come from one batched forward/backward:
forward hooks keep each layer's input, autograd gives the gradient at each
layer's output, and g_i per layer follows in closed form (Linear: d_i^T a_i;
Embedding: d_i scattered to token rows; LayerNorm: sum_t d_i * normalised input).
The products d_i^T a_i replace the weight gradients that `reference`'s backward forms,
with the same arithmetic, so the extra cost is small (MiniLM on one CPU thread: about
1.2x `reference`, benchmarks/README.md) as long as they are not all written out at
once (see `_add_outer_squares`). `torch.func.vmap` was the first choice but cannot run
through transformers 5's attention-mask code (`padding_mask.all()` is data-dependent
control flow). Models with other layers holding FIM parameters (T5's RMS norm and
relative position bias, Llama's RMS norm) use a per-example loop: exact, slower.

(Longer than the project's other modules, on purpose: the three estimators and the
per-example gradient formulas they rest on are one piece of arithmetic, checked
against autograd as one.)
"""
from __future__ import annotations

import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.pytorch_utils import Conv1D

from data_utils.errors import FuteError
from data_utils.features import make_loader
from data_utils.progress import progress
from task_emb.options import FIM_ESTIMATORS, micro_batch_size
from task_emb.surrogate import LearnOptions, TrainingSet, fit_surrogate, head_model, make_loss

logger = logging.getLogger(__name__)

PER_EXAMPLE_MODES: tuple[str, ...] = ("auto", "hooks", "loop")
OUTPUT_DTYPES = (np.float16, np.float32, np.float64)

Batch = dict[str, object]
LossFn = Callable[[Batch], torch.Tensor]

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


def learn(surrogate: str, training: TrainingSet, tokenizer, hp: dict, device, options: LearnOptions) -> np.ndarray:
    """Fine-tune the surrogate on the training set, then return the diagonal FIM of its loss over that set
    (`fim_embedding` with options.fim_estimator), flattened."""
    model = head_model(surrogate, training, tokenizer).to(device)
    fit_surrogate(model, training, tokenizer, hp, device, options, "fim")
    loss = make_loss(training.target, options.soft_label_loss)
    batches = make_loader(training.features, tokenizer, micro_batch_size(hp), shuffle=False)
    return fim_embedding(model, progress(batches, desc=f"fim ({options.fim_estimator})", unit="batches"),
                         lambda batch: loss(model, batch), estimator=options.fim_estimator, device=device)


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
            use_hooks = per_example != "loop" and _hooks_cover(model, params, strict=per_example == "hooks")
            batches = list(batches)  # a failed hook check restarts with the loop
            n = None
            if use_hooks:
                n = _sum_squares_hooks(model, batches, loss_fn, params, views, chunk_size)
            if n is None and per_example == "hooks":
                raise FuteError("per-example hooks do not fit this model; use per_example='loop' or 'auto'")
            if n is None:
                flat.zero_()
                n = _sum_squares_loop(batches, loss_fn, params, views)
            flat.div_(max(n, 1))
    if n == 0:
        raise FuteError("the FIM got no examples: the training data for the task embedding is empty")
    logger.info("FIM (%s) over %d examples: %d values, mean %.3e", estimator, n, flat.numel(), flat.mean().item())
    return _to_numpy(flat, dtype)


# ---------------------------------------------------------------------------
# Batch plumbing
# ---------------------------------------------------------------------------


def _batch_size(batch: Batch) -> int:
    tensor = batch.get("input_ids")
    if not isinstance(tensor, torch.Tensor):
        tensor = next((v for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() > 0), None)
    if tensor is None:
        raise FuteError(f"a FIM batch holds no tensor (keys {sorted(batch)}); batches must be dicts of tensors")
    return tensor.shape[0]


def _slice(batch: Batch, start: int, stop: int) -> Batch:
    size = _batch_size(batch)
    return {k: v[start:stop] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == size else v
            for k, v in batch.items()}


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


def _grads(loss: torch.Tensor, params: list[nn.Parameter]) -> list[torch.Tensor | None]:
    # autograd.grad, not backward: the model's own .grad stays untouched.
    return list(torch.autograd.grad(loss, params, allow_unused=True))


# ---------------------------------------------------------------------------
# The three estimators
# ---------------------------------------------------------------------------


def _sum_batch_gradients(batches: Iterable[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                         views: list[torch.Tensor], square: bool) -> int:
    """views += sum_b G_b^2 (square) or sum_b B_b G_b; returns N."""
    n = 0
    for batch in batches:
        size = _batch_size(batch)
        loss = loss_fn(batch)
        for view, grad in zip(views, _grads(loss if square else loss * size, params)):
            if grad is not None:
                view.add_(grad.square() if square else grad)
        n += size
    return n


def _sum_squares_loop(batches: Iterable[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                      views: list[torch.Tensor]) -> int:
    """views += sum_i g_i^2, one forward/backward per example; returns N."""
    n = 0
    for batch in batches:
        for i in range(_batch_size(batch)):
            for view, grad in zip(views, _grads(loss_fn(_slice(batch, i, i + 1)), params)):
                if grad is not None:
                    view.add_(grad.square())
            n += 1
    return n


class _NotPerExample(Exception):
    """A hooked layer saw an input without the batch on dimension 0."""


_HOOKED_TYPES = (nn.Linear, Conv1D, nn.Embedding, nn.LayerNorm)


def _supported(module: nn.Module) -> bool:
    if isinstance(module, nn.Embedding):
        return module.max_norm is None and not module.scale_grad_by_freq
    return isinstance(module, _HOOKED_TYPES)


def _hooks_cover(model: nn.Module, params: list[nn.Parameter], strict: bool) -> bool:
    """True when every FIM parameter is held only by layers whose per-example gradient we know."""
    wanted = {id(p) for p in params}
    covered: set[int] = set()
    foreign: list[str] = []
    for name, module in model.named_modules():
        own = [id(p) for p in module.parameters(recurse=False) if id(p) in wanted]
        if own and _supported(module):
            covered.update(own)
        elif own:
            foreign.append(f"{name} ({type(module).__name__})")
    uncovered = len(wanted - covered)
    if foreign or uncovered:
        message = f"per-example hooks cannot serve {foreign[:3] or f'{uncovered} parameters'}"
        if strict:
            raise FuteError(f"{message}; use per_example='loop' or 'auto'")
        logger.info("%s: the empirical FIM uses a per-example loop (exact, slower)", message)
        return False
    return True


@contextlib.contextmanager
def _recording(model: nn.Module, params: list[nn.Parameter], size: int, calls: list) -> Iterator[None]:
    """Record (module, input, output) of every call of a supported layer holding FIM parameters.

    An output broadcast over the batch (leading dimension 1, e.g. BERT's position
    embeddings) is expanded to `size` rows, so its gradient arrives per example.
    """
    wanted = {id(p) for p in params}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        x = inputs[0]
        if output.shape[0] == 1 and size > 1:
            output, x = output.expand(size, *output.shape[1:]), x.expand(size, *x.shape[1:])
        elif output.shape[0] != size or x.shape[0] != size:
            raise _NotPerExample(type(module).__name__)
        calls.append((module, x.detach(), output))
        return output

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if _supported(m) and any(id(p) in wanted for p in m.parameters(recurse=False))]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _per_example_terms(module: nn.Module, x: torch.Tensor, d: torch.Tensor, size: int, dtype: torch.dtype):
    """Yield (parameter, kind, value) for one call of `module`:
    "outer" -> (left, right), both [size, tokens, *], with g_i = left_i^T right_i (a weight
    matrix: formed later, a few examples at a time); "dense" -> g_i for all i as
    [size, *param.shape]; "rows" -> (keys, rows) with key = i * vocab + token, rows [K, dim]
    to scatter-add."""
    d = d.to(dtype)
    if isinstance(module, nn.Embedding):
        ids = x.reshape(size, -1)
        rows = d.reshape(size, -1, module.embedding_dim)
        keep = ids != module.padding_idx if module.padding_idx is not None else torch.ones_like(ids, dtype=torch.bool)
        keys = torch.arange(size, device=ids.device)[:, None] * module.num_embeddings + ids
        yield module.weight, "rows", (keys[keep], rows[keep])
        return
    if isinstance(module, nn.LayerNorm):
        shape = module.normalized_shape
        normed = F.layer_norm(x.to(dtype), shape, eps=module.eps).reshape(size, -1, *shape)
        d = d.reshape(size, -1, *shape)
        if module.weight is not None:
            yield module.weight, "dense", (d * normed).sum(1)
        if module.bias is not None:
            yield module.bias, "dense", d.sum(1)
        return
    a = x.to(dtype).reshape(size, -1, x.shape[-1])
    d = d.reshape(size, -1, d.shape[-1])
    # nn.Linear stores weight [out, in] (g_i = d_i^T a_i); GPT-2's Conv1D stores [in, out].
    yield module.weight, "outer", (d, a) if isinstance(module, nn.Linear) else (a, d)
    if module.bias is not None:
        yield module.bias, "dense", d.sum(1)


# The hooks are checked against autograd on a first chunk this small: the check costs a
# full backward of that chunk plus a comparison over every parameter.
_CHECKED_EXAMPLES = 4


def _chunks(batches: list[Batch], chunk_size: int, first: int) -> Iterator[Batch]:
    """Slices of at most chunk_size examples within each batch; the very first holds at most `first`."""
    limit = first
    for batch in batches:
        size, start = _batch_size(batch), 0
        while start < size:
            yield _slice(batch, start, min(start + limit, size))
            start, limit = start + limit, chunk_size


def _sum_squares_hooks(model: nn.Module, batches: list[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                       views: list[torch.Tensor], chunk_size: int) -> int | None:
    """views += sum_i g_i^2 from hooked batched passes; returns N, or None if the hooks
    turn out not to give per-example gradients (checked on the first chunk against autograd)."""
    index = {id(p): k for k, p in enumerate(params)}
    scratch = _Scratch(views[0].device, views[0].dtype)
    n, checked = 0, False
    for chunk in _chunks(batches, chunk_size, first=min(chunk_size, _CHECKED_EXAMPLES)):
        size = _batch_size(chunk)
        calls: list = []
        try:
            with _recording(model, params, size, calls):
                total = loss_fn(chunk) * size  # sum of the per-example losses
        except _NotPerExample as err:
            logger.info("layer %s is shared across the batch: falling back to a per-example loop", err)
            return None
        outputs = [out for _, _, out in calls]
        grads_out = torch.autograd.grad(total, outputs, allow_unused=True, retain_graph=not checked)
        # A parameter is squared once all calls that use it are in (sum over calls
        # first: T5-style shared weights), then its per-example terms are freed.
        remaining = Counter(id(p) for module, _, _ in calls for p in module.parameters(recurse=False))
        pending: dict[int, list] = defaultdict(list)
        sums: dict[int, torch.Tensor | None] = {}
        with torch.no_grad():
            for (module, x, _), d in zip(calls, grads_out):
                if d is not None:
                    for param, kind, value in _per_example_terms(module, x, d, size, views[0].dtype):
                        if id(param) in index:
                            pending[id(param)].append((kind, value))
                for param in module.parameters(recurse=False):
                    remaining[id(param)] -= 1
                    if remaining[id(param)] == 0 and pending.get(id(param)):
                        k = index[id(param)]
                        sums[k] = _add_squares(views[k], params[k], size, pending.pop(id(param)),
                                               want_sum=not checked, scratch=scratch)
        del calls, outputs, grads_out
        if not checked:
            if not _matches_autograd(total, params, sums):
                logger.warning("per-example hooks disagree with autograd: falling back to a per-example loop")
                return None
            checked = True
        n += size
    return n


def _add_squares(view: torch.Tensor, param: nn.Parameter, size: int, terms: list, want_sum: bool,
                 scratch: _Scratch):
    """view += sum_i (sum of this parameter's per-example terms)^2; returns sum_i g_i if want_sum."""
    if all(kind == "outer" for kind, _ in terms):  # a weight matrix: the common case
        lefts, rights = zip(*(value for _, value in terms))
        if len(terms) > 1:  # calls sharing the weight: their tokens side by side, one sum over all
            lefts, rights = [torch.cat(lefts, 1)], [torch.cat(rights, 1)]
        return _add_outer_squares(view, lefts[0], rights[0], want_sum, scratch)
    # A weight tied to an embedding: every term in per-example form, summed, then squared.
    dense = [torch.einsum("bto,bti->boi", *value) if kind == "outer" else value
             for kind, value in terms if kind != "rows"]
    rows = [value for kind, value in terms if kind == "rows"]
    if rows:
        keys = torch.cat([k for k, _ in rows])
        values = torch.cat([r for _, r in rows])
        vocab = param.shape[0]
    if dense:
        g = torch.stack(dense).sum(0) if len(dense) > 1 else dense[0]
        if rows:  # an embedding matrix also used as a dense weight (a tied head)
            g = g.reshape(size * vocab, -1).index_add(0, keys, values).view(size, *param.shape)
        total = g.sum(0) if want_sum else None
        view.add_(g.square_().sum(0))  # in place: g is [size, *shape], the largest tensor of the pass
        return total
    unique, inverse = torch.unique(keys, return_inverse=True)
    per_example_rows = values.new_zeros(len(unique), values.shape[1]).index_add_(0, inverse, values)
    view.index_add_(0, unique % vocab, per_example_rows.square())
    return torch.zeros_like(view).index_add_(0, keys % vocab, values) if want_sum else None


def _add_outer_squares(view: torch.Tensor, left: torch.Tensor, right: torch.Tensor, want_sum: bool,
                       scratch: _Scratch):
    """view += sum_i (left_i^T right_i)^2, a group of examples at a time; returns sum_i g_i if want_sum.

    Forming all [size, *shape] gradients at once (one einsum) writes and re-reads them
    through main memory: on a CPU that cost 5x the products themselves. A group is
    sized to stay in cache (one example of a large matrix) and written into one reused
    buffer; on a GPU a group is the whole chunk. A group smaller than the chunk skips
    the token positions outside its span of non-zero terms: padding, whose output
    gradient is exactly zero, costs nothing (dropping zero terms changes no value). A
    whole chunk spans its longest example anyway, and finding spans would cost a GPU
    a synchronisation per parameter.
    """
    size, per_example = left.shape[0], view.numel()
    group = max(1, min(size, scratch.elements // per_example))
    buffer = scratch.get(group * per_example)
    left_t = left.transpose(1, 2)
    spans = _token_spans(left, right, group) if group < size else [(0, left.shape[1])]
    total = torch.zeros_like(view) if want_sum else None
    for start, (first, stop_token) in zip(range(0, size, group), spans):
        if first == stop_token:  # no token of the group reaches the loss: g = 0
            continue
        stop = min(start + group, size)
        g = buffer[:(stop - start) * per_example].view(stop - start, *view.shape)
        torch.bmm(left_t[start:stop, :, first:stop_token], right[start:stop, first:stop_token], out=g)
        if total is not None:
            total.add_(g.sum(0))
        if stop - start == 1:
            view.addcmul_(g[0], g[0])
        else:
            view.add_(g.square_().sum(0))
    return total


def _token_spans(left: torch.Tensor, right: torch.Tensor, group: int) -> list[tuple[int, int]]:
    """Per group of `group` examples, [first, stop) of the token positions where both factors
    are non-zero in some example of the group ((0, 0) when there is none)."""
    used = (left.abs().amax(-1) > 0) & (right.abs().amax(-1) > 0)  # [size, tokens]
    size, tokens = used.shape
    pad = -size % group
    if pad:
        used = torch.cat([used, used.new_zeros(pad, tokens)])
    used = used.view(-1, group, tokens).any(1)  # [groups, tokens]
    any_used = used.any(1)
    first = used.int().argmax(1)
    stop = tokens - used.flip(1).int().argmax(1)
    return [(f, e) if a else (0, 0) for f, e, a in zip(first.tolist(), stop.tolist(), any_used.tolist())]


class _Scratch:
    """One flat buffer reused for every layer's per-example gradients (no allocation per
    layer and chunk); `elements` is the size a group of examples aims for: a CPU cache's
    worth, or a slice of a GPU's memory."""

    CPU_GROUP_BYTES = 4 * 2**20  # the L2/L3 of one core: one example of a 1536 x 384 matrix is 2.25 MiB
    GPU_GROUP_BYTES = 256 * 2**20

    def __init__(self, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        group_bytes = self.GPU_GROUP_BYTES if device.type == "cuda" else self.CPU_GROUP_BYTES
        self.elements = group_bytes // torch.tensor([], dtype=dtype).element_size()
        self.buffer = torch.empty(0, device=device, dtype=dtype)

    def get(self, elements: int) -> torch.Tensor:
        if self.buffer.numel() < elements:
            self.buffer = torch.empty(elements, device=self.device, dtype=self.dtype)
        return self.buffer[:elements]


def _matches_autograd(total: torch.Tensor, params: list[nn.Parameter], sums: dict[int, torch.Tensor]) -> bool:
    """sum_i g_i from the hooks must equal autograd's gradient of the summed loss.

    Per parameter, the largest difference may be 1e-3 of that parameter's largest
    gradient entry, plus 1e-6 of the largest entry of all parameters: some gradients
    are zero in theory (attention key biases) and pure rounding noise here. A hook
    that misses or misplaces a term is off by the size of that term. (Element-wise
    allclose over every parameter cost MiniLM's check 0.25 s; maxima cost a pass each.)
    """
    largest, off = [], []
    for k, (grad, param) in enumerate(zip(_grads(total, params), params)):
        mine = sums.get(k)
        if grad is None and mine is None:
            continue
        grad = torch.zeros((), dtype=param.dtype, device=param.device) if grad is None else grad
        diff = grad if mine is None else mine.to(grad.dtype) - grad
        largest.append(grad.abs().amax())
        off.append(diff.abs().amax())
    largest, off = torch.stack(largest), torch.stack(off)
    return bool((off <= 1e-3 * largest + 1e-6 * largest.max()).all())
