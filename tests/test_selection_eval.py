"""Prompt-selection evaluation: Performance, Rate, NDCG per method, on hand examples and on 13 synthetic files."""
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from data_utils.errors import FuteError
from llm_inference import selection_eval
from llm_inference.selection_baselines import paper_names, table_order
from llm_inference.selection_files import find_prompt_sets, read_inference_file
from data_utils.metrics import NdcgSettings

NDCG = NdcgSettings("linear", None)
LABELS = {"sa": ["negative", "positive"], "nli": ["entailment", "neutral", "contradiction"]}
GENRE = {"sst2": "sa", "imdb": "sa", "rotten_tomatoes": "sa", "cb": "nli", "anli": "nli", "wanli": "nli"}
# Examples answered correctly by prompt p (of 10): accuracies 0.3, 0.7, ..., prompt 9 is the best.
CORRECT = [3, 7, 5, 9, 2, 6, 4, 8, 1, 10, 5, 6, 7]


def hand_macro_f1(preds, answers, num_labels):
    """Mean over the labels that occur of 2TP / (2TP + FP + FN), written out."""
    f1s = []
    for label in range(num_labels):
        tp = sum(p == label and a == label for p, a in zip(preds, answers))
        fp = sum(p == label and a != label for p, a in zip(preds, answers))
        fn = sum(p != label and a == label for p, a in zip(preds, answers))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def write_inference_file(folder: Path, model: str, dataset: str, prompt: int, answers, preds, conf: float,
                         ppl: float, data_index=None, name: str | None = None, said=None) -> Path:
    """One file in run_llm_inference.py's layout; the predicted label gets probability `conf`; `said`: what the
    model wrote for each example (token_info.answer; verbalizers yes/no), else no answers are kept."""
    genre = GENRE[dataset]
    num_labels = len(LABELS[genre])
    data_index = list(range(len(answers))) if data_index is None else list(data_index)
    results = []
    for i, (index, answer, pred) in enumerate(zip(data_index, answers, preds)):
        prob = np.full(num_labels, (1 - conf) / (num_labels - 1))
        prob[pred] = conf
        token_info = ({"word_scores": [], "verbalizers": []} if said is None else
                      {"word_scores": [], "verbalizers": ["yes", "no"], "answer": said[i]})
        results.append({"data_index": index, "data_entry": {"answer": int(answer)}, "input_prompt": "...",
                        "token_info": token_info, "prompt_ppl": ppl,
                        "label_scores": np.log(prob).tolist(), "normalized_prob": prob.tolist(),
                        "normalized_pred": int(pred), "normalized_answer": int(answer)})
    content = {"prompt_index": prompt, "prompt_info": {"number": prompt}, "task": genre, "dataset": dataset,
               "model": model, "bit": 8, "seed": 42, "variant": None, "cot": prompt >= 10,
               "summary": {"accuracy": float(np.mean(np.asarray(preds) == np.asarray(answers))),
                           "macro_f1": hand_macro_f1(preds, answers, num_labels), "num_examples": len(answers),
                           "labels": LABELS[genre]},
               "results": results}
    path = folder / (name or f"{model.replace('/', '_')}_{dataset}_{prompt}.json")
    path.write_text(json.dumps(content))
    return path


def synthetic_set(folder: Path, model: str = "llama-13b", dataset: str = "sst2", correct=CORRECT) -> dict:
    """13 files; prompt p is right on its first correct[p] of 10 examples, wrong on the rest."""
    num_labels = len(LABELS[GENRE[dataset]])
    answers = [i % num_labels for i in range(10)]
    preds, paths = [], []
    for prompt, k in enumerate(correct):
        pred = [a if i < k else (a + 1) % num_labels for i, a in enumerate(answers)]
        preds.append(pred)
        paths.append(write_inference_file(folder, model, dataset, prompt, answers, pred,
                                          conf=0.55 + 0.03 * prompt, ppl=10.0 + prompt))
    return {"paths": paths, "answers": answers, "preds": preds,
            "conf": [0.55 + 0.03 * p for p in range(13)], "ppl": [10.0 + p for p in range(13)]}


# ---------------------------------------------------------------- pure maths


def test_rank_prompts_breaks_ties_by_lower_prompt_number():
    assert selection_eval.rank_prompts([0.2, 0.9, 0.9, 0.1]) == [1, 2, 0, 3]
    with pytest.raises(FuteError):
        selection_eval.rank_prompts([0.1, float("nan")])


def test_evaluate_scores_by_hand_and_against_sklearn():
    performance = [0.5, 0.8, 0.2, 0.6]
    scores = [0.3, 0.1, 0.9, 0.4]  # picks prompt 2, the worst
    result = selection_eval.evaluate_scores(scores, performance, NDCG)
    assert result.selected == 2 and result.ranking == [2, 3, 0, 1]
    assert result.performance == pytest.approx(0.2)
    assert result.rate == pytest.approx(0.2 / 0.8)
    by_hand = (0.2 / 1 + 0.6 / np.log2(3) + 0.5 / 2 + 0.8 / np.log2(5)) / (0.8 + 0.6 / np.log2(3) + 0.5 / 2
                                                                        + 0.2 / np.log2(5))
    assert result.ndcg == pytest.approx(by_hand)
    assert result.ndcg == pytest.approx(ndcg_score([performance], [scores]))
    perfect = selection_eval.evaluate_scores(performance, performance, NDCG)
    assert (perfect.selected, perfect.rate, perfect.ndcg) == (1, 1.0, pytest.approx(1.0))
    with pytest.raises(FuteError, match="3 scores for 4 prompts"):
        selection_eval.evaluate_scores([1, 2, 3], performance, NDCG)


