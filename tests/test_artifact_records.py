"""Each hand-off's writer and reader together: what a reader gets from a file its writer wrote, that a file written
before the records were typed (literal JSON below, as the earlier writers wrote it) still reads, and that a
file of another run or a damaged one is refused with a line that names the fix."""
from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from data_utils.artifacts.answers import read_answers
from data_utils.artifacts.llm_outputs import (InferenceFile, InferenceSummary, read_finished_results,
                                              read_inference_file, write_inference_file)
from data_utils.artifacts.llm_records import AnswerCounts, LoggedResult, as_json
from data_utils.artifacts.model_inputs import ModelInput, read_model_inputs, write_model_inputs
from data_utils.artifacts.paths import partial_log_path, record_path
from data_utils.artifacts.result_log import ResultLog
from data_utils.artifacts.scores import (ScoreRecord, read_checkpoint_record, read_finetune_score, score_run_record,
                                         write_checkpoint_record, write_finetune_score)
from data_utils.errors import FuteError
from llm_lines import IDENTITY, PROMPT_INFO, answer_line, result

# The keys of a y' line and of an inference result as the writers before the typed records wrote them (the
# scripts' docstrings at main 02cd684): the typed writers write the same keys.
EARLIER_Y_KEYS = {"model", "task_genre", "prompt_index", "bit", "verbalizer_tokens", "chat_template_sha256", "seed",
                  "cot", "variant", "prompt_info", "data_index", "content", "data_entry", "input_prompt", "token_info",
                  "prompt_ppl", "label_scores", "normalized_prob", "normalized_pred"}
EARLIER_TOKEN_INFO_KEYS = {"word_scores", "verbalizers", "answer_step", "answer", "answer_scored", "first_word",
                           "first_word_is_verbalizer"}
EARLIER_INFERENCE_KEYS = {"prompt_index", "prompt_info", "task", "dataset", "model", "bit", "verbalizer_tokens",
                          "chat_template", "chat_template_sha256", "seed", "variant", "cot", "data", "summary",
                          "results"}


def earliest_line(index: int, prob: float = 0.75) -> dict:
    """A y' line as the first writer wrote it (token_info without answer_scored and first_word*)."""
    return {"model": "m", "task_genre": "sa", "prompt_index": 1, "bit": 16, "verbalizer_tokens": "single",
            "chat_template_sha256": "0" * 64, "seed": 0, "cot": False, "variant": None,
            "prompt_info": as_json(PROMPT_INFO), "data_index": index, "content": f"text {index}",
            "data_entry": {"text": f"text {index}", "answer": "none"}, "input_prompt": f"text {index} good or bad?",
            "token_info": {"word_scores": [0.0, 1.0], "verbalizers": ["bad", "good"], "answer_step": 0,
                           "answer": "good"},
            "prompt_ppl": 3.5, "label_scores": [0.0, 1.0], "normalized_prob": [1 - prob, prob], "normalized_pred": 1}


# ---------------------------------------------------------------- x'


def test_x_prime_reads_back_as_written_and_the_references_file_reads_too(tmp_path):
    written = [ModelInput(index, {"premise": f"p{index}", "hypothesis": f"h{index}"}) for index in range(2)]
    path = tmp_path / "x.jsonl"
    assert write_model_inputs(path, written) == 2
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"premise": "p0", "hypothesis": "h0", "data_index": 0}, {"premise": "p1", "hypothesis": "h1", "data_index": 1}]
    read = read_model_inputs(path, "nli")
    assert read == written and read[1].text_fields("nli") == ("p1", "h1")

    # The reference's x': no data_index (numbered by position), a field of its own (kept for the y' line).
    reference = tmp_path / "reference.jsonl"
    reference.write_text('{"content": "good film", "source": "imdb"}\n{"content": "dull"}\n')
    assert read_model_inputs(reference, "sa") == [ModelInput(0, {"content": "good film", "source": "imdb"}),
                                                  ModelInput(1, {"content": "dull"})]
    with pytest.raises(FuteError, match=r"reference.jsonl:1: no text field 'premise'.*is --task_genre right"):
        read_model_inputs(reference, "nli")
    with pytest.raises(FuteError, match=r"--data_load_path .*absent.jsonl not found; write the x' file first"):
        read_model_inputs(tmp_path / "absent.jsonl", "sa")


# ---------------------------------------------------------------- y' and the partial log


def test_a_y_prime_file_reads_back_as_written_for_training_and_for_resuming(tmp_path):
    path = tmp_path / "y.jsonl"
    log = ResultLog(path, IDENTITY)
    log.append([answer_line(1), answer_line(0)])  # in the order examples finish
    line = json.loads(path.read_text().splitlines()[0])
    assert set(line) == EARLIER_Y_KEYS and set(line["token_info"]) == EARLIER_TOKEN_INFO_KEYS
    assert "chat_history" not in line and "normalized_answer" not in line and line["variant"] is None

    answers = read_answers(path, "sa")
    assert answers.inputs == [{"text": "text 0"}, {"text": "text 1"}] and answers.probs == [[0.25, 0.75]] * 2
    assert (answers.model, answers.prompt) == ("m", 1)
    assert log.load() == {0: result(0), 1: result(1)}


