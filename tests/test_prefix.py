"""Prefix task embeddings (task_emb/prefix.py) on tiny BERT, GPT-2, Llama and T5."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import transformers
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DynamicCache,
    EncoderDecoderCache,
    T5ForConditionalGeneration,
)

from data_utils.errors import FuteError
from modeling.hf_compat import cache_keyword
from task_emb.prefix import PrefixEncoder, PrefixShape, PrefixTaskModel, prefix_shapes

P = 16
ARCHS = ("bert", "gpt2", "llama", "t5")
HEADS = ("classification", "regression", "qa")


@pytest.fixture(autouse=True)
def _quiet_transformers():
    transformers.logging.set_verbosity_error()


@pytest.fixture
def paths(tiny_bert, tiny_gpt2, tiny_llama, tiny_t5):
    return {"bert": tiny_bert, "gpt2": tiny_gpt2, "llama": tiny_llama, "t5": tiny_t5}


def load(path, head: str):
    """A fresh tiny task model for `head`, with a pad token id (GPT-2 has none)."""
    if head == "qa":
        model = AutoModelForQuestionAnswering.from_pretrained(path)
    else:
        num_labels = 3 if head == "classification" else 1
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = model.config.eos_token_id
    return model


def make_batch(config, head: str, seed: int = 0, batch: int = 3, seq: int = 9) -> dict:
    """Random ids (>= 3, so never a special token), the last example padded by 3;
    T5 inputs end with one </s>, as its classification head needs."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 200, (batch, seq), generator=gen)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[-1, -3:] = 0
    if config.model_type == "t5":
        ids[:, -1] = config.eos_token_id
        ids[-1, -4] = config.eos_token_id
    ids[mask == 0] = config.pad_token_id
    out = {"input_ids": ids, "attention_mask": mask}
    if head == "qa":
        out["start_positions"] = torch.tensor([1, 2, 0][:batch])
        out["end_positions"] = torch.tensor([3, 4, 0][:batch])
    elif head == "regression":
        out["labels"] = torch.randn(batch, generator=gen)
    else:
        out["labels"] = torch.arange(batch) % 3
    return out


def logits_of(output) -> torch.Tensor:
    return output.logits if hasattr(output, "logits") else torch.stack([output.start_logits, output.end_logits])


# ---------------------------------------------------------------- shapes and init


