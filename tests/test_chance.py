"""The guesses a dev score must beat (data_utils/chance.py), against counts done by hand."""
import pytest

from data_utils.declarations import DATASETS
from data_utils.chance import chance_score, constant_class_score, first_span_score


def test_majority_class_accuracy_for_an_accuracy_dataset():
    examples = [{"text": "x", "label": label} for label in (0, 0, 0, 1, 1)]
    assert chance_score(DATASETS["sst2"], examples) == (pytest.approx(3 / 5), "always negative")


def test_always_positive_f1_for_an_f1_dataset_even_when_the_negatives_are_the_majority():
    examples = [{"text": "a", "text_pair": "b", "label": label} for label in (0, 0, 0, 1)]
    positive = 1 / 4  # F1 of "always positive" = 2p / (1 + p); "always negative" scores 0
    assert constant_class_score(DATASETS["mrpc"], examples) == (pytest.approx(2 * positive / (1 + positive)),
                                                                "always equivalent")


def test_regression_has_no_constant_guess():
    assert constant_class_score(DATASETS["stsb"], [{"text": "a", "text_pair": "b", "label": 2.5}]) is None


def qa(qid, context, answers):
    return {"id": qid, "context": context, "question": "?", "answers": {"text": answers, "answer_start": [0] * len(answers)}}


def test_first_span_takes_the_best_number_of_leading_words():
    examples = [qa("1", "Paris Hilton went home", ["Paris Hilton"]), qa("2", "Rome is old", ["Rome"])]
    # k=1: F1 2/3 ("Paris" vs "Paris Hilton") and 1; k=2: 1 and 2/3 ("Rome is" vs "Rome"): equal, k=1 first
    assert first_span_score(examples) == (pytest.approx((2 / 3 + 1) / 2), "first 1 word")
    examples.append(qa("3", "Lima and more words here", ["Lima and"]))
    assert first_span_score(examples) == (pytest.approx((1 + 2 / 3 + 1) / 3), "first 2 words")


def test_no_answer_wins_when_most_questions_have_none():
    examples = [qa("1", "Oslo is cold", []), qa("2", "Bern is small", []), qa("3", "Kyiv is big", ["Kyiv"])]
    assert chance_score(DATASETS["cq"], examples) == (pytest.approx(2 / 3), "no answer")
