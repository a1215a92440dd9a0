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

Loading checkpoints. `load_pretrained` makes sure that every backbone weight comes from
the checkpoint; transformers only warns (a "LOAD REPORT" table) and initialises what it
did not find at random. Two things differ between a checkpoint and a model built for
another task:
- the task head: new (or re-initialised for its shape) when a model gets a task the
  checkpoint was not trained for. That is expected: one INFO line replaces the table.
- the backbone's attribute name. transformers 5 keeps old names for some head classes:
  LlamaForQuestionAnswering, Qwen2/Qwen3ForQuestionAnswering and others hold the
  backbone as `transformer`, their *ForCausalLM and *ForSequenceClassification as
  `model`, so none of a causal-LM checkpoint's `model.*` weights would reach a QA model
  (and none of a fine-tuned QA model's `transformer.*` weights a classifier). When most
  of the backbone weights the model lacks are among the checkpoint's unused ones under
  another first name, the checkpoint is loaded again with
  `from_pretrained(key_mapping=...)`, which renames that first name to the model's.
Any backbone weight still not loaded is a FuteError naming the model and the weights.

Input length. `position_limit(config)` is the most tokens an input of the model may hold
(its position table's size), so that a --max_len beyond it is refused before any run
rather than an index error deep in the model.
"""
from __future__ import annotations

import functools
import inspect
import logging
import re
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


# ----------------------------------------------------------------------------- input length

def position_limit(config: Any) -> int | None:
    """The most tokens one input of `config`'s model may hold; None when the config declares no limit (T5's
    relative positions).

    That is `max_position_embeddings` (GPT-2's n_positions), less the rows a position table
    skips: RoBERTa and its kin number positions from pad_token_id + 1, so roberta-base's 514
    rows take 512 tokens. The skip is read from the model built on the meta device (no
    weights, no memory): a table of max_position_embeddings rows with a padding row.
    """
    limit = getattr(config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return None
    import torch
    from transformers import AutoModel

    try:
        with torch.device("meta"):
            model = AutoModel.from_config(config)
    except Exception:  # noqa: BLE001 - a config transformers cannot build bare (no AutoModel entry, ...): its limit
        return limit
    words = model.get_input_embeddings()
    for module in model.modules():
        if (isinstance(module, nn.Embedding) and module is not words and module.num_embeddings == limit
                and module.padding_idx is not None):
            return limit - module.padding_idx - 1
    return limit


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


def load_pretrained(auto_class: Any, source: str, new_head: bool = True, **kwargs: Any) -> nn.Module:
    """`auto_class.from_pretrained(source, **kwargs)`, with every backbone weight loaded from the checkpoint.

    new_head: the model's head may be new (fine-tuning, transfer, a surrogate): its missing
    or re-initialised weights, and checkpoint weights the model has no place for (an MLM
    head, an LM head), give one INFO line. With new_head False (an LLM, whose LM head
    must be the checkpoint's) every weight must load.
    A checkpoint whose backbone goes by another first name is loaded again under the
    model's (module docstring; only such checkpoints pay for a second load).
    Raises FuteError when a backbone weight (or, with new_head False, any weight) is still
    missing or had to be re-initialised for its shape. Errors of from_pretrained
    propagate unchanged, after its held report is emitted.
    """
    model, info = _from_pretrained(auto_class, source, **kwargs)
    report = _LoadReport(model, info)
    renaming = _backbone_renaming(model, report)
    if renaming is not None:
        name, prefix = renaming
        logger.info("%s holds the backbone as %r, %s as %r: loading it again under that name", source, name,
                    type(model).__name__, prefix.rstrip(".") or "its top level")
        del model, info  # never two copies in memory
        model, info = _from_pretrained(auto_class, source, key_mapping={rf"^{re.escape(name)}\.": prefix}, **kwargs)
        report = _LoadReport(model, info)
    lost = report.backbone_lost if new_head else report.missing | report.mismatched
    if lost:
        what = "backbone weight(s)" if new_head else "weight(s)"
        raise FuteError(f"{source}: {len(lost)} {what} of {type(model).__name__} are not in the checkpoint or do "
                        f"not fit it, so they would start from random values: {_short(lost)}; check that "
                        f"{source} is a complete {model.config.model_type} checkpoint whose config matches its "
                        f"weights")
    report.log(source, type(model).__name__)
    return model


class _LoadReport:
    """What `from_pretrained(output_loading_info=True)` said, split into head and backbone weights."""

    def __init__(self, model: nn.Module, info: dict) -> None:
        self.missing = set(info.get("missing_keys") or ())
        self.mismatched = {key for key, *_ in info.get("mismatched_keys") or ()}
        self.unexpected = set(info.get("unexpected_keys") or ())
        self.backbone_lost = (self.missing | self.mismatched) - head_parameter_names(model)

    def log(self, source: str, model_name: str) -> None:
        parts = []
        if self.missing | self.mismatched:
            parts.append(f"initialised new head weights {_short(self.missing | self.mismatched)}")
        if self.unexpected:
            parts.append(f"dropped checkpoint weights {model_name} has no place for: {_short(self.unexpected)}")
        if parts:
            logger.info("%s: %s", source, "; ".join(parts))


def _backbone_renaming(model: nn.Module, report: _LoadReport) -> tuple[str, str] | None:
    """(a first name of the checkpoint's unused weights, the model's backbone prefix) when, renamed, they
    are most of the missing backbone weights (a checkpoint that also lacks a weight is renamed first,
    then reported for that weight alone); else None."""
    missing = report.backbone_lost & report.missing
    prefix = f"{model.base_model_prefix}." if model.base_model is not model else ""
    renamed: dict[str, set[str]] = {}
    for key in report.unexpected:
        first, _, rest = key.partition(".")
        renamed.setdefault(first, set()).add(prefix + rest)
    found = {first: len(missing & keys) for first, keys in renamed.items()}
    best = max(found, key=found.get, default=None)
    return None if best is None or 2 * found[best] <= len(missing) else (best, prefix)


def _from_pretrained(auto_class: Any, source: str, **kwargs: Any) -> tuple[nn.Module, dict]:
    """(model, loading info), with transformers' LOAD REPORT held back: `load_pretrained` reports instead."""
    hold = _HoldLoadReports()
    loggers = _hf_loggers()
    for hf_logger in loggers:
        hf_logger.addFilter(hold)
    try:
        loaded = auto_class.from_pretrained(source, output_loading_info=True, **kwargs)
    except BaseException:
        _release(hold, loggers)  # before emitting: the filter would hold the records again
        _emit(hold.held)
        raise
    _release(hold, loggers)
    return loaded


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
