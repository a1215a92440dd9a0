"""The one place that knows how the installed transformers hands over caches and reports loads.

Both model-using packages go through here (prefix injection in `task_emb`, incremental
decoding in `llm_inference`), so a transformers release that renames an argument is met
in one file. Every decision is made once per model class, from the forward's signature,
never by catching errors on each call.

The key/value cache keyword. transformers up to about 5.20 takes a cache as
`forward(past_key_values=...)` and returns it as `output.past_key_values`; later
releases call both `cache` and keep the old names only as deprecated aliases (a
FutureWarning per call, removal announced for 5.40). `cache_keyword(module)` names the
keyword the module's forward accepts and `returned_cache(output)` reads the returned
cache under whichever field the output class has.

Load reports. transformers prints a table ("LOAD REPORT") whenever a checkpoint's
weights and the model's differ. Loading a backbone into a model with a new task head
(fine-tuning, transfer, a surrogate) always differs in the head, so `load_pretrained`
logs one INFO line for that case and keeps transformers' table only when a weight
outside the head is missing, the case that signals a real problem.
"""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any

from torch import nn

from data_utils.errors import FuteError

logger = logging.getLogger(__name__)

CACHE_KEYWORDS = ("cache", "past_key_values")  # newest first


@functools.cache
def _named_cache_keyword(cls: type) -> str | None:
    """The cache keyword named in `cls.forward`'s signature, or None."""
    parameters = inspect.signature(cls.forward).parameters
    return next((name for name in CACHE_KEYWORDS if name in parameters), None)


def cache_keyword(module: nn.Module) -> str:
    """The keyword under which `module.forward` takes a key/value cache: "cache" or "past_key_values".

    A task-head class whose forward only has `**kwargs` (BertForSequenceClassification)
    is answered by its backbone (`module.base_model`), which names the keyword.
    Raises FuteError when neither names one: the module cannot take a cache.
    """
    keyword = _named_cache_keyword(type(module))
    base = getattr(module, "base_model", module)
    if keyword is None and base is not module:
        keyword = _named_cache_keyword(type(base))
    if keyword is None:
        raise FuteError(f"{type(module).__name__}.forward takes no key/value cache (no argument named "
                        f"{' or '.join(CACHE_KEYWORDS)}); use a model whose attention accepts one")
    return keyword


@functools.cache
def _output_cache_field(cls: type) -> str | None:
    names = {field.name for field in fields(cls)} if is_dataclass(cls) else set()
    return next((name for name in CACHE_KEYWORDS if name in names), None)


def returned_cache(output: Any) -> Any:
    """The key/value cache a forward returned, from its `cache` or `past_key_values` field.

    Reading the field the output class declares avoids the deprecated alias property.
    Returns None when the model returned no cache.
    """
    name = _output_cache_field(type(output)) or next(
        (name for name in CACHE_KEYWORDS if name in getattr(output, "__dict__", {})), None)
    return getattr(output, name) if name else None


# ----------------------------------------------------------------------------- loading

def backbone_modules(model: nn.Module) -> list[nn.Module]:
    """The modules that hold the pretrained backbone of a task model, i.e. everything but its head.

    Normally `model.base_model`. T5ForQuestionAnswering holds shared/encoder/decoder
    itself (its base_model is the model), so there the backbone is the input
    embeddings, the encoder and the decoder.
    """
    if model.base_model is not model:
        return [model.base_model]
    return [model.get_input_embeddings(), model.get_encoder(), model.get_decoder()]


def head_parameter_names(model: nn.Module) -> set[str]:
    """Names (as in `model.state_dict()`) of the task head's parameters, for the load report.

    The head is what lies outside `backbone_modules(model)`, plus the backbone's pooler
    where it has one: checkpoints of masked-LM models carry none, and a new pooler is
    initialised for a classifier just like the classifier itself.
    """
    backbone = {id(param) for part in backbone_modules(model) for param in part.parameters()}
    pooler = getattr(model.base_model, "pooler", None)
    if isinstance(pooler, nn.Module):
        backbone -= {id(param) for param in pooler.parameters()}
    return {name for name, param in model.named_parameters(remove_duplicate=False) if id(param) not in backbone}


class _HoldLoadReports(logging.Filter):
    """Keeps transformers' LOAD REPORT records back so the caller can decide whether to emit them."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in str(record.msg):
            self.held.append(record)
            return False
        return True


def _hf_loggers() -> list[logging.Logger]:
    return [logging.getLogger(name) for name in ("transformers.modeling_utils", "transformers.utils.loading_report")]


def load_pretrained(auto_class: Any, source: str, **kwargs: Any) -> nn.Module:
    """`auto_class.from_pretrained(source, **kwargs)`, with the load report reduced to what matters.

    New head weights (MISSING), re-initialised head weights of another shape
    (MISMATCH, with `ignore_mismatched_sizes`) and checkpoint weights the model has
    no place for (UNEXPECTED: an MLM head, a dropped pooler) give one INFO line.
    A missing weight outside the task head gives transformers' own table, as a
    warning. Errors propagate unchanged, after any held report is emitted.
    """
    hold = _HoldLoadReports()
    loggers = _hf_loggers()
    for hf_logger in loggers:
        hf_logger.addFilter(hold)
    try:
        model, info = auto_class.from_pretrained(source, output_loading_info=True, **kwargs)
    except BaseException:
        _release(hold, loggers)
        _emit(hold.held)
        raise
    _release(hold, loggers)
    missing = set(info.get("missing_keys") or ())
    mismatched = {key for key, *_ in info.get("mismatched_keys") or ()}
    unexpected = set(info.get("unexpected_keys") or ())
    outside_head = missing - head_parameter_names(model)
    if outside_head:
        logger.warning("%s: %d weight(s) outside the task head are missing from the checkpoint and were "
                       "initialised at random: %s", source, len(outside_head), _short(outside_head))
        _emit(hold.held)
    elif missing | mismatched | unexpected:
        parts = []
        if missing | mismatched:
            parts.append(f"initialised new head weights {_short(missing | mismatched)}")
        if unexpected:
            parts.append(f"dropped checkpoint weights {type(model).__name__} has no place for: "
                         f"{_short(unexpected)}")
        logger.info("%s: %s", source, "; ".join(parts))
    return model


def _release(hold: logging.Filter, loggers: Iterable[logging.Logger]) -> None:
    for hf_logger in loggers:
        hf_logger.removeFilter(hold)


def _emit(records: Iterable[logging.LogRecord]) -> None:
    for record in records:
        logging.getLogger(record.name).handle(record)


def _short(names: Iterable[str], limit: int = 6) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown}, ... ({len(ordered)} in all)"
