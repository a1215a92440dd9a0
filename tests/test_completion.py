"""The completion rule (data_utils/artifacts/completion.py): an output is finished when its record, written last,
is there. Each long writer is killed with a real SIGKILL at its worst moment (tests/killer.py); then the step is
not done, no reader takes what it left for finished, and the same command run again finishes it with the
result of a run never interrupted. Also: what readers of appended files do with a torn last line and with a
damaged line."""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import run_cr_train
import run_llm_inference
import run_eval
import run_llm_inference_for_te
import run_task_emb
from data_utils.artifacts.completion import recorded, unfinished, writing
from data_utils.artifacts.paths import record_path
from data_utils.artifacts.embeddings import load_embeddings
from data_utils.artifacts.answers import read_answers
from data_utils.artifacts.scores import load_finetune_runs
from data_utils.errors import FuteError
from data_utils.locks import OutputLock, lock_holder, lock_path
from data_utils.artifacts.result_log import ResultLog
from llm_lines import IDENTITY, y_line

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # one thread, as the tests here

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def killed(moment: list[str], script: str, argv: list[str]) -> None:
    """`python script argv`, killed by SIGKILL at `moment` (tests/killer.py); it must have died there."""
    result = subprocess.run([sys.executable, "tests/killer.py", *moment, script, *map(str, argv)], cwd=REPO, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]


def write_x(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"content": text, "data_index": i}) + "\n" for i, text in enumerate(texts)))
    return path


# ---------------------------------------------------------------- y' (appended)


def test_answers_killed_while_writing_their_last_line(tmp_path, tiny_llama):
    """The issue's case: x' of 5 lines, y' killed while writing the 5th: 4 lines and a torn one."""
    x_path = write_x(tmp_path / "sa_x.jsonl", ["Good film.", "A bad film.", "I loved it.", "Boring.", "Fine acting."])
    common = ["--data_load_path", x_path, "--model", tiny_llama, "--prompt_number", "1", "--task_genre", "sa",
              "--bit", "32", "--batch_size", "2", "--device", "cpu"]
    run_llm_inference_for_te.main([str(a) for a in ["--save_path", tmp_path / "full", *common]])
    y_path = tmp_path / "killed.jsonl"
    killed(["tear", "2", "killed.jsonl"], "run_llm_inference_for_te.py", ["--save_path", y_path, *common])

    torn = y_path.read_bytes()
    assert torn.count(b"\n") == 4 and not torn.endswith(b"\n")  # as many lines as x', the last one torn
    assert not recorded(y_path)
    command = unfinished(y_path)["command"]  # its pending record names the command that finishes it
    assert command.startswith(f"run_llm_inference_for_te.py --save_path {y_path} ")
    torn_message = r"killed.jsonl: its last line is half-written: the run writing it was killed, or is still running"
    with pytest.raises(FuteError, match=torn_message + r". Once it is not, run `python " + re.escape(command)):
        read_answers(y_path, "sa")
    assert y_path.read_bytes() == torn  # a reader leaves it alone: only the writer may cut it

    run_llm_inference_for_te.main([str(a) for a in ["--save_path", y_path, *common]])
    assert recorded(y_path) and recorded(tmp_path / "full.jsonl")
    full, resumed = read_answers(tmp_path / "full.jsonl", "sa"), read_answers(y_path, "sa")
    assert resumed.complete and full.complete and resumed.inputs == full.inputs
    assert np.allclose(resumed.probs, full.probs, atol=1e-6)

    # A finished file torn later (a second run killed while appending): its record no longer vouches for it.
    with open(y_path, "a") as handle:
        handle.write('{"data_index": 5, "token_in')
    assert not recorded(y_path)
    with pytest.raises(FuteError, match="its last line is half-written"):
        read_answers(y_path, "sa")




def test_a_damaged_line_inside_an_appended_file_is_not_a_torn_tail(tmp_path):
    """A line that ends with its newline but is not JSON was not torn by a kill: the reader and the writer both
    name the line and what to do, and neither cuts anything."""
    path = tmp_path / "y.jsonl"
    damaged = y_line(0) + y_line(1)[:30] + "\n" + y_line(2)
    path.write_text(damaged)
    message = r"y.jsonl:2: not a JSON line .*a damaged line .*delete it and run the script that wrote the file again"
    with pytest.raises(FuteError, match=message):
        read_answers(path, "sa")
    with pytest.raises(FuteError, match=message):
        ResultLog(path, IDENTITY).load()
    assert path.read_text() == damaged


