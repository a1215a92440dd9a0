"""Examples -> tokenized features -> batches (dicts of tensors). Knows tokenizers, not models.

Padding is dynamic (to the longest sequence of each batch): the reference padded
a whole split to its longest example, which gives the same numbers for
attention-masked models and costs far more compute on short data.

Sides. Features are cut at their end and batches are padded on the right, whatever
`padding_side` and `truncation_side` the tokenizer was saved with (decoder
checkpoints such as Llama, Mistral and Qwen often ship "left"). Everything
downstream counts positions from the start of a sequence: QA span labels and their
character offsets, the argmax over each feature's own tokens, the prefix mask,
and decoders that number positions by index (left padding would move every real
token). Cutting at the end keeps the start of a text and of a QA context, as the
reference did.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from data_utils.errors import FuteError


def tokenize_cr(examples: Sequence[dict], tokenizer, max_len: int) -> list[dict]:
    """CR examples -> features {"input_ids", "attention_mask", ["token_type_ids"], "labels"}.

    Pairs are truncated longest-first to max_len tokens in total, as in the reference.
    Only the inputs the tokenizer declares (`model_input_names`) are kept, so GPT-2
    and T5 get no token_type_ids.
    """
    texts = [e["text"] for e in examples]
    pairs = [e["text_pair"] for e in examples] if examples and "text_pair" in examples[0] else None
    with _cut_at_the_end(tokenizer):
        encoded = tokenizer(texts, pairs, truncation="longest_first", max_length=max_len)
    keys = [k for k in tokenizer.model_input_names if k in encoded]
    features = []
    for i, example in enumerate(examples):
        feature = {k: encoded[k][i] for k in keys}
        if "label" in example:
            feature["labels"] = example["label"]
        features.append(feature)
    return features


def tokenize_qa(examples: Sequence[dict], tokenizer, max_len: int,
                truncation: str = "only_second") -> tuple[list[dict], dict]:
    """QA examples -> (features, meta).

    One feature per example, at most max_len tokens (no sliding window).
    truncation "only_second" (datasets, as the reference) cuts only the context;
    "longest_first" (model task embeddings, as the reference tokenized x') cuts the
    longer side first, so a pool text in the question slot longer than max_len is
    cut too instead of failing. The answer's character
    span is mapped to token positions through the tokenizer's offsets; an
    unanswerable question, or an answer cut off by truncation, points at
    position 0 (the usual SQuAD-v2 convention).

    meta["example_ids"][i] and meta["offsets"][i] (a (start, end) character span
    per token, None outside the context) are what post-processing needs.
    """
    questions = [e["question"].strip() for e in examples]
    contexts = [e["context"] for e in examples]
    try:
        with _cut_at_the_end(tokenizer):
            encoded = tokenizer(questions, contexts, truncation=truncation, max_length=max_len,
                                return_offsets_mapping=True)
    except Exception as err:  # the fast tokenizers raise a bare Exception when only the context may be cut
        if "truncat" not in str(err).lower():
            raise
        longest = max(len(tokenizer(q)["input_ids"]) for q in questions)
        raise FuteError(f"a question of {longest} tokens leaves no room for its context within --max_len {max_len}; "
                        f"raise --max_len") from None
    keys = [k for k in tokenizer.model_input_names if k in encoded]
    features, example_ids, offsets = [], [], []
    for i, example in enumerate(examples):
        sequence_ids = encoded.sequence_ids(i)
        context_offsets = [tuple(span) if sequence_ids[k] == 1 else None
                           for k, span in enumerate(encoded["offset_mapping"][i])]
        start, end = answer_token_span(example["answers"], context_offsets)
        feature = {k: encoded[k][i] for k in keys}
        feature["start_positions"], feature["end_positions"] = start, end
        features.append(feature)
        example_ids.append(example["id"])
        offsets.append(context_offsets)
    return features, {"example_ids": example_ids, "offsets": offsets}


def answer_token_span(answers: dict, offsets: Sequence[tuple[int, int] | None]) -> tuple[int, int]:
    """The token span (inclusive) covering the first gold answer, or (0, 0) when there is none."""
    if not answers["text"]:
        return 0, 0
    start_char = answers["answer_start"][0]
    end_char = start_char + len(answers["text"][0])
    inside = [k for k, span in enumerate(offsets) if span is not None]
    if not inside or offsets[inside[0]][0] > start_char or offsets[inside[-1]][1] < end_char:
        return 0, 0
    start = next(k for k in inside if offsets[k][1] > start_char)
    end = next(k for k in reversed(inside) if offsets[k][0] < end_char)
    return start, max(start, end)


@contextlib.contextmanager
def _cut_at_the_end(tokenizer) -> Iterator[None]:
    """Within the block, `tokenizer` truncates at the end of each sequence (its `truncation_side` is
    restored after). The fast tokenizers read the side from the tokenizer on every call; no call
    argument sets it."""
    saved = tokenizer.truncation_side
    tokenizer.truncation_side = "right"
    try:
        yield
    finally:
        tokenizer.truncation_side = saved


class Collator:
    """Pads a list of features into a dict of tensors: on the right, with the tokenizer's pad id,
    whatever the tokenizer's own `padding_side` (module docstring)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        label_keys = [k for k in ("labels", "start_positions", "end_positions") if k in features[0]]
        inputs = [{k: v for k, v in f.items() if k not in label_keys} for f in features]
        batch = dict(self.tokenizer.pad(inputs, padding="longest", padding_side="right", return_tensors="pt"))
        for key in label_keys:
            values = np.asarray([f[key] for f in features])
            # Float labels: regression values or soft label distributions [B, L].
            dtype = torch.float32 if values.dtype.kind == "f" else torch.long
            batch[key] = torch.as_tensor(values, dtype=dtype)
        return batch


def make_loader(features: list[dict], tokenizer, batch_size: int, shuffle: bool, seed: int = 42) -> DataLoader:
    """A DataLoader over features; shuffling uses its own seeded generator."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(features, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=Collator(tokenizer))