def test_prefix_shapes_from_config_fields(paths):
    expected = {}
    for arch, path in paths.items():
        cfg = transformers.AutoConfig.from_pretrained(path)
        if arch == "t5":
            expected[arch] = (cfg.num_decoder_layers, 4, cfg.num_heads, cfg.d_kv)
        elif arch == "gpt2":
            expected[arch] = (cfg.n_layer, 2, cfg.n_head, cfg.n_embd // cfg.n_head)
        elif arch == "llama":  # grouped-query attention: prefixes have the key/value heads
            head_dim = cfg.hidden_size // cfg.num_attention_heads
            expected[arch] = (cfg.num_hidden_layers, 2, cfg.num_key_value_heads, head_dim)
        else:
            head_dim = cfg.hidden_size // cfg.num_attention_heads
            expected[arch] = (cfg.num_hidden_layers, 2, cfg.num_attention_heads, head_dim)
        assert tuple(prefix_shapes(cfg)) == expected[arch]
    assert expected["llama"] == (2, 2, 2, 8)  # 4 query heads share 2 key/value heads of 32/4
    assert tuple(prefix_shapes(DistilBertConfig(n_layers=3, n_heads=4, dim=64))) == (3, 2, 4, 16)


def test_unsupported_models_raise_with_the_true_reason():
    with pytest.raises(FuteError, match="one encoder-decoder family, T5, not model_type 'bart'"):
        prefix_shapes(transformers.BartConfig())
    with pytest.raises(FuteError, match="no attention layout"):
        prefix_shapes(transformers.ResNetConfig())
    config = DistilBertConfig(n_layers=1, n_heads=2, dim=8, hidden_dim=16, vocab_size=50)
    distil = DistilBertForSequenceClassification(config)
    with pytest.raises(FuteError, match="DistilBertModel.forward takes no key/value cache"):
        PrefixTaskModel(distil)


def tiny_qwen3(head: str):
    """A Qwen3 (grouped-query attention, q/k norms, explicit head_dim) built from its config."""
    config = transformers.Qwen3Config(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                      max_position_embeddings=128, pad_token_id=0, num_labels=3)
    torch.manual_seed(0)
    if head == "qa":
        return transformers.Qwen3ForQuestionAnswering(config)
    return transformers.Qwen3ForSequenceClassification(config)


@pytest.mark.parametrize("head", ["classification", "qa"])
def test_qwen3_is_a_prefix_surrogate(head):
    model = PrefixTaskModel(tiny_qwen3(head), seed=0).train()
    assert tuple(model.prefix_encoder.shape) == (2, 2, 2, 16)  # key/value heads of head_dim 16
    batch = make_batch(model.model.config, head)
    model(**batch).loss.backward()
    assert (model.prefix_encoder.prefix.grad.flatten(1).abs().sum(1) > 0).all()
    model.eval()
    with torch.no_grad():
        first = logits_of(model(**batch))
        model.prefix_encoder.prefix.normal_(generator=torch.Generator().manual_seed(1))
        assert (logits_of(model(**batch)) - first).abs().max() > 1e-3 * first.abs().max()


def test_t5_needs_a_task_head(tiny_t5):
    with pytest.raises(FuteError, match="T5ForSequenceClassification"):
        PrefixTaskModel(T5ForConditionalGeneration.from_pretrained(tiny_t5))


def test_same_seed_bit_identical_whatever_global_rng():
    shape = PrefixShape(3, 4, 2, 8)
    first = PrefixEncoder(shape, seed=7).prefix.detach().clone()
    torch.rand(1000)  # consume the global RNG in between
    torch.manual_seed(123)
    second = PrefixEncoder(shape, seed=7).prefix.detach()
    assert torch.equal(first, second)
    assert not torch.equal(first, PrefixEncoder(shape, seed=8).prefix.detach())


def test_init_is_xavier_uniform_per_layer():
    layers, slots, heads, head_dim = shape = PrefixShape(2, 4, 12, 64)  # t5-base's layout, 2 layers
    prefix = PrefixEncoder(shape, seed=0).prefix.detach()
    # xavier on a [slots, heads, P, head_dim] tensor: fan_in = heads*P*head_dim, fan_out = slots*P*head_dim
    bound = math.sqrt(6.0 / ((heads + slots) * P * head_dim))
    assert prefix.abs().max() <= bound
    assert prefix.abs().max() > 0.99 * bound
    assert prefix.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert not torch.equal(prefix[0], prefix[1])  # layers drawn independently


def test_embedding_is_layer_mean_flattened():
    enc = PrefixEncoder(PrefixShape(3, 4, 2, 5), seed=1)
    values = enc.prefix.detach().numpy()
    manual = np.zeros(4 * 2 * P * 5, dtype=np.float64)
    for layer in range(3):
        manual += values[layer].ravel()
    manual /= 3
    emb = enc.embedding()
    assert emb.shape == (4 * 2 * P * 5,)
    np.testing.assert_allclose(emb, manual, rtol=1e-6, atol=1e-7)
    # t5-base's embedding length, as in the paper's code
    assert PrefixEncoder(PrefixShape(1, 4, 12, 64)).embedding().shape == (49_152,)


def test_dropout_on_prefix_only_in_training():
    enc = PrefixEncoder(PrefixShape(2, 2, 4, 8), seed=0)
    enc.train()
    torch.manual_seed(0)
    keys = enc.build_cache(64).layers[1].keys  # [64, heads, P, head_dim]
    expected = enc.prefix[1, 0].detach()
    dropped = keys == 0
    assert abs(dropped.float().mean().item() - 0.15) < 0.01
    kept = keys / (expected / 0.85)  # inverted dropout scales the kept values by 1 / (1 - p)
    torch.testing.assert_close(kept[~dropped], torch.ones_like(kept[~dropped]))
    assert not torch.equal(keys[0], keys[1])  # one mask per example
    enc.eval()
    torch.testing.assert_close(enc.build_cache(2).layers[1].keys, expected.expand(2, -1, -1, -1), rtol=0, atol=0)


# ------------------------------------------------------ every architecture and head


CASES = [(arch, head) for arch in ARCHS for head in HEADS]


@pytest.mark.parametrize("arch,head", CASES)
def test_only_prefix_and_head_get_gradients(paths, arch, head):
    model = PrefixTaskModel(load(paths[arch], head), seed=0).train()
    task_model = model.model
    if arch == "t5" and head == "qa":  # T5ForQuestionAnswering has no base-model attribute
        parts = (task_model.shared, task_model.encoder, task_model.decoder)
    else:
        parts = (task_model.base_model,)
    backbone = {id(p) for part in parts for p in part.parameters()}
    model(**make_batch(model.model.config, head)).loss.backward()
    with_grad = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert "prefix_encoder.prefix" in with_grad
    for name, param in model.model.named_parameters():
        if id(param) in backbone:
            assert param.grad is None and not param.requires_grad, name
        else:
            assert param.requires_grad and f"model.{name}" in with_grad, name  # the task head
    prefix_grad = model.prefix_encoder.prefix.grad
    assert (prefix_grad.flatten(1).abs().sum(1) > 0).all()  # every layer's prefix is used


@pytest.mark.parametrize("arch,head", CASES)
def test_prefix_changes_logits_and_forwards_repeat(paths, arch, head):
    model = PrefixTaskModel(load(paths[arch], head), seed=0).eval()
    batch = make_batch(model.model.config, head)
    with torch.no_grad():
        first = logits_of(model(**batch))
        second = logits_of(model(**batch))  # a fresh cache each time: no growth
        torch.testing.assert_close(first, second, rtol=0, atol=0)
        # a repeat is bit-identical, so any change beyond float noise comes from the prefix
        model.prefix_encoder.prefix.normal_(generator=torch.Generator().manual_seed(1))
        changed = logits_of(model(**batch))
    assert (changed - first).abs().max() > 1e-3 * first.abs().max()


# ------------------------------------------------------------------------- T5


def test_t5_cross_attention_prefix_trains_and_encoder_still_matters(tiny_t5):
    model = PrefixTaskModel(load(tiny_t5, "classification"), seed=0).eval()
    batch = make_batch(model.model.config, "classification")
    model(**batch).loss.backward()
    grad = model.prefix_encoder.prefix.grad  # [layers, 4, heads, P, head_dim]
    assert grad[:, 2].abs().sum() > 0 and grad[:, 3].abs().sum() > 0  # cross-attention key, value
    with torch.no_grad():
        base = model(**batch).logits
        other = dict(batch, input_ids=batch["input_ids"].clone())
        other["input_ids"][:, 0] = 7  # a different first token, same </s> layout
        assert (model(**other).logits - base).abs().max() > 1e-3 * base.abs().max()
        # The decoder also reads shift_right(input_ids), so changing the ids alone would pass even if
        # the decoder saw the prefix instead of the encoder: shift only the encoder's output.
        encoder_norm = model.model.get_encoder().final_layer_norm
        handle = encoder_norm.register_forward_hook(lambda module, args, out: out + 1.0)
        try:
            shifted = model(**batch).logits
        finally:
            handle.remove()
        assert (shifted - base).abs().max() > 1e-3 * base.abs().max()


def test_t5_matches_transformers_own_cross_attention_projection(tiny_t5):
    """Independent path: let T5 project the encoder states itself and append them to a
    cross cache that holds only the prefix (un-flagging `is_updated` so it does)."""
    model = PrefixTaskModel(load(tiny_t5, "classification"), seed=0).eval()
    batch = make_batch(model.model.config, "classification")
    t5 = model.model
    prefix = model.prefix_encoder.prefix.detach()
    n = batch["input_ids"].shape[0]
    self_cache, cross_cache = DynamicCache(), DynamicCache()
    for layer in range(prefix.shape[0]):
        k, v, ck, cv = (prefix[layer, slot].expand(n, -1, -1, -1) for slot in range(4))
        self_cache.update(k, v, layer)
        cross_cache.update(ck, cv, layer)
    cache = EncoderDecoderCache(self_cache, cross_cache)
    cache.is_updated = {layer: False for layer in cache.is_updated}
    ext = torch.cat([torch.ones(n, P, dtype=torch.long), batch["attention_mask"]], dim=1)
    with torch.no_grad():
        enc = t5.get_encoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        dec = t5.get_decoder()(
            input_ids=t5._shift_right(batch["input_ids"]), attention_mask=ext, encoder_hidden_states=enc[0],
            encoder_attention_mask=ext, **{cache_keyword(t5.get_decoder()): cache},
        ).last_hidden_state
        eos_rows = dec[batch["input_ids"] == t5.config.eos_token_id].view(n, -1, dec.shape[-1])[:, -1]
        expected = t5.classification_head(eos_rows)
        torch.testing.assert_close(model(**batch).logits, expected, rtol=1e-5, atol=1e-6)


def test_t5_qa_loss_is_mean_of_span_cross_entropies(tiny_t5):
    model = PrefixTaskModel(load(tiny_t5, "qa"), seed=0).eval()
    batch = make_batch(model.model.config, "qa")
    with torch.no_grad():
        out = model(**batch)
    manual = 0.0
    for logits, gold in ((out.start_logits, batch["start_positions"]), (out.end_logits, batch["end_positions"])):
        log_probs = logits.log_softmax(-1)
        manual += -log_probs[torch.arange(len(gold)), gold].mean() / 2
    assert out.start_logits.shape == batch["input_ids"].shape
    torch.testing.assert_close(out.loss, manual)


# -------------------------------------------------- manual check of the injection


def test_bert_first_layer_equals_manual_attention_over_prefix(tiny_bert):
    """Layer 0 recomputed by hand: keys/values = [prefix ; tokens], padded tokens masked,
    positions counted from P (the prefix occupies positions 0..P-1)."""
    model = PrefixTaskModel(load(tiny_bert, "classification"), seed=3).eval()
    bert = model.model.bert
    batch = make_batch(model.model.config, "classification")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    n, seq = ids.shape
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        emb = bert.embeddings
        x = emb.word_embeddings(ids) + emb.position_embeddings(torch.arange(P, P + seq)) + emb.token_type_embeddings(
            torch.zeros_like(ids))
        x = emb.LayerNorm(x)
        torch.testing.assert_close(hidden[0], x)

        layer = bert.encoder.layer[0]
        att = layer.attention.self
        heads, head_dim = att.num_attention_heads, att.attention_head_size
        split = lambda t: t.view(n, -1, heads, head_dim).transpose(1, 2)  # noqa: E731
        prefix = model.prefix_encoder.prefix[0]
        q = split(att.query(x))
        k = torch.cat([prefix[0].expand(n, -1, -1, -1), split(att.key(x))], dim=2)
        v = torch.cat([prefix[1].expand(n, -1, -1, -1), split(att.value(x))], dim=2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
        visible = torch.cat([torch.ones(n, P), mask.float()], dim=1)[:, None, None, :]
        scores = scores.masked_fill(visible == 0, float("-inf"))
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, seq, heads * head_dim)
        out = layer.attention.output
        h = out.LayerNorm(out.dense(context) + x)
        ffn = layer.output
        h = ffn.LayerNorm(ffn.dense(layer.intermediate(h)) + h)
        torch.testing.assert_close(hidden[1], h, rtol=1e-5, atol=1e-5)


def test_gpt2_positions_start_after_prefix(tiny_gpt2):
    model = PrefixTaskModel(load(tiny_gpt2, "classification"), seed=0).eval()
    gpt2 = model.model.transformer
    batch = make_batch(model.model.config, "classification")
    seq = batch["input_ids"].shape[1]
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       output_hidden_states=True).hidden_states
        expected = gpt2.wte(batch["input_ids"]) + gpt2.wpe(torch.arange(P, P + seq))
    torch.testing.assert_close(hidden[0], expected)