def test_the_writer_cuts_a_torn_last_line_and_a_reader_reads_a_file_without_a_record_with_a_warning(tmp_path,
                                                                                                    caplog):
    path = tmp_path / "y.jsonl"
    path.write_text(y_line(0) + y_line(1) + y_line(2)[:25])
    with caplog.at_level(logging.WARNING):
        assert sorted(ResultLog(path, IDENTITY).load()) == [0, 1]
    assert path.read_text() == y_line(0) + y_line(1)
    assert "the last line was half-written" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="data_utils.artifacts.answers"):
        answers = read_answers(path, "sa")
    assert answers.inputs == [{"text": "text 0"}, {"text": "text 1"}] and not answers.complete
    assert "no y.record.json beside it" in caplog.text


# ---------------------------------------------------------------- LLM inference (partial log, then JSON + record)


@pytest.mark.parametrize("moment", [["tear", "1", "killed.json.partial.jsonl"], ["after", "killed.json"]],
                         ids=["mid-line of its partial log", "between its JSON and its record"])
def test_inference_killed_then_run_again_gives_the_uninterrupted_output(tmp_path, tiny_llama, moment):
    common = ["--model", tiny_llama, "--dataset_name", "sst2", "--dataset_path", SAMPLES / "sst2", "--prompt_number",
              "0", "--max_examples", "5", "--bit", "32", "--batch_size", "2", "--device", "cpu"]
    full = run_llm_inference.main([str(a) for a in ["--save_path", tmp_path / "full", *common]])
    output = tmp_path / "killed.json"
    killed(moment, "run_llm_inference.py", ["--save_path", output, *common])
    assert not recorded(output)

    resumed = run_llm_inference.main([str(a) for a in ["--save_path", output, *common]])
    assert recorded(output) and not Path(f"{output}.partial.jsonl").exists()
    assert resumed["summary"] == full["summary"]
    for a, b in zip(full["results"], resumed["results"]):
        assert a["data_index"] == b["data_index"] and a["normalized_pred"] == b["normalized_pred"]
        assert b["token_info"]["word_scores"] == pytest.approx(a["token_info"]["word_scores"], abs=1e-5)


# ---------------------------------------------------------------- x', embeddings, fine-tunes (file, then record)


def test_x_prime_killed_before_its_record_is_written_again_without_overwrite(tmp_path, tiny_t5, caplog):
    args = ["--task_type", "sa", "--input_type", "model", "--task_emb_type", "prefix", "--task_emb_model_lm_name",
            tiny_t5, "--generate_model_data_only", "True", "--unsup_data_path", SAMPLES / "unsup_pool.jsonl",
            "--max_data_for_task_emb_train", "5"]
    run_task_emb.main([str(a) for a in ["--save_path", tmp_path / "full.jsonl", *args]])
    x_path = tmp_path / "killed.jsonl"
    killed(["after", "killed.jsonl"], "run_task_emb.py", ["--save_path", x_path, *args])
    assert x_path.is_file() and not recorded(x_path)

    with caplog.at_level(logging.WARNING, logger="run_task_emb"):
        run_task_emb.main([str(a) for a in ["--save_path", x_path, *args]])
    assert "killed.jsonl: a run writing it did not finish (its record says so)" in caplog.text
    assert recorded(x_path) and x_path.read_text() == (tmp_path / "full.jsonl").read_text()
    with pytest.raises(FuteError, match="already exists; pass --overwrite True"):  # finished: kept
        run_task_emb.main([str(a) for a in ["--save_path", x_path, *args]])


def test_an_embedding_overwritten_and_killed_between_vector_and_record_is_finished_again(tmp_path, tiny_bert):
    """--overwrite on a finished embedding, killed once the new .npy is in place: its old record went first, so
    the pair is not taken for finished; the command run again (without --overwrite) finishes it."""
    path = tmp_path / "emb" / "sst2_dte.npy"
    args = [str(a) for a in [
        "--task_type", "cr", "--input_type", "data", "--task_emb_type", "prefix", "--is_baseline", "True",
        "--to_train_dataset", "sst2", "--dataset_path", SAMPLES / "sst2", "--task_emb_model_lm_name", tiny_bert,
        "--max_train_examples", "16", "--max_epochs", "1", "--batch_size", "8", "--gradient_accumulation_steps", "1",
        "--device", "cpu", "--save_path", path]]
    run_task_emb.main(args)
    first = np.load(path)
    killed(["after", "sst2_dte.npy"], "run_task_emb.py", [*args, "--overwrite", "True"])
    assert path.is_file() and not recorded(path)
    with pytest.raises(FuteError, match=r"sst2_dte.npy is left out: a run began writing it and did not finish "
                                        r"\(killed, or still running\); run `python run_task_emb.py --task_type cr"):
        load_embeddings(tmp_path / "emb")

    again = run_task_emb.main(args)
    assert recorded(path) and np.array_equal(again, first) and np.array_equal(np.load(path), first)
    assert [e.path for e in load_embeddings(tmp_path / "emb")] == [path]


