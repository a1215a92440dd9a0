"""Prefix-tuning task embeddings (TuPaTE-style) on a frozen surrogate model.

Every attention layer l gets learned key/value prefixes of length P = 16; the
task embedding is their mean over layers, flattened:

    prefix     : [num_layers, num_slots, num_heads, P, head_dim]   (one nn.Parameter)
    embedding  = prefix.mean(dim=0).reshape(-1)                    length num_slots*num_heads*P*head_dim
                 (t5-base: 4 x 12 x 16 x 64 = 49,152)

Slots: 2 = (self-attention key, value) for BERT-like encoders and GPT-2/Llama-like
decoders; 4 = (self key, self value, cross key, cross value) for T5, whose prefixes
go into the decoder only (the reference's layout).

`PrefixEncoder` owns only the parameters and builds a transformers Cache from them;
`PrefixTaskModel` wraps (never copies) a task model, freezes its backbone and feeds
a fresh Cache to every forward: a Cache is mutated in place by the forward that
uses it (each layer appends its own keys/values), so reusing one would grow it.

The cache goes to the backbone (`model.base_model`) through a forward pre-hook, under
the keyword the installed transformers names it (`modeling.hf_compat`), not through
the task head's forward: some heads accept extra arguments and drop them
(transformers 5.0's GPT2ForQuestionAnswering and T5ForSequenceClassification), which
would train a prefix that the model never reads. After every forward the cache must
have grown by the input's tokens, the proof that the attention layers read it;
otherwise FuteError.

How each family receives the prefix (transformers 5):
- BERT-like (bert, roberta, ...): `BertSelfAttention` calls `past_key_values.update`
  whenever a cache is given, also when `is_decoder` is False (only `use_cache` is
  forced off, which merely stops the model from returning the cache), so a
  `DynamicCache` holding the prefixes makes every layer attend to [prefix ; tokens].
  DistilBERT's forward takes no cache: refused with that reason.
- Decoders (GPT-2, Llama, Mistral/Mixtral, Qwen2/Qwen3, ...): a `DynamicCache`; the causal
  mask lets every token see the whole prefix. Prefixes have `num_key_value_heads` heads
  where the model uses grouped-query attention, of `config.head_dim` where set.
- T5: an `EncoderDecoderCache`. A non-empty cross-attention cache marks the layer
  as "updated" and T5 then uses the cached keys/values *instead of* projecting the
  encoder states, so a cache holding the prefix alone would cut the decoder off from
  the input. We therefore project the encoder states with each decoder layer's own
  `EncDecAttention.k`/`.v` and cache [prefix ; encoder keys/values].

Positions (kept from the reference, whose models were fed `past_key_values`): the
model counts the prefix as past tokens, so the input's positions start at P = 16
(BERT/GPT-2 absolute position ids, Llama rotary positions, T5 decoder relative
bias). With absolute position embeddings an input may thus hold at most
`max_position_embeddings - 16` tokens (the reference's `512 - 16` LLM-mode limit);
longer inputs raise FuteError instead of an index error deep in the model.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from transformers import Cache, DynamicCache, EncoderDecoderCache, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import Seq2SeqQuestionAnsweringModelOutput

from configs.hparams import PREFIX
from data_utils.errors import FuteError
from modeling.hf_compat import backbone_modules, cache_keyword
from task_emb.families import LearnReport
from task_emb.surrogate import LearnOptions, TrainingSet, fit_surrogate, head_model

logger = logging.getLogger(__name__)

# T5 is the one encoder-decoder family whose decoder takes the prefix (4 slots; module docstring).
# Every other model takes it as the key/value cache of its backbone's self-attention, which
# is checked on the model itself (its forward must name a cache; the cache must grow).
T5_TYPES = frozenset({"t5", "mt5"})
# Tested as surrogates (tests/test_prefix.py); others that pass the checks work the same way.
TESTED_TYPES = ("bert", "gpt2", "llama", "qwen3", "t5")


class PrefixShape(NamedTuple):
    num_layers: int
    num_slots: int
    num_heads: int
    head_dim: int


def prefix_shapes(config: PretrainedConfig) -> PrefixShape:
    """(num_layers, num_slots, num_heads, head_dim) of the prefixes for a surrogate's config.

    T5: decoder layers, 4 slots, `num_heads` heads of `d_kv`. Others: 2 slots;
    key/value heads = `num_key_value_heads` where the model has grouped-query
    attention (Llama, Mistral, Mixtral), else `num_attention_heads`; head_dim =
    `config.head_dim` where set, else hidden_size / num_attention_heads.
    (`num_hidden_layers`, `num_attention_heads` and `hidden_size` are mapped by
    transformers onto GPT-2's and DistilBERT's own names.)
    """
    model_type = config.model_type
    if model_type in T5_TYPES:
        return PrefixShape(config.num_decoder_layers, 4, config.num_heads, config.d_kv)
    if getattr(config, "is_encoder_decoder", False):
        raise FuteError(f"prefix task embeddings support one encoder-decoder family, T5, not model_type "
                        f"{model_type!r}; use a T5 or a decoder/encoder surrogate (e.g. --task_emb_model_lm_name "
                        f"t5-base)")
    missing = [name for name in ("num_hidden_layers", "num_attention_heads", "hidden_size")
               if getattr(config, name, None) is None]
    if missing:
        raise FuteError(f"model_type {model_type!r} has no attention layout in its config (no {', '.join(missing)}); "
                        f"prefix task embeddings need a transformer surrogate such as t5-base")
    num_heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or num_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // num_heads
    return PrefixShape(config.num_hidden_layers, 2, kv_heads, head_dim)


class PrefixEncoder(nn.Module):
    """The learned prefixes of every layer, and the Cache built from them.

    Parameter `prefix`: [num_layers, num_slots, num_heads, prefix_len, head_dim].
    Initialisation: for each layer, xavier-uniform on its [num_slots, num_heads,
    prefix_len, head_dim] block (the reference's per-layer tensor), i.e. uniform on
    [-a, a] with a = sqrt(6 / ((num_slots + num_heads) * prefix_len * head_dim)),
    drawn from a private `torch.Generator` seeded with `seed`: the same seed and
    shape give bit-identical prefixes whatever the global RNG state, so embeddings
    of different tasks start from the same point and stay comparable.
    """

    def __init__(
        self, shape: PrefixShape, prefix_len: int = PREFIX["prefix_len"], seed: int = 42,
        dropout: float = PREFIX["dropout"]
    ) -> None:
        super().__init__()
        self.shape = PrefixShape(*shape)
        self.prefix_len = prefix_len
        layers, slots, heads, head_dim = self.shape
        generator = torch.Generator().manual_seed(seed)
        init = torch.empty(layers, slots, heads, prefix_len, head_dim)
        for layer in range(layers):
            nn.init.xavier_uniform_(init[layer], generator=generator)
        self.prefix = nn.Parameter(init)
        self.dropout = nn.Dropout(dropout)

    def embedding(self) -> np.ndarray:
        """Mean over layers, flattened: float32, length num_slots*num_heads*prefix_len*head_dim."""
        return self.prefix.detach().mean(dim=0).reshape(-1).cpu().float().numpy()

    def _layer_slots(self, batch_size: int) -> list[torch.Tensor]:
        """Per layer, [batch, num_slots, num_heads, prefix_len, head_dim] after dropout.

        Dropout acts on the batch-expanded copy, so each example gets its own mask
        (the reference's order).
        """
        prefix = self.prefix.unsqueeze(1).expand(-1, batch_size, -1, -1, -1, -1)
        return [self.dropout(layer) for layer in prefix]

    def build_cache(
        self, batch_size: int, cross_attention_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    ) -> Cache:
        """A fresh Cache holding the prefixes for a batch (build one per forward).

        2 slots: a DynamicCache whose layer l holds keys/values
        [batch, num_heads, prefix_len, head_dim].
        4 slots (T5): an EncoderDecoderCache; `cross_attention_kv` must give, per
        decoder layer, the encoder states' (keys, values) [batch, num_heads,
        enc_len, head_dim], and the cross-attention cache holds [prefix ; those],
        [batch, num_heads, prefix_len + enc_len, head_dim].
        """
        layers = self._layer_slots(batch_size)
        self_cache = DynamicCache()
        for idx, slots in enumerate(layers):
            self_cache.update(slots[:, 0], slots[:, 1], idx)
        if self.shape.num_slots == 2:
            return self_cache
        if cross_attention_kv is None or len(cross_attention_kv) != len(layers):
            raise ValueError("a 4-slot (T5) prefix cache needs the encoder keys/values of every decoder layer")
        cross_cache = DynamicCache()
        for idx, (slots, (enc_keys, enc_values)) in enumerate(zip(layers, cross_attention_kv)):
            keys = torch.cat([slots[:, 2].to(enc_keys.dtype), enc_keys], dim=2)
            values = torch.cat([slots[:, 3].to(enc_values.dtype), enc_values], dim=2)
            cross_cache.update(keys, values, idx)
        # The constructor marks every non-empty cross layer as "updated": T5 then reads it as is.
        return EncoderDecoderCache(self_cache, cross_cache)


def initial_embedding(surrogate: str, seed: int, revision: str | None = None) -> np.ndarray:
    """e0: the embedding every prefix run with `seed` on `surrogate` (a hub id, at `revision`, or a folder)
    starts from. It depends on the surrogate's config alone."""
    from transformers import AutoConfig

    return PrefixEncoder(prefix_shapes(AutoConfig.from_pretrained(surrogate, revision=revision)), seed=seed).embedding()


def displacement_from_init(encoder: PrefixEncoder, seed: int) -> dict[str, float]:
    """How far the embedding e moved from e0, the embedding of a fresh encoder with the same seed
    and shape (every run with that seed and surrogate starts from it):
    relative_displacement = ||e - e0|| / ||e0||, cosine_to_init = cos(e, e0)."""
    e = encoder.embedding().astype(np.float64)
    e0 = PrefixEncoder(encoder.shape, encoder.prefix_len, seed).embedding().astype(np.float64)
    norm_e0 = np.linalg.norm(e0)
    return {"relative_displacement": float(np.linalg.norm(e - e0) / norm_e0),
            "cosine_to_init": float(e @ e0 / (np.linalg.norm(e) * norm_e0))}


def learn(surrogate: str, training: TrainingSet, tokenizer, hp: dict, device, options: LearnOptions) -> LearnReport:
    """Train the prefixes (and the head) on the frozen surrogate (task_emb.families.Learn): the embedding
    (1-D float32) with how far it moved from e0 (`displacement_from_init`) among its diagnostics, which
    task_emb/undertraining.py reads: an embedding that barely moved mostly measures the shared start e0."""
    model = PrefixTaskModel(head_model(surrogate, training, tokenizer), prefix_len=PREFIX["prefix_len"],
                            seed=options.seed, dropout=PREFIX["dropout"]).to(device)
    fit = fit_surrogate(model, training, tokenizer, hp, device, options, "prefix")
    return LearnReport(model.embedding().astype(np.float32), fit,
                       displacement_from_init(model.prefix_encoder, options.seed))


@contextlib.contextmanager
def _cache_fed_to(module: nn.Module, cache: Cache) -> Iterator[None]:
    """Within the block, every forward of `module` receives `cache` under its own keyword."""
    keyword = cache_keyword(module)

    def add_cache(_module, args, kwargs):
        return args, {**kwargs, keyword: cache}

    handle = module.register_forward_pre_hook(add_cache, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


class PrefixTaskModel(nn.Module):
    """A task model (classification, regression or extractive QA) with a frozen backbone and prefixes.

    Wraps `model` (a *ForSequenceClassification / *ForQuestionAnswering of a
    supported family). Trainable: `prefix_encoder.prefix` and the task head.
    `forward(**batch)` takes the model's usual batch (input_ids, attention_mask
    [batch, seq], optional token_type_ids, labels or start/end_positions) and
    returns the model's output (loss, logits or start_logits/end_logits).
    """

    def __init__(
        self, model: PreTrainedModel, prefix_len: int = PREFIX["prefix_len"], seed: int = 42,
        dropout: float = PREFIX["dropout"]
    ) -> None:
        super().__init__()
        model_type = model.config.model_type
        if model_type not in T5_TYPES:
            cache_keyword(model.base_model)  # FuteError when its forward takes no key/value cache
        if model_type in T5_TYPES and not (hasattr(model, "classification_head") or hasattr(model, "qa_outputs")):
            raise FuteError(
                f"a T5 prefix surrogate must be T5ForSequenceClassification or T5ForQuestionAnswering, "
                f"not {type(model).__name__}; load it with AutoModelForSequenceClassification/QuestionAnswering"
            )
        self.model = model
        self.is_t5 = model_type in T5_TYPES
        self.prefix_encoder = PrefixEncoder(prefix_shapes(model.config), prefix_len, seed, dropout)
        for part in backbone_modules(model):
            part.requires_grad_(False)
        head = [name for name, param in model.named_parameters() if param.requires_grad]
        logger.info("prefix %s on frozen %s; trainable head: %s", tuple(self.prefix_encoder.prefix.shape),
                    type(model).__name__, head)

    def embedding(self) -> np.ndarray:
        return self.prefix_encoder.embedding()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **batch):
        batch_size, seq_len = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        prefix_len = self.prefix_encoder.prefix_len
        prefix_mask = torch.ones(batch_size, prefix_len, dtype=attention_mask.dtype, device=attention_mask.device)
        extended_mask = torch.cat([prefix_mask, attention_mask], dim=1)  # [batch, prefix_len + seq]
        if self.is_t5:
            return self._t5_forward(input_ids, attention_mask, extended_mask, **batch)
        max_positions = getattr(self.model.config, "max_position_embeddings", None)
        if max_positions is not None and seq_len + prefix_len > max_positions:
            raise FuteError(
                f"inputs of {seq_len} tokens plus the {prefix_len} prefix positions exceed the model's "
                f"{max_positions} positions; lower --max_len to at most {max_positions - prefix_len}"
            )
        cache = self.prefix_encoder.build_cache(batch_size)
        with self._reading(cache, seq_len):
            return self.model(input_ids=input_ids, attention_mask=extended_mask, **batch)

    @contextlib.contextmanager
    def _reading(self, cache: Cache, seq_len: int) -> Iterator[None]:
        """Feed `cache` to the backbone (T5: the decoder) and check that its layers read it.

        Every attention layer appends the input's keys/values to the cache it reads, so a
        self-attention cache still holding only the prefix after the forward means the
        prefix never reached the model.
        """
        reader = self.model.get_decoder() if self.is_t5 else self.model.base_model
        with _cache_fed_to(reader, cache):
            yield
        if cache.get_seq_length() != self.prefix_encoder.prefix_len + seq_len:
            raise FuteError(
                f"{type(self.model).__name__} did not read the prefix key/value cache (its attention layers "
                f"never appended to it), so prefix embeddings cannot be trained on it; use a surrogate of a "
                f"tested type ({', '.join(TESTED_TYPES)})"
            )

    def _t5_forward(self, input_ids, attention_mask, extended_mask, **batch):
        """Encoder without prefix; decoder with self- and cross-attention prefixes.

        The decoder reads shift_right(input_ids) (what T5ForSequenceClassification and
        T5ForQuestionAnswering do by default) under the mask [1]*16 + attention_mask,
        and cross-attends to [prefix ; encoder states] under the same extended mask.
        """
        model = self.model
        encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
        hidden = encoder_outputs.last_hidden_state  # [batch, seq, d_model]
        cross_kv = []
        for block in model.get_decoder().block:
            attn = block.layer[1].EncDecAttention
            kv_shape = (*hidden.shape[:2], attn.n_heads, attn.key_value_proj_dim)
            keys = attn.k(hidden).view(kv_shape).transpose(1, 2)  # [batch, heads, seq, d_kv]
            cross_kv.append((keys, attn.v(hidden).view(kv_shape).transpose(1, 2)))
        cache = self.prefix_encoder.build_cache(input_ids.shape[0], cross_kv)
        with self._reading(cache, input_ids.shape[1]):
            if hasattr(model, "classification_head"):
                # Given encoder_outputs, T5Model skips its encoder and uses `attention_mask` only as the
                # decoder's cross-attention mask, which must cover [prefix ; encoder states].
                return model(
                    input_ids=input_ids,
                    attention_mask=extended_mask,
                    encoder_outputs=encoder_outputs,
                    decoder_attention_mask=extended_mask,
                    **batch,
                )
            return self._t5_qa_head(input_ids, extended_mask, hidden, **batch)

    def _t5_qa_head(self, input_ids, extended_mask, hidden, start_positions=None, end_positions=None):
        """T5ForQuestionAnswering's decoder + span head + loss; the caller feeds the decoder the prefix cache.

        Needed because T5ForQuestionAnswering.forward builds the decoder's inputs itself
        and would start a cache of its own. Loss as in transformers: mean of the start
        and end cross-entropies, positions clamped to seq_len and ignored there.
        """
        model = self.model
        decoder_outputs = model.get_decoder()(
            input_ids=model._shift_right(input_ids),
            attention_mask=extended_mask,
            encoder_hidden_states=hidden,
            encoder_attention_mask=extended_mask,
        )
        logits = model.qa_outputs(decoder_outputs.last_hidden_state)  # [batch, seq, 2]
        start_logits, end_logits = (part.squeeze(-1).contiguous() for part in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            ignored = start_logits.size(1)
            loss_fct = nn.CrossEntropyLoss(ignore_index=ignored)
            start = start_positions.view(-1).clamp(0, ignored)
            end = end_positions.view(-1).clamp(0, ignored)
            loss = (loss_fct(start_logits, start) + loss_fct(end_logits, end)) / 2
        return Seq2SeqQuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits)
