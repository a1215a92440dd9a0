"""run_prompt_selection_baselines.py end to end on 13 synthetic files; bad input; the original's file layout."""
import json
import logging

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

import run_prompt_selection_baselines as script
from data_utils.cli import run_entry
from data_utils.errors import FuteError
from llm_inference import prompt_selection as ps
from llm_inference import selection_baselines
from llm_inference.selection_baselines import BASELINES, SelectionBaseline
from llm_inference.selection_files import read_inference_file
from test_selection_eval import CORRECT, synthetic_set, write_inference_file


def stacked_probs(data):
    """[13, 10, 2] distributions rebuilt from what the test wrote, not from the reader."""
    probs = np.zeros((13, 10, 2))
    for p, (preds, conf) in enumerate(zip(data["preds"], data["conf"])):
        for i, pred in enumerate(preds):
            probs[p, i, pred], probs[p, i, 1 - pred] = conf, 1 - conf
    return probs


def test_end_to_end_scores_match_the_baseline_functions(tmp_path):
    data = synthetic_set(tmp_path)
    shuffled = data["paths"][7:] + data["paths"][:7]  # any order of --paths
    out = tmp_path / "out" / "scores"
    output = script.main(["--paths", ",".join(map(str, shuffled)), "--save_path", str(out)])
    written = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert written == json.loads(json.dumps(output))
    assert [k for k in written if k != "record"] == [baseline.id for baseline in BASELINES]
    assert all(len(written[baseline.id]) == 13 for baseline in BASELINES)

    probs = stacked_probs(data)
    np.testing.assert_allclose(written["mi"], ps.mutual_information(probs))
    np.testing.assert_allclose(written["zpm"], ps.zps_scores(probs, np.array(data["preds"]), "prob_mean"))
    # SPELL by hand: minus the perplexity, higher = better (prompt 0 has the lowest).
    np.testing.assert_allclose(written["spell"], [-(10.0 + p) for p in range(13)])
    # Self-Select: llama-13b on SA ranks 0, 1, ..., 12, so prompt p scores 13 - p.
    assert written["selfsel"] == [13.0 - p for p in range(13)]

    record = written["record"]
    assert (record["model"], record["dataset"], record["task"], record["metric"]) == \
        ("llama-13b", "sst2", "sa", "accuracy")
    assert record["num_examples"] == 10 and record["paths"] == [str(p) for p in data["paths"]]
    assert record["skipped"] == {}
    assert len(record["inputs_sha256"]) == 64


def test_the_scores_name_the_seed_of_the_inference_files_they_score(tmp_path):
    """The record's config names --seed, which must be the inference files' seed (42 by default): scores of seed
    7's files run without --seed 7 would be recorded as seed 42's."""
    data = synthetic_set(tmp_path)
    paths = []
    for path in data["paths"]:
        content = json.loads(path.read_text())
        content["seed"] = 7
        (tmp_path / f"seed7_{path.name}").write_text(json.dumps(content))
        paths.append(str(tmp_path / f"seed7_{path.name}"))
    save = ["--save_path", str(tmp_path / "s")]
    with pytest.raises(FuteError, match="were run with --seed 7, and the scores' record names --seed 42: pass "
                                        "--seed 7"):
        script.main(["--paths", ",".join(paths), *save])
    assert script.main(["--paths", ",".join(paths), *save, "--seed", "7"])["record"]["config"]["seed"] == 7


def test_keys_come_in_the_original_scripts_order(tmp_path):
    data = synthetic_set(tmp_path)
    output = script.main(["--paths", ",".join(map(str, data["paths"])), "--save_path", str(tmp_path / "s")])
    written = json.loads((tmp_path / "s.json").read_text())
    # The original's PromptSelectionMethodManager.methods order, kept by its json dump.
    expected = ["mi", "spell", "ge", "le", "mdl", "zlpm", "zpm", "zmv", "selfsel"]
    assert [k for k in written if k != "record"] == expected == [k for k in output if k != "record"]