@pytest.mark.parametrize("moment", ["torch_checkpoint.pt", "killed_score.json"],
                         ids=["between the checkpoint and its record", "between the score and its record"])
def test_a_fine_tune_killed_while_saving_is_finished_by_the_same_command(tmp_path, tiny_bert, moment):
    def argv(name: str) -> list[str]:
        return [str(a) for a in [
            "--to_train_dataset", "sst2", "--dataset_path", SAMPLES / "sst2", "--lm_model_name", tiny_bert,
            "--max_train_examples", "32", "--max_dev_examples", "16", "--max_epochs", "2", "--batch_size", "8",
            "--learning_rate", "1e-3", "--device", "cpu", "--model_save_path", tmp_path / f"{name}_ckpt",
            "--score_save_path", tmp_path / f"{name}_score.json"]]

    full = run_cr_train.main(argv("full"))
    killed(["after", moment], "run_cr_train.py", argv("killed"))
    score = tmp_path / "killed_score.json"
    assert not recorded(score)
    assert [run.path.name for run in load_finetune_runs(tmp_path)] == ["full_score.json"]
    if moment == "torch_checkpoint.pt":  # a transfer from the checkpoint stops before it trains
        with pytest.raises(FuteError, match="killed_ckpt is the checkpoint of a fine-tune that did not finish"):
            run_cr_train.main([*argv("transfer")[:-4], "--load_path", str(tmp_path / "killed_ckpt"),
                               "--score_save_path", str(tmp_path / "transfer_score.json")])

    resumed = run_cr_train.main(argv("killed"))
    assert resumed == pytest.approx(full, abs=1e-6)
    assert recorded(score) and (tmp_path / "killed_ckpt" / "fute_record.json").is_file()
    assert not (tmp_path / "killed_score.training_state.pt").exists()
    assert sorted(run.path.name for run in load_finetune_runs(tmp_path)) == ["full_score.json", "killed_score.json"]


# ---------------------------------------------------------------- a training state left behind


def copy_dataset(source: Path, folder: Path) -> Path:
    """A copy of the sample dataset `source` in `folder`, to be fixed in place later (`flip`)."""
    folder.mkdir()
    for split in source.iterdir():
        (folder / split.name).write_bytes(split.read_bytes())
    return folder


def flip(folder: Path) -> None:
    """Flip every train label of a binary dataset folder, in place (the tester's "fixed" data)."""
    rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    (folder / "train.jsonl").write_text("".join(json.dumps({**row, "label": 1 - row["label"]}) + "\n" for row in rows))


def fine_tune_argv(data: Path, model: Path, name: str, folder: Path) -> list[str]:
    return [str(a) for a in [
        "--to_train_dataset", "sst2", "--dataset_path", data, "--lm_model_name", model, "--max_train_examples", "24",
        "--max_dev_examples", "8", "--max_epochs", "2", "--batch_size", "8", "--learning_rate", "1e-3", "--device",
        "cpu", "--model_save_path", folder / f"{name}_ckpt", "--score_save_path", folder / f"{name}.json"]]


def embedding_argv(data: Path, model: Path, name: str, folder: Path) -> list[str]:
    return [str(a) for a in [
        "--task_type", "cr", "--input_type", "data", "--task_emb_type", "prefix", "--is_baseline", "True",
        "--to_train_dataset", "sst2", "--dataset_path", data, "--task_emb_model_lm_name", model,
        "--max_train_examples", "16", "--max_epochs", "2", "--batch_size", "8", "--gradient_accumulation_steps", "1",
        "--device", "cpu", "--save_path", folder / f"{name}.npy"]]


def trained(script: str, folder: Path, name: str):
    """What a run left that tells how it trained: the checkpoint's weights, or the embedding."""
    import torch

    if script == "run_cr_train.py":
        return torch.load(folder / f"{name}_ckpt" / "torch_checkpoint.pt", weights_only=True)
    return {"embedding": torch.from_numpy(np.load(folder / f"{name}.npy"))}


