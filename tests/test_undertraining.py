"""The under-training check reads the surrogate's own result (task_emb/undertraining.py): a DTE whose surrogate ends
at the guess that reads no input, and an MTE whose surrogate fits y' no better than a constant, are flagged whatever
their displacement; the numbers against computations written here."""
import json

import numpy as np
import pytest
import torch
from transformers.modeling_outputs import SequenceClassifierOutput

import run_task_emb
from configs.hparams import UNDERTRAINED_PREFIX_DISPLACEMENT
from task_emb.surrogate import Head, TrainingSet
from task_emb.undertraining import reasons, surrogate_result


def jsonl(rows) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.mark.parametrize("baseline", ["True", "False"])  # fixed epochs (one evaluation at the end), early stopping
def test_a_dte_whose_surrogate_ends_at_the_guess_is_flagged_whatever_its_displacement(tmp_path, tiny_bert, caplog,
                                                                                       baseline):
    """Every input reads the same, so the surrogate answers one class on every dev example: at best the
    always-positive guess, 8 of 15 = 0.533. A large learning rate moves the prefix far from e0, where
    the displacement rule alone said "undertrained": false."""
    data = tmp_path / "mine"
    data.mkdir()
    (data / "train.jsonl").write_text(jsonl({"sentence": "the same words", "label": label} for label in [0, 1] * 8))
    (data / "validation.jsonl").write_text(jsonl({"sentence": "the same words", "label": label}
                                                 for label in [1] * 8 + [0] * 7))
    with caplog.at_level("WARNING", logger="task_emb.undertraining"):
        run_task_emb.main(["--task_type", "cr", "--input_type", "data", "--task_emb_type", "prefix",
                           "--task_emb_model_lm_name", str(tiny_bert), "--is_baseline", baseline,
                           "--to_train_dataset", "sst2", "--dataset_path", str(data), "--learning_rate", "0.5",
                           "--max_epochs", "2", "--batch_size", "8", "--gradient_accumulation_steps", "1",
                           "--save_path", str(tmp_path / "dte")])
    config = json.loads((tmp_path / "dte.record.json").read_text())["config"]
    assert config["dev_guess"] == {"score": pytest.approx(8 / 15), "guess": "always positive"}
    diagnostics = config["diagnostics"]
    assert diagnostics["relative_displacement"] >= UNDERTRAINED_PREFIX_DISPLACEMENT  # not what flags it
    assert diagnostics["dev_score"] in (pytest.approx(8 / 15), pytest.approx(7 / 15))  # one class for all
    assert diagnostics["undertrained"] is True
    error = (8 / 15 * 7 / 15 / 15) ** 0.5  # one standard error of a score of 8/15 over the 15 dev examples
    assert diagnostics["undertrained_reasons"] == [
        f"surrogate dev score {diagnostics['dev_score']:.3f} <= 0.533 of the guess 'always positive' + {error:.3f} "
        f"(one standard error over 15 dev examples)"]
    assert "the DTE sst2 is under-trained: surrogate dev score" in caplog.text and "--max_epochs" in caplog.text


class Lookup(torch.nn.Module):
    """A classifier whose logits are a row of `table`, chosen by the first token: outputs the test knows."""

    def __init__(self, table: np.ndarray):
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(table, dtype=torch.float32))

    def forward(self, input_ids, attention_mask=None, **_):
        return SequenceClassifierOutput(logits=self.table[input_ids[:, 0]])