def test_ties_count_the_files_predictions_in_global_entropy_and_zps(tmp_path):
    """As in the original, GE and the ZPS accuracy read normalized_pred, not argmax(normalized_prob)."""
    data = synthetic_set(tmp_path)
    tied = json.loads(data["paths"][0].read_text())
    # Prompt 0 is right on its first 3 of 10 examples (answers alternate 0, 1). Make examples 4, 6 and 8
    # (answer 0, predicted 1) exact ties: the file still predicts positive, argmax(probs) would say negative.
    for i in (4, 6, 8):
        assert tied["results"][i]["normalized_pred"] == 1
        tied["results"][i]["normalized_prob"] = [0.5, 0.5]
    data["paths"][0].write_text(json.dumps(tied))
    output = script.main(["--paths", ",".join(map(str, data["paths"])), "--save_path", str(tmp_path / "s")])
    # Prompt 0's predictions: 0, 1, 0 right, then the wrong labels 0, 1, 0, 1, 0, 1, 0 -> six 0s, four 1s;
    # argmax(probs) would turn the three tied 1s into 0s: nine 0s, one 1.
    preds = data["preds"][0]
    assert preds == [0, 1, 0, 0, 1, 0, 1, 0, 1, 0]
    assert output["ge"][0] == pytest.approx(-(0.6 * np.log(0.6) + 0.4 * np.log(0.4)))
    # ZPS: prompt 0's agreement with the pseudo-labels, counted with the file's predictions.
    probs = stacked_probs(data)
    probs[0, [4, 6, 8]] = 0.5
    kept = ps.zps_filter_prompts(ps.zps_confidence(probs))
    pseudo = probs[kept].mean(axis=0).argmax(axis=-1)
    assert output["zpm"][0] == pytest.approx(np.mean(np.array(preds) == pseudo))
    assert output["zpm"][0] != pytest.approx(np.mean(probs[0].argmax(axis=-1) == pseudo))


def test_self_select_hub_id_unknown_model_and_order_file(tmp_path, caplog):
    hub = tmp_path / "hub"
    hub.mkdir()
    paths = ",".join(map(str, synthetic_set(hub, model="meta-llama/Llama-2-70b-chat-hf")["paths"]))
    # The hub id is mapped to llama-70b, whose SA order starts 11, 4, 3.
    scores = script.main(["--paths", paths, "--save_path", str(tmp_path / "hub_scores")])["selfsel"]
    assert scores[11] == 13 and scores[4] == 12 and scores[8] == 1

    other = tmp_path / "other"
    other.mkdir()
    paths = ",".join(map(str, synthetic_set(other, model="my-llm")["paths"]))
    with caplog.at_level(logging.WARNING):
        output = script.main(["--paths", paths, "--save_path", str(tmp_path / "other_scores")])
    assert "selfsel" not in output and "selfsel" in output["record"]["skipped"]
    assert "Self-Select skipped" in caplog.text
    aliased = script.main(["--paths", paths, "--save_path", str(tmp_path / "as_mixtral"),
                           "--self_select_model", "mixtral"])
    assert aliased["selfsel"][9] == 13  # mixtral's SA order starts with 9

    order_file = tmp_path / "orders.json"
    order_file.write_text(json.dumps({"my-llm": {"sst2": [5, 0]}}))
    output = script.main(["--paths", paths, "--save_path", str(tmp_path / "ordered"),
                          "--self_select_order_file", str(order_file)])
    assert output["selfsel"][5] == 13 and output["selfsel"][0] == 12 and output["selfsel"][1] == 0
    with pytest.raises(FuteError, match="no Self-Select order for model 'nobody'"):
        script.main(["--paths", paths, "--save_path", str(tmp_path / "x"), "--self_select_order_file",
                     str(order_file), "--self_select_model", "nobody"])


