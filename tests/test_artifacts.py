"""The artifacts that pass between stages: one writer and one reader each, older records still read, and
reading results (both tables) without loading torch."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from configs.methods import METHODS, method_of
from data_utils.artifacts.embeddings import EmbeddingInfo, read_embedding, write_embedding
from data_utils.artifacts.answers import read_answers
from data_utils.artifacts.llm_outputs import answered_verbalizer, first_word, is_verbalizer_word, label_distribution
from data_utils.errors import FuteError

ROOT = Path(__file__).parents[1]


def test_an_older_record_reads_as_the_record_written_today(tmp_path):
    """Records written before the typed entry (task "<llm>:p<k>", the rest in the run's config) give the same info."""
    vector = np.arange(1, 5, dtype=np.float32)
    info = EmbeddingInfo(method="prefix-fute", family="prefix", fute=True, kind="MTE", dataset=None, genre="nli",
                         model="llama-13b", llm=True, prompt=7, surrogate="t5-base", seed=3, dim=4)
    config = {"llm_mode": True, "task_type": "nli", "prompt_number": 7, "lm_model_name": "llama-13b",
              "llm_model": "llama-13b", "task_emb_type": "prefix", "is_baseline": False,
              "task_emb_model_lm_name": "t5-base", "seed": 3}
    write_embedding(tmp_path / "new.npy", vector, info, {"command": "run_task_emb.py", "config": config})
    np.save(tmp_path / "old.npy", vector)
    (tmp_path / "old.record.json").write_text(json.dumps({"command": "run_task_emb.py", "config": config,
        "embedding": {"task": "llama-13b:p7", "kind": "MTE", "method": "prefix-fute", "dim": 4, "dtype": "float32"}}))
    assert read_embedding(tmp_path / "old.npy").info == read_embedding(tmp_path / "new.npy").info == info
    assert info.label == "llama-13b:p7"
    # On disk the genre stands where the record's "task" always stood.
    assert list(json.loads((tmp_path / "new.record.json").read_text())["embedding"].items())[:6] == [
        ("method", "prefix-fute"), ("family", "prefix"), ("fute", True), ("kind", "MTE"), ("task", "nli"),
        ("model", "llama-13b")]
    # An older DTE and an LM's MTE: the dataset is the task, a DTE describes no model.
    for kind, model in (("DTE", None), ("MTE", "bert-base-uncased")):
        np.save(tmp_path / f"{kind}.npy", vector)
        (tmp_path / f"{kind}.record.json").write_text(json.dumps({"config": {
            "llm_mode": False, "lm_model_name": "bert-base-uncased", "task_emb_type": "fim", "is_baseline": False,
            "task_emb_model_lm_name": "t5-base", "seed": 42},
            "embedding": {"task": "mrpc", "kind": kind, "method": "fim-fute", "dim": 4}}))
        read = read_embedding(tmp_path / f"{kind}.npy").info
        assert (read.dataset, read.genre, read.model, read.llm, read.family, read.fute) == (
            "mrpc", None, model, False, "fim", True)


@pytest.mark.parametrize("llm, dataset, genre", [(True, "sst2", None), (True, "sst2", "sa"), (False, None, "sa"),
                                                  (False, "sst2", "sa"), (False, None, None)])
def test_an_embedding_names_a_dataset_or_a_genre_as_its_kind_does(llm, dataset, genre):
    """An LLM + prompt MTE describes a genre, any other embedding a dataset: never both, never the other one."""
    with pytest.raises(ValueError, match="names a genre and no dataset"):
        EmbeddingInfo(method="prefix-fute", family="prefix", fute=True, kind="MTE", dataset=dataset, genre=genre,
                      model="m", llm=llm, prompt=0 if llm else None, surrogate="t5-base", seed=42, dim=4)


def test_the_writer_refuses_a_vector_its_info_does_not_describe(tmp_path):
    info = EmbeddingInfo(method="textemb", family="text", fute=False, kind="DTE", dataset="cb", genre=None, model=None,
                         llm=False,
                         prompt=None, surrogate="t5-base", seed=42, dim=3)
    with pytest.raises(ValueError, match="does not match"):
        write_embedding(tmp_path / "x.npy", np.zeros(4, dtype=np.float32), info, {})
    assert not (tmp_path / "x.npy").exists()
    for bad in (np.nan, np.inf):
        with pytest.raises(FuteError, match="holds 1 NaN or inf values"):
            write_embedding(tmp_path / "x.npy", np.array([1.0, bad, 2.0], dtype=np.float32), info, {})
        assert not (tmp_path / "x.npy").exists() and not (tmp_path / "x.record.json").exists()


def test_each_family_and_schedule_has_one_method():
    assert method_of("prefix", fute=True).id == "prefix-fute" and method_of("fim", fute=False).id == "fim-baseline"
    assert method_of("text", fute=True) == method_of("text", fute=False)  # TextEmb trains nothing: one method
    assert len({(m.family, m.fute) for m in METHODS}) == len(METHODS)
    with pytest.raises(KeyError):
        method_of("lora", fute=True)


def test_label_distribution_is_max_per_label_then_softmax():
    view = label_distribution([0.5, 2.0, -1.0, 1.0], ["positive", "positive", "negative", "negative"],
                              ("negative", "positive"))
    expected = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    assert view["label_scores"] == [1.0, 2.0] and view["normalized_prob"] == pytest.approx(expected.tolist())
    assert view["normalized_pred"] == 1
    with pytest.raises(FuteError, match="no verbalizer score for label"):
        label_distribution([0.1], ["positive"], ("negative", "positive"))


@pytest.mark.parametrize("answer, mode, word, verbalizer", [
    ("yes", "single", "yes", True),
    ("\n YES", "single", "YES", True),  # case: the instruction asks for lower case, an answer in capitals is one
    ("No.", "single", "No.", True),  # punctuation and symbols at either end are cut
    ('"yes"', "single", '"yes"', True),
    ("**", "single", "**", False),
    ("The", "single", "The", False),
    ("\n\n", "single", "", False),  # every step blank: no answer
    ("unc", "first", "unc", True),  # "uncertain" split into tokens, scored at its first
    ("unc", "single", "unc", False),
    ("uncertainty", "first", "uncertainty", False),
])
def test_an_answer_is_a_verbalizer_by_its_first_word_without_case_and_marks(answer, mode, word, verbalizer):
    verbalizers = ["yes", "Yes", "no", "No", "uncertain"]
    assert first_word(answer) == word
    assert is_verbalizer_word(first_word(answer), verbalizers, mode) is verbalizer
    # A result written before the per-example field existed is judged from its answer; the field wins.
    assert answered_verbalizer({"answer": answer, "verbalizers": verbalizers}, mode) is verbalizer
    assert answered_verbalizer({"answer": answer, "verbalizers": verbalizers,
                                "first_word_is_verbalizer": not verbalizer}, mode) is not verbalizer
    assert answered_verbalizer({"word_scores": [0.1]}, mode) is None  # the original's layout: not known


@pytest.mark.parametrize("probs, problem", [
    ([0.2, 0.3, 0.5, 0.0], "normalized_prob holds 4 numbers for 3 labels; does --task_type nli"),
    ([0.2, 0.8], "normalized_prob holds 2 numbers for 3 labels"),
    ([0.5, float("nan"), 0.5], "normalized_prob holds a value that is not a finite number"),
    ([0.5, float("inf"), 0.5], "not a finite number"),
    ([1.2, -0.2, 0.0], "normalized_prob holds the negative value -0.2"),
    ([0.3, 0.3, 0.3], "normalized_prob sums to 0.9, not 1"),
    ([2.0, 1.0, 1.0], "sums to 4, not 1"),
    (["0.2", "0.3", "0.5"], "normalized_prob is not a list of numbers"),
    (0.5, "is not a list of numbers"),
    ([True, False, False], "is not a list of numbers"),
])
def test_a_y_prime_probability_that_is_no_distribution_names_file_line_and_field(tmp_path, probs, problem):
    """An MTE is trained on y' as given: a normalized_prob that is no distribution over the genre's labels is
    refused where it is, never used as is; a distribution rounded to 4 decimals is read."""
    lines = [{"data_index": i, "premise": f"p{i}", "hypothesis": "h", "normalized_prob": [0.3333, 0.3333, 0.3334]}
             for i in range(4)]
    path = tmp_path / "y.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_answers(path, "nli").probs[2] == [0.3333, 0.3333, 0.3334]
    lines[2]["normalized_prob"] = probs
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(FuteError, match=rf"y.jsonl:3: .*{re.escape(problem)}"):
        read_answers(path, "nli")


def test_derived_probabilities_of_non_finite_scores_name_the_scores(tmp_path):
    """A line in the original's layout (no normalized_prob): NaN verbalizer scores name token_info.word_scores."""
    line = {"data_index": 0, "content": "a film", "prompt_info": {"answer_choices": {"negative": ["no"],
            "positive": ["yes"]}}, "token_info": {"word_scores": [float("nan"), 1.0]}}
    (tmp_path / "y.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(FuteError, match=r"y.jsonl:1: token_info.word_scores holds a value that is not a finite"):
        read_answers(tmp_path / "y.jsonl", "sa")


def test_building_both_tables_does_not_import_torch(tmp_path):
    """run_eval.py transfer and prompt read JSON and .npy files only: the check runs in a fresh interpreter."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import run_eval
from data_utils.errors import FuteError
for argv in (["transfer", "--emb_dir", {str(tmp_path)!r}, "--score_dir", {str(tmp_path)!r}, "--save_path", "x"],
             ["prompt", "--inference_dir", {str(tmp_path)!r}, "--emb_dir", {str(tmp_path)!r}, "--save_path", "x"]):
    try:
        run_eval.main(argv)
    except FuteError:
        pass  # an empty folder: what matters is what was imported on the way
loaded = sorted(name for name in ("torch", "transformers") if name in sys.modules)
print("loaded:", ",".join(loaded))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("loaded:"), result.stdout