def bce(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean over every entry of BCE-with-logits, written out."""
    p = 1 / (1 + np.exp(-logits))
    return float(np.mean(-(targets * np.log(p) + (1 - targets) * np.log(1 - p))))


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bert)


def soft_set(targets: np.ndarray, target: str = "soft") -> TrainingSet:
    """x' number k is the token sequence [k, 5]; its y' is targets[k]."""
    features = [{"input_ids": [k, 5], "attention_mask": [1, 1], "labels": row.tolist()}
                for k, row in enumerate(targets)]
    return TrainingSet(features, Head("cr", ("negative", "positive"), target == "value"), target, "sst2")


def test_an_mte_surrogate_is_measured_against_the_best_constant_answer(tokenizer):
    rng = np.random.default_rng(0)
    targets = rng.dirichlet([1.0, 1.0], size=10)
    mean = targets.mean(axis=0)
    cpu = torch.device("cpu")

    # A surrogate that answers the mean of y' for every x': the best constant answer itself.
    constant = np.log(mean / (1 - mean))[None, :].repeat(10, axis=0)
    result = surrogate_result(Lookup(constant), soft_set(targets), tokenizer, 4, cpu, "bce", None)
    assert result == {"fit_loss": pytest.approx(bce(constant, targets), rel=1e-6),
                      "constant_loss": pytest.approx(bce(constant, targets), rel=1e-9), "fit_examples": 10}

    # A surrogate that answers each y' itself: better than any constant.
    exact = np.log(targets / (1 - targets))
    result = surrogate_result(Lookup(exact), soft_set(targets), tokenizer, 4, cpu, "bce", None)
    assert result["fit_loss"] == pytest.approx(bce(exact, targets), rel=1e-5)
    assert result["fit_loss"] < bce(constant, targets)
    assert reasons(result, None) == []

    # Soft cross-entropy: the constant answer is the mean distribution, its loss -sum_l y_l log mean_l.
    result = surrogate_result(Lookup(np.log(targets)), soft_set(targets), tokenizer, 4, cpu, "ce", None)
    assert result["constant_loss"] == pytest.approx(float(np.mean(-(targets * np.log(mean)).sum(axis=1))), rel=1e-9)
    assert result["fit_loss"] == pytest.approx(float(np.mean(-(targets * np.log(targets)).sum(axis=1))), rel=1e-5)


def test_a_regression_mte_is_checked_against_the_variance_of_y_prime(tokenizer):
    values = np.array([0.5, 1.0, 3.0, 4.5, 2.0])
    outputs = np.array([[0.6], [1.2], [2.5], [4.0], [2.0]])
    result = surrogate_result(Lookup(outputs), soft_set(values, "value"), tokenizer, 2, torch.device("cpu"), "bce",
                              None)
    assert result["constant_loss"] == pytest.approx(float(np.var(values)), rel=1e-9)
    assert result["fit_loss"] == pytest.approx(float(np.mean((outputs[:, 0] - values) ** 2)), rel=1e-5)


def test_the_rules_flag_at_or_below_the_guess_and_regression_dtes_have_none():
    guess = {"score": 0.6, "guess": "always negative"}
    assert reasons({"dev_score": 0.6}, guess) == [
        "surrogate dev score 0.600 <= 0.600 of the guess 'always negative'"]
    assert reasons({"dev_score": 0.61}, guess) == []
    # Clearly above: by more than one standard error of a score of 0.6 over 60 dev examples, sqrt(.24 / 60).
    error = (0.6 * 0.4 / 60) ** 0.5
    assert reasons({"dev_score": 0.6 + error - 1e-4}, guess, 60) == [
        f"surrogate dev score {0.6 + error - 1e-4:.3f} <= 0.600 of the guess 'always negative' + {error:.3f} (one "
        f"standard error over 60 dev examples)"]
    assert reasons({"dev_score": 0.6 + error + 1e-4}, guess, 60) == []
    assert reasons({"dev_score": 0.557}, {"score": 0.55, "guess": "always negative"}, 300)  # the sst2 DTE
    assert reasons({"dev_score": -0.2}, None) == []  # stsb: no guess to beat
    assert reasons({"fit_loss": 0.5, "constant_loss": 0.5}, None) == [
        "surrogate loss on x' 0.5000 >= 0.5000 of the constant answer (mean y')"]
    assert reasons({"fit_loss": 0.49, "constant_loss": 0.5}, None) == []