def test_bad_input_is_refused_with_one_line(tmp_path):
    data = synthetic_set(tmp_path)
    paths = [str(p) for p in data["paths"]]
    save = ["--save_path", str(tmp_path / "s")]
    for wrong in (paths[:12], paths + [paths[0]]):
        with pytest.raises(FuteError, match=f"got {len(wrong)} inference files; 13 are needed, one per prompt 0-12"):
            script.main(["--paths", ",".join(wrong), *save])
    with pytest.raises(FuteError, match="prompt 3 appears twice"):
        script.main(["--paths", ",".join(paths[:4] + [paths[3]] + paths[5:]), *save])
    assert run_entry(script.main, ["--paths", ",".join(paths[:12]), *save]) == 2

    other_model = write_inference_file(tmp_path, "mixtral", "sst2", 5, [0, 1], [0, 1], 0.9, 3.0)
    with pytest.raises(FuteError, match="mix models llama-13b, mixtral"):
        script.main(["--paths", ",".join(paths[:5] + [str(other_model)] + paths[6:]), *save])
    other_dataset = write_inference_file(tmp_path, "llama-13b", "imdb", 5, [0, 1], [0, 1], 0.9, 3.0)
    with pytest.raises(FuteError, match="mix datasets imdb, sst2"):
        script.main(["--paths", ",".join(paths[:5] + [str(other_dataset)] + paths[6:]), *save])
    fewer = write_inference_file(tmp_path, "llama-13b", "sst2", 5, [0] * 10, [0] * 10, 0.9, 3.0,
                                 data_index=range(1, 11), name="shifted.json")
    with pytest.raises(FuteError, match="data_index lists differ"):
        script.main(["--paths", ",".join(paths[:5] + [str(fewer)] + paths[6:]), *save])
    for key, value in (("bit", 4), ("verbalizer_tokens", "first"), ("seed", 7), ("variant", "awq")):
        content = json.loads(data["paths"][12].read_text())
        content[key] = value
        odd = tmp_path / f"odd_{key}.json"
        odd.write_text(json.dumps(content))
        with pytest.raises(FuteError, match=f"mix {key} values .*{odd}.*pass 13 files run with one {key}"):
            script.main(["--paths", ",".join(paths[:12] + [str(odd)]), *save])
    ragged = json.loads(data["paths"][3].read_text())
    ragged["results"][4]["normalized_prob"] = [1.0]
    (tmp_path / "ragged.json").write_text(json.dumps(ragged))
    with pytest.raises(FuteError, match="ragged.json: normalized_prob must hold 2 numbers"):
        script.main(["--paths", ",".join(paths[:3] + [str(tmp_path / "ragged.json")] + paths[4:]), *save])
    for bad, problem in (([0.5, float("nan")], "not a finite number"), ([-0.2, 1.2], "negative value -0.2"),
                         ([0.3, 0.3], "sums to 0.6, not 1")):
        ragged["results"][4]["normalized_prob"] = bad
        (tmp_path / "bad.json").write_text(json.dumps(ragged))
        with pytest.raises(FuteError, match=f"bad.json: example 4's normalized_prob .*{problem}"):
            script.main(["--paths", ",".join(paths[:3] + [str(tmp_path / "bad.json")] + paths[4:]), *save])
    assert run_entry(script.main, ["--paths", ",".join(paths[:3] + [str(tmp_path / "ragged.json")] + paths[4:]),
                                   *save]) == 2
    not_inference = tmp_path / "scores.json"
    not_inference.write_text(json.dumps({"mi": [1, 2]}))
    with pytest.raises(FuteError, match="not an output of run_llm_inference.py"):
        script.main(["--paths", ",".join(paths[:12] + [str(not_inference)]), *save])