def test_too_long_input_names_the_limit(tiny_bert):
    model = PrefixTaskModel(load(tiny_bert, "classification")).eval()
    limit = model.model.config.max_position_embeddings
    ids = torch.full((1, limit - P + 1), 5)
    with pytest.raises(FuteError, match=f"at most {limit - P}"):
        model(input_ids=ids)


def test_half_precision_checkpoint_loads_in_float32_and_prefix_tunes(tiny_bert, tmp_path):
    """transformers 5 keeps a checkpoint's saved dtype: a bfloat16 surrogate (common on the
    hub) must still come back in float32, or the float32 prefix cannot meet its keys."""
    from task_emb.models import load_base_model, load_head_model

    AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3).to(torch.bfloat16).save_pretrained(
        tmp_path)
    saved = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert saved.dtype == torch.bfloat16  # the premise: left alone, transformers keeps bfloat16
    head_model = load_head_model(str(tmp_path), "cr", labels=("a", "b", "c"))
    assert {p.dtype for p in head_model.parameters()} == {torch.float32}
    assert {p.dtype for p in load_base_model(str(tmp_path)).parameters()} == {torch.float32}
    model = PrefixTaskModel(head_model, seed=0).train()
    model(**make_batch(head_model.config, "classification")).loss.backward()
    assert model.prefix_encoder.prefix.grad.abs().sum() > 0