@pytest.mark.parametrize("script,argv,moment", [
    ("run_cr_train.py", fine_tune_argv, "killed.record.json@2"),  # the first is the pending record
    ("run_cr_train.py", fine_tune_argv, "killed.training_state.pt"),
    ("run_task_emb.py", embedding_argv, "killed.record.json@2"),
    ("run_task_emb.py", embedding_argv, "killed.training_state.pt")],
    ids=["fine-tune after its record", "fine-tune after epoch 1", "embedding after its record",
         "embedding after epoch 1"])
def test_a_training_state_of_other_data_is_never_resumed(tmp_path, tiny_bert, script, argv, moment):
    """The tester's D2: a run killed after its final record (its training state not yet deleted) or after its
    first epoch; the data fixed in place (every train label flipped). The same command is refused (a finished
    output; a state of other data); with --overwrite True it trains afresh, to what a clean run on the fixed data
    gives: never zero epochs on the new data, never old and new data mixed."""
    main = run_cr_train.main if script == "run_cr_train.py" else run_task_emb.main
    data = copy_dataset(SAMPLES / "sst2", tmp_path / "sst2")
    killed(["after", moment], script, argv(data, tiny_bert, "killed", tmp_path))
    state = tmp_path / "killed.training_state.pt"
    assert state.is_file()
    flip(data)

    refusal = "already exists; pass --overwrite True" if "record" in moment else (
        r"killed.training_state.pt holds the training state of another run \(it differs in train_data\)")
    with pytest.raises(FuteError, match=refusal):
        main(argv(data, tiny_bert, "killed", tmp_path))
    main(argv(data, tiny_bert, "clean", tmp_path))
    main([*argv(data, tiny_bert, "killed", tmp_path), "--overwrite", "True"])
    again, clean = trained(script, tmp_path, "killed"), trained(script, tmp_path, "clean")
    assert again.keys() == clean.keys() and all(torch_equal(again[key], clean[key]) for key in clean)
    assert recorded(tmp_path / ("killed.json" if script == "run_cr_train.py" else "killed.npy"))
    assert not state.exists()


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.allclose(a.float(), b.float(), atol=1e-6))


# ---------------------------------------------------------------- one writer per output

HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from data_utils.locks import OutputLock
with OutputLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(300)
"""


@pytest.fixture()
def hold():
    """hold(path): a process that holds the lock of `path` (data_utils.io.OutputLock) until the test ends, killed
    then with SIGKILL; returns what a refusal names it by: "pid <pid> on <host>"."""
    processes = []

    def start(path: Path) -> str:
        process = subprocess.Popen([sys.executable, "-c", HOLD.format(repo=str(REPO)), str(path)], cwd=REPO, env=ENV,
                                   stdout=subprocess.PIPE, text=True)
        processes.append(process)
        assert process.stdout.readline() == "held\n"
        return f"pid {process.pid} on {socket.gethostname()}"

    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_a_second_writer_is_refused_naming_the_first_and_a_kill_lets_go(tmp_path, hold):
    output = tmp_path / "out.json"
    first = hold(output)
    assert lock_holder(output) == first
    with pytest.raises(FuteError, match=re.escape(f"{output} is being written by another run ({first}); wait for it")):
        with OutputLock(output):
            pass
    pid = int(first.split()[1])
    os.kill(pid, signal.SIGKILL)  # the OS lets go of a dead process's lock: no kill leaves it held
    while lock_holder(output) is not None and time.sleep(0.05) is None and Path(f"/proc/{pid}").exists():
        pass
    assert lock_holder(output) is None
    with OutputLock(output):
        assert lock_holder(output) == f"pid {os.getpid()} on {socket.gethostname()}"
    assert not lock_path(output).exists() and lock_holder(output) is None


def test_temporaries_a_killed_write_left_are_removed_by_the_next_writer_of_that_output_only(tmp_path, caplog):
    """A kill inside atomic_open leaves `.<name>.XXXXXXXX.tmp`; the next writer of that output (holding its lock)
    removes it and its record's, and leaves every other file alone."""
    output = tmp_path / "out.json"
    write = ("import os, signal, sys; sys.path.insert(0, {repo!r}); from data_utils.io import atomic_open\n"
             "with atomic_open(sys.argv[1]) as handle:\n    handle.write('half'); handle.flush(); "
             "os.kill(os.getpid(), signal.SIGKILL)")
    for path in (output, record_path(output)):
        result = subprocess.run([sys.executable, "-c", write.format(repo=str(REPO)), str(path)], env=ENV)
        assert result.returncode == -signal.SIGKILL
    left = sorted(path.name for path in tmp_path.iterdir())
    assert len(left) == 2 and all(re.fullmatch(r"\.out(\.record)?\.json\.\w{8}\.tmp", name) for name in left)
    others = [tmp_path / ".other.json.abcd1234.tmp", tmp_path / ".out.json.tmp", tmp_path / "out.json.abcd1234.tmp"]
    for path in others:
        path.write_text("not ours")
    with caplog.at_level(logging.WARNING), writing(output):
        pass
    assert f"{output}: removed 2 temporary file(s) a killed run left" in caplog.text
    assert sorted(tmp_path.iterdir()) == sorted(others)