def test_a_file_in_the_original_layout_is_read(tmp_path):
    """The original wrote data_id, token_info and data_entry.answer (the hub's label index), nothing normalised."""
    content = {
        "prompt_index": 1, "task": "sa", "dataset": "sst2", "model": "llama-13b", "bit": "8", "seed": 42,
        "variant": None, "cot": False,
        "prompt_info": {"id": 1, "answer_choices": {"positive": ["good", "Good", "positive"],
                                                    "negative": ["bad", "Bad", "negative"]}},
        "results": [
            {"data_id": 7, "data_entry": {"text": "a", "answer": 1}, "input_promptt": "...", "prompt_ppl": 4.0,
             "token_info": {"word_scores": [2.0, 0.5, -1.0, -3.0, -0.5, -2.0],
                            "verbalizers": ["good", "Good", "positive", "bad", "Bad", "negative"]}},
            {"data_id": 2, "data_entry": {"text": "b", "answer": 0}, "input_promptt": "...", "prompt_ppl": 6.0,
             "token_info": {"word_scores": [-4.0, -5.0, -6.0, -1.5, -2.5, -3.0],
                            "verbalizers": ["good", "Good", "positive", "bad", "Bad", "negative"]}},
        ],
    }
    path = tmp_path / "original.json"
    path.write_text(json.dumps(content))
    run = read_inference_file(path)
    assert run.layout == "original" and run.data_index == (2, 7) and run.prompt == 1
    # Label scores (negative, positive) = max over each label's verbalizers, then softmax; sorted by data_id.
    for row, (negative, positive) in zip(run.probs, [(-1.5, -4.0), (-0.5, 2.0)]):
        expected = np.exp([negative, positive]) / np.exp([negative, positive]).sum()
        np.testing.assert_allclose(row, expected)
    assert run.preds.tolist() == [0, 1] and run.answers.tolist() == [0, 1]
    assert run.ppl.tolist() == [6.0, 4.0]
    assert run.performance() == 1.0


def test_every_flag_has_help():
    for action in script.build_parser()._actions:
        assert action.help, action.dest


def mean_max_probability(probs):
    """A baseline the registry does not have: per prompt, the mean over examples of the top label probability."""
    return probs.max(axis=-1).mean(axis=1)


def test_a_new_baseline_is_one_registry_entry_and_reaches_the_score_file_and_the_prompt_table(tmp_path, monkeypatch):
    import run_eval

    new = SelectionBaseline("maxp", "MaxProb", table_row=9, source="mean top label probability (this test)",
                            needs=("probs",), score=mean_max_probability)
    monkeypatch.setattr(selection_baselines, "BASELINES", (*selection_baselines.BASELINES, new))
    (tmp_path / "llm").mkdir()
    data = synthetic_set(tmp_path / "llm")
    script.main(["--paths", ",".join(map(str, data["paths"])), "--save_path", str(tmp_path / "ps" / "scores")])
    # Every example of prompt p gives its predicted label probability conf[p] > 0.5, the top one.
    written = json.loads((tmp_path / "ps" / "scores.json").read_text())
    assert list(written)[-2:] == ["maxp", "record"]
    np.testing.assert_allclose(written["maxp"], data["conf"])

    report = run_eval.main(["prompt", "--inference_dir", str(tmp_path / "llm"), "--baseline_scores",
                            str(tmp_path / "ps"), "--save_path", str(tmp_path / "table")])
    # conf rises with the prompt number: prompt 12 is chosen; prompt p is right on CORRECT[p] of 10 examples.
    performance = np.array(CORRECT) / 10
    expected = (12, performance[12], performance[12] / performance.max(), ndcg_score([performance], [data["conf"]]))
    result = report["datasets"][0]["methods"]["maxp"]
    assert (result["selected"], result["performance"], result["rate"]) == pytest.approx(expected[:3])
    assert result["ndcg"] == pytest.approx(expected[3])
    rows = (tmp_path / "table.md").read_text().splitlines()
    sa_rows = [row.split(" | ")[1] for row in rows if row.startswith("| SA | ")]
    assert sa_rows[-2:] == ["SPELL", "MaxProb"]  # table_row 9: after SPELL's 8
    assert f"| SA | MaxProb | {100 * expected[1]:.1f} | {100 * expected[2]:.1f} | {100 * expected[3]:.1f} |" in rows


def test_a_baseline_that_does_not_give_one_finite_score_per_prompt_is_refused(tmp_path, monkeypatch):
    broken = SelectionBaseline("half", "Half", table_row=9, source="this test", needs=("probs",),
                               score=lambda probs: mean_max_probability(probs)[:6])
    monkeypatch.setattr(selection_baselines, "BASELINES", (*selection_baselines.BASELINES, broken))
    data = synthetic_set(tmp_path)
    with pytest.raises(FuteError, match=r"baseline half returned \(6,\) values, not 13 finite scores"):
        script.main(["--paths", ",".join(map(str, data["paths"])), "--save_path", str(tmp_path / "s")])
    assert not (tmp_path / "s.json").exists()
