"""FIM estimators against a direct per-example autograd loop written here, on tiny models."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    GPT2Config,
    GPT2ForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
)

from data_utils.errors import FuteError
from task_emb.fim import FIM_ESTIMATORS, fim_embedding, fim_parameters

SENTENCES = [
    "The movie was good and I would watch it again.",
    "A bad film.",
    "I loved every minute of this wonderful story, the music and the acting.",
    "Boring and slow.",
    "The ending surprised me.",
]
LABELS = [1, 0, 1, 0, 1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bert_setup(tiny_bert):
    """A float64 tiny BERT classifier and 5 examples in padded batches of 2, 2, 1."""
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2).double()
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    batches = []
    for start in range(0, 5, 2):
        enc = tokenizer(SENTENCES[start:start + 2], padding=True, return_tensors="pt")
        batches.append({**enc, "labels": torch.tensor(LABELS[start:start + 2])})
    return model, batches


def loss_of(model):
    return lambda batch: model(**batch).loss


def per_example_grads(model, batches, params):
    """g_i for every example, each from its own forward/backward in eval mode: [N, P]."""
    model.eval()
    rows = []
    for batch in batches:
        for i in range(batch["input_ids"].shape[0]):
            one = {k: v[i:i + 1] for k, v in batch.items()}
            grads = torch.autograd.grad(model(**one).loss, params, allow_unused=True)
            rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                   for g, p in zip(grads, params)]))
    return torch.stack(rows).detach().numpy()


def bert_backbone(model):
    return [*model.bert.embeddings.parameters(), *model.bert.encoder.parameters()]


def expected(estimator, g, batch_sizes):
    if estimator == "reference":
        return g.mean(0) ** 2
    if estimator == "batch":
        ends = np.cumsum(batch_sizes)
        batch_means = [g[end - size:end].mean(0) for size, end in zip(batch_sizes, ends)]
        return np.sum([m ** 2 for m in batch_means], axis=0) / len(g)
    return (g ** 2).mean(0)


def assert_close(actual, wanted):
    np.testing.assert_allclose(actual, wanted, rtol=1e-6, atol=1e-9 * np.abs(wanted).max())


@pytest.mark.parametrize("estimator,per_example", [
    ("reference", "auto"), ("batch", "auto"), ("empirical", "hooks"), ("empirical", "loop"),
])
def test_estimators_match_per_example_autograd(bert_setup, estimator, per_example):
    model, batches = bert_setup
    g = per_example_grads(model, batches, bert_backbone(model))
    want = expected(estimator, g, [2, 2, 1])
    model.train()  # the FIM pass must switch dropout off itself
    got = fim_embedding(model, batches, loss_of(model), estimator, dtype=np.float64,
                        chunk_size=3, per_example=per_example)
    assert model.training
    assert got.shape == want.shape == (sum(p.numel() for p in bert_backbone(model)),)
    assert np.abs(want).max() > 0
    assert_close(got, want)


def test_estimators_differ_and_leave_model_untouched(bert_setup):
    model, batches = bert_setup
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    vectors = {e: fim_embedding(model, batches, loss_of(model), e, dtype=np.float64) for e in FIM_ESTIMATORS}
    assert all(p.grad is None for p in model.parameters())
    assert flags == {n: p.requires_grad for n, p in model.named_parameters()}
    # Jensen: (mean_i g_i)^2 <= mean_i g_i^2 and G_b^2 <= mean_{i in b} g_i^2, strictly here.
    for smaller in ("reference", "batch"):
        assert np.all(vectors[smaller] <= vectors["empirical"] * (1 + 1e-9))
        assert vectors[smaller].sum() < vectors["empirical"].sum()
    assert not np.allclose(vectors["reference"], vectors["batch"])


def test_float16_output(bert_setup):
    model, batches = bert_setup
    full = fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float64)
    half = fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float16)
    assert half.dtype == np.float16 and half.shape == full.shape
    big = full > 1e-4
    np.testing.assert_allclose(half[big], full[big], rtol=1e-3)


def test_a_fim_beyond_float16_or_not_finite_is_an_error(bert_setup):
    model, batches = bert_setup
    scaled = lambda factor: (lambda batch: loss_of(model)(batch) * factor)  # noqa: E731 - squares scale by factor^2
    full = fim_embedding(model, batches, scaled(1e4), "empirical", dtype=np.float32)
    assert np.isfinite(full).all() and full.max() > np.finfo(np.float16).max  # a float32 FIM fits, a float16 cannot
    with pytest.raises(FuteError, match=r"exceed float16's range \(65504\); save it with --save_dtype float32"):
        fim_embedding(model, batches, scaled(1e4), "empirical", dtype=np.float16)
    with pytest.raises(FuteError, match="NaN or inf values"):
        fim_embedding(model, batches, scaled(float("nan")), "empirical", dtype=np.float32)


def test_bad_arguments_raise(bert_setup):
    model, batches = bert_setup
    with pytest.raises(FuteError, match="estimator"):
        fim_embedding(model, batches, loss_of(model), "diagonal")
    with pytest.raises(FuteError, match="dtype"):
        fim_embedding(model, batches, loss_of(model), dtype=np.int32)
    with pytest.raises(FuteError, match="no examples"):
        fim_embedding(model, [], loss_of(model))


def test_bert_parameters_exclude_pooler_and_head(bert_setup):
    model, _ = bert_setup
    names = [n for n, _ in fim_parameters(model)]
    assert [id(p) for _, p in fim_parameters(model)] == [id(p) for p in bert_backbone(model)]
    assert not any("pooler" in n or "classifier" in n for n in names)
    assert any("word_embeddings" in n for n in names) and any("encoder.layer.1" in n for n in names)


def test_t5_counts_shared_embedding_once(tiny_t5):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_t5, num_labels=2)
    named = fim_parameters(model)
    ids = [id(p) for _, p in named]
    assert len(ids) == len(set(ids))
    shared = model.transformer.shared.weight
    assert model.transformer.encoder.embed_tokens.weight is shared  # the tie the reference counted 3 times
    assert ids.count(id(shared)) == 1
    names = [n for n, _ in named]
    assert any(n.startswith("transformer.encoder.block") for n in names)
    assert any(n.startswith("transformer.decoder.block") for n in names)
    assert not any("classification_head" in n for n in names)
    backbone = {id(p) for p in model.transformer.parameters()}
    assert set(ids) == backbone


def test_t5_empirical_matches_loop(tiny_t5):
    """T5 takes the per-example loop (RMS norm, relative bias): still the exact formula."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_t5, num_labels=2).double()
    tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
    enc = tokenizer(SENTENCES[:3], padding=True, return_tensors="pt")
    batches = [{**enc, "labels": torch.tensor(LABELS[:3])}]
    params = [p for _, p in fim_parameters(model)]
    g = per_example_grads(model, batches, params)
    got = fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float64)
    assert_close(got, (g ** 2).mean(0))
    with pytest.raises(FuteError, match="per_example"):
        fim_embedding(model, batches, loss_of(model), "empirical", per_example="hooks")


