"""SQuAD v2.0 scorer against scores worked out by hand."""
import pytest

from data_utils.errors import FuteError
from data_utils.squad_v2 import compute_exact, compute_f1, normalize_answer, squad_v2_scores


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("The Cat!", "cat"),
        ("  an  apple, a day ", "apple day"),
        ("theater Anthem", "theater anthem"),  # articles only as whole words
        ("A.B.C.", "abc"),
        ("Hello\tWorld\n", "hello world"),
        ("the-end", "theend"),  # punctuation goes first, so "the" is no longer a word
        ("", ""),
    ],
)
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_compute_exact():
    assert compute_exact("The Cat", "cat.") == 1
    assert compute_exact("cat", "cats") == 0
    assert compute_exact("", "the") == 1


def test_compute_f1_by_hand():
    # gold quick brown fox, pred quick fox jumps: 2 common, P = R = 2/3
    assert compute_f1("the quick brown fox", "quick fox jumps") == pytest.approx(2 / 3)
    # gold x y y z, pred y y y: common = min counts = 2, P = 2/3, R = 2/4
    p, r = 2 / 3, 2 / 4
    assert compute_f1("x y y z", "y y y") == pytest.approx(2 * p * r / (p + r))
    assert compute_f1("cat", "dog") == 0.0


@pytest.mark.parametrize("gold, pred, f1", [("", "", 1.0), ("the", "", 1.0), ("", "cat", 0.0), ("cat", "a", 0.0)])
def test_compute_f1_empty_sides(gold, pred, f1):
    assert compute_f1(gold, pred) == f1


# Four questions, two unanswerable:
#   q1 gold {Denver Broncos, Broncos}, pred "the Denver Broncos": exact 1, F1 1
#   q2 gold {Santa Clara, California}, pred "Clara California stadium": exact 0, F1 = 2/3 (P = R = 2/3)
#   q3 unanswerable, pred "": exact 1, F1 1
#   q4 unanswerable, pred "Levi's": exact 0, F1 0
REFERENCES = {
    "q1": ["Denver Broncos", "Broncos"],
    "q2": ["Santa Clara, California"],
    "q3": [],
    "q4": [],
}
PREDICTIONS = {"q1": "the Denver Broncos", "q2": "Clara California stadium", "q3": "", "q4": "Levi's", "extra": "x"}
PROBS = {"q1": 0.1, "q2": 0.3, "q3": 0.2, "q4": 0.5}


def test_four_questions_every_key():
    # References in reverse order: the sweep must follow the probabilities, not the dict order.
    scores = squad_v2_scores(PREDICTIONS, dict(reversed(REFERENCES.items())), PROBS)
    # No probability exceeds the default threshold 1.0, so the raw scores stand.
    # best_*: start from "all null" = 2 (q3, q4 right), then add questions by increasing probability:
    #   exact: q1 +1 -> 3 (best, at 0.1), q3 +0 (empty pred) -> 3, q2 +0 -> 3, q4 -1 -> 2
    #   f1:    q1 +1 -> 3, q3 +0 -> 3, q2 +2/3 -> 11/3 (best, at 0.3), q4 -1 -> 8/3
    expected = {
        "exact": 2 / 4,
        "f1": (1 + 2 / 3 + 1 + 0) / 4,
        "total": 4,
        "HasAns_exact": 1 / 2,
        "HasAns_f1": (1 + 2 / 3) / 2,
        "HasAns_total": 2,
        "NoAns_exact": 1 / 2,
        "NoAns_f1": 1 / 2,
        "NoAns_total": 2,
        "best_exact": 3 / 4,
        "best_exact_thresh": 0.1,
        "best_f1": (11 / 3) / 4,
        "best_f1_thresh": 0.3,
    }
    assert scores.keys() == expected.keys()
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value), key


def test_no_probabilities_means_all_zero():
    scores = squad_v2_scores(PREDICTIONS, REFERENCES)
    # All probabilities 0.0: the sweep visits q1 q2 q3 q4 in order; exact peaks at 3 after q1,
    # f1 at 11/3 after q2, both with threshold 0.0.
    assert scores["exact"] == pytest.approx(0.5)
    assert scores["best_exact"] == pytest.approx(3 / 4) and scores["best_exact_thresh"] == 0.0
    assert scores["best_f1"] == pytest.approx(11 / 12) and scores["best_f1_thresh"] == 0.0


@pytest.mark.parametrize(
    "threshold, exact, f1, noans_exact",
    [
        (0.5, 2 / 4, (1 + 2 / 3 + 1) / 4, 1 / 2),  # nothing nulled: q4 (0.5) is not > 0.5
        (0.45, 3 / 4, (1 + 2 / 3 + 1 + 1) / 4, 1.0),  # q4 (0.5) nulled: now right
        (0.2, 3 / 4, (1 + 0 + 1 + 1) / 4, 1.0),  # q2 (0.3) nulled too: answerable, so F1 0
    ],
)
def test_no_answer_threshold(threshold, exact, f1, noans_exact):
    scores = squad_v2_scores(PREDICTIONS, REFERENCES, PROBS, no_answer_threshold=threshold)
    assert scores["exact"] == pytest.approx(exact)
    assert scores["f1"] == pytest.approx(f1)
    assert scores["NoAns_exact"] == pytest.approx(noans_exact)
    # best_* use the raw scores, whatever the threshold
    assert scores["best_f1"] == pytest.approx(11 / 12)


def test_only_answerable_has_no_noans_keys():
    scores = squad_v2_scores({"a": "Broncos"}, {"a": ["Denver Broncos"]})
    assert "NoAns_total" not in scores and scores["HasAns_total"] == 1
    # one common token: P = 1, R = 1/2
    assert scores["f1"] == pytest.approx(2 * 0.5 / 1.5)
    assert scores["exact"] == 0.0


def test_gold_answers_normalising_to_empty_are_dropped():
    # a: "The" normalises to "", so a is answerable but scored against "": right.
    # b: gold "a" is dropped (else "" would match it), leaving "cat": wrong.
    scores = squad_v2_scores({"a": "", "b": ""}, {"a": ["The"], "b": ["a", "cat"]})
    assert scores["HasAns_total"] == 2
    assert scores["exact"] == pytest.approx(1 / 2)
    assert scores["f1"] == pytest.approx(1 / 2)


def test_missing_predictions_raise_with_count():
    with pytest.raises(FuteError, match="2 of 4"):
        squad_v2_scores({"q1": "x", "q2": "y"}, REFERENCES)