def test_a_y_prime_file_of_the_first_writer_still_resumes_and_reads(tmp_path, caplog):
    path = tmp_path / "y.jsonl"
    path.write_text("".join(json.dumps(earliest_line(i, prob=0.6)) + "\n" for i in range(2)))
    done = ResultLog(path, IDENTITY).load()
    assert sorted(done) == [0, 1] and done[1].token_info.first_word is None
    # What the run writes of it again is what it read: the fields it lacked stay absent.
    earlier = {key: value for key, value in earliest_line(1, prob=0.6).items() if key in as_json(done[1])}
    assert as_json(done[1]) == earlier
    with caplog.at_level(logging.WARNING):
        assert read_answers(path, "sa").probs == [pytest.approx([0.4, 0.6])] * 2


def test_a_log_of_another_run_or_with_a_result_missing_a_field_is_refused(tmp_path):
    path = tmp_path / "y.jsonl"
    ResultLog(path, IDENTITY).append([answer_line(0)])
    with pytest.raises(FuteError, match=r"another run \(prompt_index=1, this run has prompt_index=2\)"):
        ResultLog(path, replace(IDENTITY, prompt_index=2)).load()
    damaged = earliest_line(1)
    del damaged["token_info"]["answer"], damaged["prompt_ppl"]
    path.write_text(json.dumps(damaged) + "\n")
    with pytest.raises(FuteError, match=r"y.jsonl:1 lacks prompt_ppl; use another --save_path, or run again with "
                                        r"--overwrite True"):
        ResultLog(path, IDENTITY).load()
    del damaged["content"]
    damaged["prompt_ppl"] = 1.0
    path.write_text(json.dumps(damaged) + "\n")
    with pytest.raises(FuteError, match=r"y.jsonl:1 token_info lacks answer"):
        ResultLog(path, IDENTITY).load()


def test_the_partial_log_holds_identity_and_result_and_reads_back(tmp_path):
    identity = replace(IDENTITY, task_genre=None, dataset="sst2", cot_max_new_tokens=64)
    log = ResultLog(partial_log_path(tmp_path / "out.json"), identity)
    log.append([LoggedResult(identity=identity, result=result(0, gold=1))])
    assert log.path.name == "out.json.partial.jsonl"
    line = json.loads(log.path.read_text())
    assert line["dataset"] == "sst2" and line["cot_max_new_tokens"] == 64 and "task_genre" not in line
    assert line["normalized_answer"] == 1
    assert log.load() == {0: result(0, gold=1)}


# ---------------------------------------------------------------- inference files


def inference_file(results, identity) -> InferenceFile:
    correct = sum(r.normalized_pred == r.normalized_answer for r in results)
    summary = InferenceSummary(accuracy=correct / len(results), macro_f1=0.0, num_examples=len(results),
                               labels=["negative", "positive"], split={"rows": 3, "examples": 3},
                               counts=AnswerCounts(unscored_answers=0, non_verbalizer_answers=0,
                                                   non_verbalizer_words={}))
    return InferenceFile(prompt_info=PROMPT_INFO, task="sa", identity=identity,
                         chat_template={"source": "tokenizer", "sha256": "0" * 64}, seed=0, cot=False,
                         summary=summary, results=results, data={"name": "sst2", "digest": None})


def test_an_inference_file_reads_back_as_written_and_resumes(tmp_path):
    identity = replace(IDENTITY, task_genre=None, dataset="sst2")
    results = [result(0, gold=1, prob=0.9), result(1, gold=0, prob=0.8), result(2, gold=1, prob=0.7)]
    path = tmp_path / "sst2_p1.json"
    content = write_inference_file(path, inference_file(results, identity))
    assert json.loads(path.read_text()) == content and set(content) == EARLIER_INFERENCE_KEYS
    assert content["summary"]["non_verbalizer_words"] == {} and content["summary"]["split"] == {"rows": 3,
                                                                                              "examples": 3}
    outputs = read_inference_file(path)
    assert (outputs.model, outputs.dataset, outputs.genre, outputs.prompt, outputs.layout) == ("m", "sst2", "sa", 1,
                                                                                              "fute")
    assert outputs.probs.tolist() == [pytest.approx([0.1, 0.9]), pytest.approx([0.2, 0.8]), pytest.approx([0.3, 0.7])]
    assert outputs.answers.tolist() == [1, 0, 1] and outputs.performance() == pytest.approx(2 / 3)
    assert read_finished_results(path, identity) == {r.data_index: r for r in results}
    with pytest.raises(FuteError, match=r"holds results of another run \(bit=16, this run has bit=8\)"):
        read_finished_results(path, replace(identity, bit=8))