def test_decoder_only_parameters_are_the_base_model():
    gpt2 = GPT2ForSequenceClassification(GPT2Config(vocab_size=50, n_embd=8, n_layer=1, n_head=2, pad_token_id=0))
    llama = LlamaForSequenceClassification(LlamaConfig(vocab_size=50, hidden_size=8, intermediate_size=16,
                                                       num_hidden_layers=1, num_attention_heads=2, pad_token_id=0))
    for model, base in ((gpt2, gpt2.transformer), (llama, llama.model)):
        assert [id(p) for _, p in fim_parameters(model)] == [id(p) for p in base.parameters()]
        assert not any(n.startswith("score") for n, _ in fim_parameters(model))


def test_gpt2_empirical_hooks_match_loop():
    """GPT-2 (Conv1D layers, padded batch) goes through the hooks: same numbers as the loop."""
    torch.manual_seed(0)
    model = GPT2ForSequenceClassification(
        GPT2Config(vocab_size=50, n_embd=8, n_layer=1, n_head=2, pad_token_id=0)).double()
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0], [11, 12, 13, 0]])
    batches = [{"input_ids": ids, "attention_mask": (ids != 0).long(), "labels": torch.tensor([0, 1, 1])}]
    g = per_example_grads(model, batches, [p for _, p in fim_parameters(model)])
    got = fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float64, per_example="hooks")
    assert_close(got, (g ** 2).mean(0))