def test_summarise_averages_per_genre_and_blanks_a_method_missing_on_one_dataset():
    perf_a, perf_b = [0.4, 0.8, 0.6], [0.9, 0.3, 0.6]
    evaluations = [
        selection_eval.evaluate_dataset("m", "sst2", "sa", "accuracy", perf_a,
                                        {"mi": [3, 2, 1], "selfsel": [1, 2, 3]}, NDCG),
        selection_eval.evaluate_dataset("m", "imdb", "sa", "accuracy", perf_b, {"mi": [1, 2, 3]}, NDCG),
    ]
    summary = selection_eval.summarise(evaluations)
    mi = summary["m"]["sa"]["mi"]
    assert mi["performance"].mean == pytest.approx((0.4 + 0.6) / 2)
    assert mi["rate"].mean == pytest.approx((0.4 / 0.8 + 0.6 / 0.9) / 2)
    assert mi["ndcg"].mean == pytest.approx((ndcg_score([perf_a], [[3, 2, 1]]) + ndcg_score([perf_b], [[1, 2, 3]])) / 2)
    assert (mi["performance"].low, mi["performance"].high) == (0.4, 0.6)  # the resamples' means of two values
    assert mi["datasets"] == ["sst2", "imdb"]
    assert summary["m"]["sa"]["selfsel"] is None
    assert "nli" not in summary["m"]
    markdown = selection_eval.summary_markdown(summary, table_order(), paper_names())
    assert f"| SA | MI | {mi['performance'].cell(100)} | {mi['rate'].cell(100)} | {mi['ndcg'].cell(100)} |" in markdown
    assert "| SA | MI | 50.0 ± 10.0 |" in markdown
    assert "| SA | Self-Select | - | - | - |" in markdown


def test_tables_show_the_datasets_averaged_and_warn_when_llms_differ(caplog):
    perf = [0.4, 0.8, 0.6]
    evaluations = [
        selection_eval.evaluate_dataset("a", "imdb", "sa", "accuracy", perf, {"mi": [3, 2, 1]}, NDCG),
        selection_eval.evaluate_dataset("a", "sst2", "sa", "accuracy", perf, {"mi": [1, 2, 3]}, NDCG),
        selection_eval.evaluate_dataset("b", "sst2", "sa", "accuracy", perf, {"mi": [1, 2, 3]}, NDCG),
    ]
    with caplog.at_level("WARNING"):
        summary = selection_eval.summarise(evaluations)
    assert "SA averages cover different datasets per LLM (a: imdb, sst2; b: sst2)" in caplog.text
    order, names = table_order(), paper_names()
    markdown = selection_eval.summary_markdown(summary, order, names)
    assert "| SA | *datasets averaged* | 2 (imdb, sst2) |  |  | 1 (sst2) |  |  |" in markdown
    header, row = selection_eval.summary_csv(summary, order, names).splitlines()
    def numbers(m):
        return [f"{m}_{n}{p}" for n in ("performance", "rate", "ndcg") for p in ("", "_low", "_high")]
    assert header.split(",") == ["category", "method", "name", *numbers("a"), "a_num_datasets", "a_num_seeds",
                                 *numbers("b"), "b_num_datasets", "b_num_seeds"]
    assert row.split(",")[12:14] == ["2", "1"] and row.split(",")[23:25] == ["1", "1"]
    caplog.clear()
    with caplog.at_level("WARNING"):
        selection_eval.summarise(evaluations[1:2] + evaluations[2:])  # both on sst2 only
    assert "different datasets" not in caplog.text


# ---------------------------------------------------------------- 13 synthetic inference files


def test_performance_rate_ndcg_on_13_synthetic_files(tmp_path):
    data = synthetic_set(tmp_path)
    (prompts,) = find_prompt_sets(tmp_path)
    accuracy = np.array(CORRECT) / 10
    np.testing.assert_allclose(prompts.performance(), accuracy)
    # A method whose scores are the confidences picks the last prompt (12: 7 of 10 right).
    result = selection_eval.evaluate_scores(data["conf"], prompts.performance(), NDCG)
    assert result.selected == 12
    assert result.performance == pytest.approx(0.7)
    assert result.rate == pytest.approx(0.7 / 1.0)
    assert result.ndcg == pytest.approx(ndcg_score([accuracy], [data["conf"]]))


def test_nli_performance_is_macro_f1(tmp_path):
    synthetic_set(tmp_path, dataset="cb")
    (prompts,) = find_prompt_sets(tmp_path)
    assert prompts.genre == "nli" and prompts.metric == "macro_f1"
    answers = [i % 3 for i in range(10)]
    expected = [hand_macro_f1([a if i < k else (a + 1) % 3 for i, a in enumerate(answers)], answers, 3)
                for k in CORRECT]
    np.testing.assert_allclose(prompts.performance(), expected)
    assert not np.allclose(expected, np.array(CORRECT) / 10)  # macro-F1 is not accuracy here


def test_a_summary_that_disagrees_with_the_results_is_refused(tmp_path):
    path = write_inference_file(tmp_path, "m", "sst2", 0, [0, 1, 1], [0, 1, 0], 0.9, 5.0)
    content = json.loads(path.read_text())
    content["summary"]["accuracy"] = 0.9
    path.write_text(json.dumps(content))
    with pytest.raises(FuteError, match="summary says accuracy 0.9"):
        read_inference_file(path).performance()
