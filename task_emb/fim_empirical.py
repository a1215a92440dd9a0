"""The empirical FIM's per-example squared gradients: sum_i g_i^2 over a dataset (task_emb/fim.py).

g_i is the gradient of example i's loss, `loss_fn` on a one-example slice of its batch.
`sum_squares` takes them from one batched forward/backward per chunk of examples where
every layer holding a FIM parameter is supported, else from a loop over examples.

The hooked pass: forward hooks keep each layer's input, autograd gives the gradient at each
layer's output, and g_i per layer follows in closed form (Linear: d_i^T a_i; Embedding: d_i
scattered to token rows; LayerNorm: sum_t d_i * normalised input). The products d_i^T a_i
replace the weight gradients that a plain backward forms, with the same arithmetic, so the
extra cost is small (MiniLM on one CPU thread: about 1.2x the `reference` estimator,
benchmarks/README.md) as long as they are not all written out at once (see
`_add_outer_squares`). The first chunk is checked against autograd. `torch.func.vmap` was
the first choice but cannot run through transformers 5's attention-mask code
(`padding_mask.all()` is data-dependent control flow). Models with other layers holding FIM
parameters (T5's RMS norm and relative position bias, Llama's RMS norm) use the loop: exact,
slower.
"""
from __future__ import annotations

import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from transformers.pytorch_utils import Conv1D

from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

# How per-example gradients are taken: hooks where every FIM layer is supported ("auto"), hooks or an error
# ("hooks"), or a loop over examples ("loop").
PER_EXAMPLE_MODES: tuple[str, ...] = ("auto", "hooks", "loop")

Batch = dict[str, object]
LossFn = Callable[[Batch], torch.Tensor]


def sum_squares(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                views: list[torch.Tensor], chunk_size: int, mode: str) -> int:
    """views[k] += sum_i (g_i of params[k])^2 over every example of `batches`; returns N, the number of examples.

    views: zeroed accumulators shaped as `params`; chunk_size: examples per hooked forward/backward (the first
    holds at most 4); mode: one of PER_EXAMPLE_MODES (FuteError when "hooks" cannot serve the model)."""
    use_hooks = mode != "loop" and _hooks_cover(model, params, strict=mode == "hooks")
    batches = list(batches)  # a failed hook check restarts with the loop
    n = _sum_squares_hooks(model, batches, loss_fn, params, views, chunk_size) if use_hooks else None
    if n is None and mode == "hooks":
        raise FuteError("per-example hooks do not fit this model; use per_example='loop' or 'auto'")
    if n is None:
        for view in views:
            view.zero_()
        n = _sum_squares_loop(batches, loss_fn, params, views)
    return n


def batch_size(batch: Batch) -> int:
    """The number of examples in a batch: the leading dimension of its input_ids (or of its first tensor)."""
    tensor = batch.get("input_ids")
    if not isinstance(tensor, torch.Tensor):
        tensor = next((v for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() > 0), None)
    if tensor is None:
        raise FuteError(f"a FIM batch holds no tensor (keys {sorted(batch)}); batches must be dicts of tensors")
    return tensor.shape[0]


def slice_batch(batch: Batch, start: int, stop: int) -> Batch:
    """Examples [start, stop) of a batch; values not batched along dimension 0 are passed unchanged."""
    size = batch_size(batch)
    return {k: v[start:stop] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == size else v
            for k, v in batch.items()}


def grads(loss: torch.Tensor, params: list[nn.Parameter]) -> list[torch.Tensor | None]:
    """d loss / d param for each of `params` (None where unused), by autograd.grad, not backward: the model's own
    .grad stays untouched."""
    return list(torch.autograd.grad(loss, params, allow_unused=True))


def _sum_squares_loop(batches: Iterable[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                      views: list[torch.Tensor]) -> int:
    """views += sum_i g_i^2, one forward/backward per example; returns N."""
    n = 0
    for batch in batches:
        for i in range(batch_size(batch)):
            for view, grad in zip(views, grads(loss_fn(slice_batch(batch, i, i + 1)), params)):
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
        size, start = batch_size(batch), 0
        while start < size:
            yield slice_batch(batch, start, min(start + limit, size))
            start, limit = start + limit, chunk_size


def _sum_squares_hooks(model: nn.Module, batches: list[Batch], loss_fn: LossFn, params: list[nn.Parameter],
                       views: list[torch.Tensor], chunk_size: int) -> int | None:
    """views += sum_i g_i^2 from hooked batched passes; returns N, or None if the hooks
    turn out not to give per-example gradients (checked on the first chunk against autograd)."""
    index = {id(p): k for k, p in enumerate(params)}
    scratch = _Scratch(views[0].device, views[0].dtype)
    n, checked = 0, False
    for chunk in _chunks(batches, chunk_size, first=min(chunk_size, _CHECKED_EXAMPLES)):
        size = batch_size(chunk)
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
    for k, (grad, param) in enumerate(zip(grads(total, params), params)):
        mine = sums.get(k)
        if grad is None and mine is None:
            continue
        grad = torch.zeros((), dtype=param.dtype, device=param.device) if grad is None else grad
        diff = grad if mine is None else mine.to(grad.dtype) - grad
        largest.append(grad.abs().amax())
        off.append(diff.abs().amax())
    largest, off = torch.stack(largest), torch.stack(off)
    return bool((off <= 1e-3 * largest + 1e-6 * largest.max()).all())