def test_an_inference_file_written_before_the_typed_records_still_resumes(tmp_path):
    """The earlier writer's layout: prompt_index first, identity keys beside it, results with the first writer's
    token_info."""
    identity = replace(IDENTITY, task_genre=None, dataset="sst2")
    results = []
    for index in range(2):
        line = earliest_line(index)
        results.append({key: line[key] for key in ("data_index", "data_entry", "input_prompt", "token_info",
                                                    "prompt_ppl", "label_scores", "normalized_prob",
                                                    "normalized_pred")} | {"normalized_answer": 1})
    earlier = {"prompt_index": 1, "prompt_info": as_json(PROMPT_INFO), "task": "sa", "model": "m", "dataset": "sst2",
               "bit": 16, "verbalizer_tokens": "single", "chat_template_sha256": "0" * 64,
               "chat_template": {"source": "tokenizer", "sha256": "0" * 64}, "seed": 0, "variant": None, "cot": False,
               "summary": {"accuracy": 1.0}, "results": results, "data": None}
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps(earlier))
    done = read_finished_results(path, identity)
    assert [as_json(done[i]) for i in range(2)] == results
    assert read_inference_file(path).performance() == 1.0


# ---------------------------------------------------------------- fine-tuning scores


def score_record(**changes) -> ScoreRecord:
    return replace(ScoreRecord(to_train_dataset="rte", task_type="cr", main_metric="accuracy",
                               data={"name": "rte", "task": "cr", "family": "glue", "digest": None},
                               load_path="ckpt/mnli", source_dataset="mnli",
                               source_data={"name": "mnli", "task": "cr", "family": "glue", "digest": None},
                               num_train_examples=40, num_dev_examples=10,
                               dev_guess={"score": 0.5, "guess": "entailment"}), **changes)


def test_a_score_reads_back_with_what_it_is_of(tmp_path):
    path = tmp_path / "mnli__rte_score.json"
    flags = {"to_train_dataset": "rte", "load_path": "ckpt/mnli", "learning_rate": 1e-5, "device": "cpu"}
    record = score_run_record({"command": "run_cr_train.py ...", "config": flags}, score_record())
    write_finetune_score(path, {"accuracy": 0.7, "best": 0.7}, record)
    config = json.loads(record_path(path).read_text())["config"]
    assert config["learning_rate"] == 1e-5 and config["dev_guess"] == {"score": 0.5, "guess": "entailment"}
    run = read_finetune_score(path)
    assert (run.target.name, run.source.name, run.best, run.scores) == ("rte", "mnli", 0.7, {"accuracy": 0.7,
                                                                                             "best": 0.7})
    assert run.about == score_record() and run.num_train_examples == 40
    with pytest.raises(FuteError, match="no 'best' entry"):
        write_finetune_score(tmp_path / "s.json", {"accuracy": 0.7}, record)


def test_a_score_recorded_before_its_later_fields_reads_and_a_pending_one_is_skipped(tmp_path, caplog):
    path = tmp_path / "rte_score.json"
    path.write_text(json.dumps({"accuracy": 0.6, "best": 0.6}))
    record_path(path).write_text(json.dumps({"command": "run_cr_train.py", "config": {
        "to_train_dataset": "rte", "load_path": None, "num_train_examples": 40, "task_type": "cr"}}))
    run = read_finetune_score(path)
    assert (run.target.name, run.source, run.best) == ("rte", None, 0.6)
    assert run.about == ScoreRecord(to_train_dataset="rte", task_type="cr", num_train_examples=40)
    record_path(path).write_text(json.dumps({"finished": False, "command": "run_cr_train.py --to_train_dataset rte",
                                             "config": {"to_train_dataset": "rte"}}))
    with caplog.at_level(logging.WARNING):
        assert read_finetune_score(path) is None
    assert "run `python run_cr_train.py --to_train_dataset rte` again" in caplog.text
    record_path(path).write_text(json.dumps({"config": {"to_train_dataset": "rte"}}))
    path.write_text(json.dumps({"best": None}))
    with pytest.raises(FuteError, match=r"'best' is None, not a finite number"):
        read_finetune_score(path)


def test_a_checkpoints_record_reads_back_with_what_it_was_fine_tuned_on(tmp_path):
    """fute_record.json inside a checkpoint folder: the score's record; a folder without one is no fine-tune of
    ours (None), and a record naming no dataset is refused with the fix."""
    record = score_run_record({"command": "run_cr_train.py ...", "config": {"to_train_dataset": "rte"}},
                              score_record())
    (tmp_path / "ckpt").mkdir()
    write_checkpoint_record(tmp_path / "ckpt", record)
    about = read_checkpoint_record(tmp_path / "ckpt")
    assert about == score_record() and about.dataset().name == "rte"
    assert read_checkpoint_record(tmp_path) is None
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "fute_record.json").write_text(json.dumps({"config": {"to_train_dataset": "mrpc"}}))
    old = read_checkpoint_record(tmp_path / "old")
    assert old == ScoreRecord(to_train_dataset="mrpc") and (old.dataset().name, old.dataset().digest) == ("mrpc", None)
    (tmp_path / "old" / "fute_record.json").write_text(json.dumps({"config": {"seed": 1}}))
    with pytest.raises(FuteError, match="no config.to_train_dataset.*repair or delete it"):
        read_checkpoint_record(tmp_path / "old")
