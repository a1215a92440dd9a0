"""n-best QA post-processing against spans picked by hand.

Features are written as token layouts: position 0 is [CLS], then question tokens, then
context words (one token per word), then padding. Only context words have offsets.
"""
import re

import numpy as np
import pytest

from data_utils.errors import FuteError
from data_utils.qa_postprocess import postprocess_qa_predictions

LOW = -10.0


def word_offsets(context: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", context)]


def layout(context: str, first_word: int, last_word: int, n_question: int, seq_len: int) -> list:
    """Offsets of [CLS] + n_question question tokens + words first..last + padding to seq_len."""
    offsets = [None] * (1 + n_question) + word_offsets(context)[first_word : last_word + 1]
    return offsets + [None] * (seq_len - len(offsets))


# e1 is split into two overlapping features:
#   words: Paris0 is1 the2 capital3 of4 France5 and6 Berlin7 is8 the9 capital10 of11 Germany12
#   feature A: [CLS] q q  w0..w5  pad pad pad   (position p holds word p - 3)
#   feature B: [CLS] q q  w4..w12               (position p holds word p - 3 + 4)
E1 = "Paris is the capital of France and Berlin is the capital of Germany"
E2 = "what is asked is not in this window"
SEQ = 12


def e1_e2_inputs():
    offsets = [layout(E1, 0, 5, 2, SEQ), layout(E1, 4, 12, 2, SEQ), [None] * SEQ]
    start = np.full((3, SEQ), LOW)
    end = np.full((3, SEQ), LOW)
    # Feature A: "Paris" (pos 3) scores 5 + 4 = 9; a question token (pos 1) would score 8 + 7 = 15.
    start[0, 3], end[0, 3] = 5.0, 4.0
    start[0, 1], end[0, 1] = 8.0, 7.0
    # Feature B: "Berlin" (pos 6) scores 6 + 5 = 11; end at "France" (pos 4) is before the start.
    start[1, 6], end[1, 6] = 6.0, 5.0
    end[1, 4] = 5.5
    # Null scores at position 0: feature A 2 + 2 = 4, feature B 3 + 3 = 6.
    start[0, 0], end[0, 0] = 2.0, 2.0
    start[1, 0], end[1, 0] = 3.0, 3.0
    # e2's only feature holds no context token at all (offsets all None): no valid span.
    start[2, 0], end[2, 0] = 9.0, 9.0
    return dict(
        example_ids=["e1", "e2"],
        contexts=[E1, E2],
        feature_example_ids=["e1", "e1", "e2"],
        feature_offsets=offsets,
        start_logits=start,
        end_logits=end,
    )


def test_best_span_across_features_skips_none_offsets():
    answers, no_answer = postprocess_qa_predictions(**e1_e2_inputs())
    # The question-token span (15) is skipped, Berlin (11) in feature B beats Paris (9) in feature A.
    assert answers == {"e1": "Berlin", "e2": ""}
    assert no_answer == {"e1": 0.0, "e2": 1.0}


def test_best_span_within_one_feature():
    inputs = e1_e2_inputs()
    inputs["start_logits"][1, 6] = LOW  # Berlin gone: Paris is the best left
    answers, _ = postprocess_qa_predictions(**inputs)
    assert answers["e1"] == "Paris"


@pytest.mark.parametrize(
    "threshold, expected",
    [
        (None, "Berlin"),
        (-6.0, "Berlin"),  # null = min(4, 6) = 4; 4 - 11 = -7 is not > -6 (with max(4, 6): -5 > -6)
        (-7.0, "Berlin"),  # strict >
        (-8.0, ""),  # -7 > -8: the null answer wins
    ],
)
def test_null_score_threshold(threshold, expected):
    answers, no_answer = postprocess_qa_predictions(**e1_e2_inputs(), null_score_diff_threshold=threshold)
    assert answers == {"e1": expected, "e2": ""}
    assert no_answer == {"e1": 1.0 if expected == "" else 0.0, "e2": 1.0}


# e3: [CLS] one two three four five pad ; position p holds word p - 1
E3 = "one two three four five"


def e3_inputs():
    start = np.full((1, 7), LOW)
    end = np.full((1, 7), LOW)
    start[0, 1], end[0, 5] = 10.0, 10.0  # one..five: 5 tokens, 20
    end[0, 3] = 5.0  # one..three: 3 tokens, 15
    start[0, 2] = 4.0  # two..five: 4 tokens, 14
    return dict(
        example_ids=["e3"],
        contexts=[E3],
        feature_example_ids=["e3"],
        feature_offsets=[layout(E3, 0, 4, 0, 7)],
        start_logits=start,
        end_logits=end,
    )


@pytest.mark.parametrize(
    "max_len, n_best, expected",
    [
        (5, 20, "one two three four five"),
        (4, 20, "one two three"),
        (2, 20, "two three"),  # (2, 3): 4 + 5 = 9 is the best span of at most 2 tokens
        (4, 1, ""),  # only (one, five) is a candidate, and it is too long
    ],
)
def test_max_answer_length_and_n_best(max_len, n_best, expected):
    answers, no_answer = postprocess_qa_predictions(**e3_inputs(), n_best=n_best, max_answer_length=max_len)
    assert answers == {"e3": expected}
    assert no_answer == {"e3": 1.0 if expected == "" else 0.0}


def test_end_before_start_is_skipped():
    inputs = e3_inputs()
    inputs["start_logits"][0, 4] = 50.0  # start at "four"
    inputs["end_logits"][0, 2] = 51.0  # end at "two": (four, two) = 101 is the top pair but invalid
    # Top-2 starts {four, one}, top-2 ends {two, five}: (one, two) = 61 beats (four, five) = 60;
    # (one, five) = 20 is too long for 4.
    answers, _ = postprocess_qa_predictions(**inputs, n_best=2, max_answer_length=4)
    assert answers == {"e3": "one two"}


def test_example_without_features_is_empty():
    inputs = e3_inputs()
    answers, no_answer = postprocess_qa_predictions(
        **{**inputs, "example_ids": ["e3", "lost"], "contexts": [E3, "nothing"]}
    )
    assert answers["lost"] == "" and no_answer["lost"] == 1.0


def test_bad_inputs_raise():
    inputs = e3_inputs()
    with pytest.raises(FuteError):
        postprocess_qa_predictions(**{**inputs, "end_logits": inputs["end_logits"][:, :5]})
    with pytest.raises(FuteError):
        postprocess_qa_predictions(**{**inputs, "contexts": []})
    with pytest.raises(FuteError, match="feature_example_ids"):
        postprocess_qa_predictions(**{**inputs, "feature_example_ids": [3]})
