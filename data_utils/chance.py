"""What a dev score must beat: the best score of a guess that reads no input (CR) or no question (QA).

- CR classification: every dev example gets the same class; the best class by the dataset's
  main metric (the majority class for accuracy; for binary F1 the positive class,
  2p / (1 + p) with p the positive fraction). Regression has no such guess (None).
- Extractive QA: every question is answered with the first k words of its context, or with
  no answer (""), the best of k = 0 (no answer), 1, ..., `max_words` by SQuAD-v2 F1.

A fine-tuned model that does not clear this score has learned nothing a reader of the
table can use; the demo prints it beside every dev score.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from configs.datasets import DatasetSpec
from data_utils.metrics import compute_metrics
from data_utils.squad_v2 import squad_v2_scores

FIRST_SPAN_MAX_WORDS = 10


def constant_class_score(spec: DatasetSpec, examples: Sequence[dict]) -> tuple[float, str] | None:
    """(best main-metric score of predicting one class for all `examples`, "always <label>"), None for
    regression. Examples as `data_utils.examples.cr_examples` gives them."""
    if spec.regression:
        return None
    references = np.array([e["label"] for e in examples])
    scores = {label: compute_metrics([spec.main_metric], np.full_like(references, index), references)[spec.main_metric]
              for index, label in enumerate(spec.labels)}
    best = max(scores, key=lambda label: scores[label])
    return scores[best], f"always {best}"


def first_span_score(examples: Sequence[dict], max_words: int = FIRST_SPAN_MAX_WORDS) -> tuple[float, str]:
    """(best SQuAD-v2 F1 of answering every question with the first k words of its context, k in 0..max_words,
    k = 0 being "no answer"; "first k words"). Examples as `data_utils.loading.qa_examples` gives them."""
    references = {e["id"]: e["answers"]["text"] for e in examples}
    scores = {}
    for k in range(max_words + 1):
        predictions = {e["id"]: " ".join(e["context"].split()[:k]) for e in examples}
        scores[k] = squad_v2_scores(predictions, references)["f1"]
    best = max(scores, key=lambda k: scores[k])
    return scores[best], ("no answer" if best == 0 else f"first {best} word{'s' if best > 1 else ''}")


def chance_score(spec: DatasetSpec, examples: Sequence[dict]) -> tuple[float, str] | None:
    """The guess to beat on `examples` of `spec`: (score, what the guess is), None when there is none."""
    return first_span_score(examples) if spec.task_class == "qa" else constant_class_score(spec, examples)


def dev_guess(spec: DatasetSpec, dev: Sequence[dict]) -> dict | None:
    """{"score", "guess"} of `chance_score` on these dev examples, as records hold it ("dev_guess"), so that a reader
    can tell learning from a constant answer; None when there is no guess (regression)."""
    guess = chance_score(spec, dev)
    return None if guess is None else {"score": guess[0], "guess": guess[1]}