def test_tied_lm_head_sums_both_uses_before_squaring():
    """GPT-2's LM head reuses the token embedding: g_i must add both uses, then square."""
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=30, n_embd=8, n_layer=1, n_head=2)).double()
    assert model.lm_head.weight is model.transformer.wte.weight
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 5, 2], [11, 12, 13, 1]])  # equal lengths: token mean = example mean
    batches = [{"input_ids": ids, "labels": ids}]
    g = per_example_grads(model, batches, [p for _, p in fim_parameters(model)])
    got = fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float64, per_example="hooks")
    assert_close(got, (g ** 2).mean(0))


@pytest.mark.parametrize("group_bytes", [1, "two of the largest", None])
def test_empirical_hooks_in_groups_match_autograd(bert_setup, monkeypatch, group_bytes):
    """The per-example products one example at a time (a CPU's large layers), in groups that
    split the chunk unevenly, or the whole chunk at once; one padded batch of 5 sentences of
    different lengths, so that each group skips a different span of padding."""
    from task_emb import fim_empirical

    model, _ = bert_setup
    params = bert_backbone(model)
    if group_bytes == "two of the largest":
        group_bytes = 2 * max(p.numel() for p in params) * 8  # float64
    if group_bytes is not None:
        monkeypatch.setattr(fim_empirical._Scratch, "CPU_GROUP_BYTES", group_bytes)
    enc = AutoTokenizer.from_pretrained(model.name_or_path)(SENTENCES, padding=True, return_tensors="pt")
    batch = {**enc, "labels": torch.tensor(LABELS)}
    assert (enc["attention_mask"] == 0).any()
    want = expected("empirical", per_example_grads(model, [batch], params), [5])
    # chunk_size 5: a first, checked chunk of 4 examples, then one of 1
    got = fim_embedding(model, [batch], loss_of(model), "empirical", dtype=np.float64, chunk_size=5,
                        per_example="hooks")
    assert_close(got, want)


def test_chunks_check_a_small_first_chunk_then_follow_the_chunk_size():
    from task_emb.fim_empirical import _chunks

    batches = [{"input_ids": torch.arange(n)[:, None]} for n in (5, 7)]
    sizes = [len(chunk["input_ids"]) for chunk in _chunks(batches, chunk_size=3, first=2)]
    assert sizes == [2, 3, 3, 3, 1]
    firsts = [chunk["input_ids"][0, 0].item() for chunk in _chunks(batches, chunk_size=3, first=2)]
    assert firsts == [0, 2, 0, 3, 6]


def test_token_spans_cover_every_nonzero_term_of_a_group():
    from task_emb.fim_empirical import _token_spans

    left = torch.zeros(5, 6, 2)
    right = torch.ones(5, 6, 3)
    left[0, 1:3] = 1.0  # example 0: tokens 1-2
    left[1, 4] = 2.0  # example 1: token 4
    right[1, 4] = 0.0  # ... whose other factor is zero: no term
    left[2, 0] = 1.0  # example 2: token 0
    left[3, 5] = -1.0  # example 3: token 5; example 4: none
    assert _token_spans(left, right, group=1) == [(1, 3), (0, 0), (0, 1), (5, 6), (0, 0)]
    assert _token_spans(left, right, group=2) == [(1, 3), (0, 6), (0, 0)]
    assert _token_spans(left, right, group=5) == [(0, 6)]


@pytest.mark.parametrize("per_example", ["auto", "hooks"])
def test_hooks_that_disagree_with_autograd_are_caught(bert_setup, monkeypatch, caplog, per_example):
    """A per-example term 0.5% off (every LayerNorm bias) must fail the first-chunk check:
    'auto' then falls back to the exact loop, 'hooks' refuses."""
    from task_emb import fim_empirical

    model, batches = bert_setup
    real_terms = fim_empirical._per_example_terms

    def slightly_wrong(module, *args):
        for param, kind, value in real_terms(module, *args):
            yield param, kind, value * 1.005 if param is getattr(module, "bias", None) and kind == "dense" and \
                isinstance(module, torch.nn.LayerNorm) else value

    monkeypatch.setattr(fim_empirical, "_per_example_terms", slightly_wrong)
    if per_example == "hooks":
        with pytest.raises(FuteError, match="per-example hooks do not fit"):
            fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float64, per_example="hooks")
        return
    want = expected("empirical", per_example_grads(model, batches, bert_backbone(model)), [2, 2, 1])
    got = fim_embedding(model, batches, loss_of(model), "empirical", dtype=np.float64)
    assert "disagree with autograd" in caplog.text
    assert_close(got, want)