def writers(tmp_path: Path, tiny_llama: str) -> dict[str, tuple[Callable, list[str], Path]]:
    """Every entry script that writes an output: (its main, a command, the output whose lock it takes)."""
    x_path, tiny_llama = write_x(tmp_path / "sa_x.jsonl", ["Good film.", "Boring."]), str(tiny_llama)
    llm = ["--model", tiny_llama, "--prompt_number", "1", "--bit", "32", "--device", "cpu"]
    return {
        "y'": (run_llm_inference_for_te.main, ["--save_path", str(tmp_path / "y.jsonl"), "--data_load_path",
                                                str(x_path), "--task_genre", "sa", *llm], tmp_path / "y.jsonl"),
        "inference": (run_llm_inference.main, ["--save_path", str(tmp_path / "i.json"), "--dataset_name", "sst2",
                                               "--dataset_path", str(SAMPLES / "sst2"), "--max_examples", "2", *llm],
                      tmp_path / "i.json"),
        "embedding": (run_task_emb.main, ["--task_type", "cr", "--input_type", "data", "--task_emb_type", "prefix",
                                          "--to_train_dataset", "sst2", "--task_emb_model_lm_name", tiny_llama,
                                          "--save_path", str(tmp_path / "e.npy")], tmp_path / "e.npy"),
        "fine-tune": (run_cr_train.main, ["--to_train_dataset", "sst2", "--lm_model_name", tiny_llama,
                                          "--model_save_path", str(tmp_path / "ckpt"), "--score_save_path",
                                          str(tmp_path / "s.json")], tmp_path / "ckpt"),
        "table": (run_eval.main, ["transfer", "--emb_dir", str(tmp_path), "--score_dir", str(tmp_path),
                                  "--save_path", str(tmp_path / "t")], tmp_path / "t.csv")}


@pytest.mark.parametrize("writer", ["y'", "inference", "embedding", "fine-tune", "table"])
def test_every_writer_is_refused_while_another_run_writes_its_output(tmp_path, tiny_llama, hold, writer):
    """The tester's D3 without a sweep: two identical y' commands a second apart appended to one file. The second
    run of any writer is refused, naming the first, and changes nothing."""
    main, argv, output = writers(tmp_path, tiny_llama)[writer]
    first = hold(output)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(FuteError, match=re.escape(f"is being written by another run ({first})")):
        main(argv)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_y_file_with_an_example_twice_is_refused(tmp_path):
    """What two runs appending at once left (before y' files had a lock): the writer and --status refuse it."""
    y_path = tmp_path / "y.jsonl"
    y_path.write_text(y_line(0) + y_line(1) + y_line(0))
    with pytest.raises(FuteError, match=r"y.jsonl:3: data_index 0 appears twice: two runs wrote to y.jsonl at "
                                        r"once; run again with --overwrite True"):
        ResultLog(y_path, IDENTITY).load()


def test_a_command_is_compared_by_its_flags_not_their_order():
    """The same flags in another order (a sweep that now lists them otherwise, `--flag=value`) are the same command,
    as argparse reads them; another value, or a flag given or dropped, is a change named by its flag."""
    from data_utils.artifacts.completion import command_change

    record = {"argv": ["run_task_emb.py", "--task_type", "cr", "--max_epochs", "2", "--save_path", "a.npy"]}
    assert command_change(record, ["run_task_emb.py", "--save_path", "a.npy", "--max_epochs=2", "--task_type",
                                   "cr"]) is None
    assert command_change(record, ["run_task_emb.py", "--task_type", "cr", "--max_epochs", "3", "--save_path",
                                   "a.npy"]) == "--max_epochs 2, now 3"
    assert command_change(record, [*record["argv"], "--seed", "7"]) == "--seed (not given), now 7"
    assert command_change(record, ["run_cr_train.py", *record["argv"][1:]]) == (
        "argument 0 run_task_emb.py, now run_cr_train.py")
