"""The paper's sweeps (scripts/sweep.py, and the scripts/sweep_*.sh that call it): the commands they list,
that every command is accepted by its entry script's parser, that finished steps are skipped, the job
list with its dependencies, N steps at a time over GPUs, and SLURM job arrays."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import shlex
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from configs.hparams import UNSUP_POOL
from data_utils.artifacts.paths import record_path
from data_utils.errors import FuteError
from sweeps import launch, paper
from sweeps.graph import Graph, Step
from sweeps.options import SweepOptions

REPO = Path(__file__).resolve().parent.parent
SWEEPS = ("finetune", "task_emb", "llm", "eval")
ENTRY_SCRIPTS = {"run_cr_train.py", "run_qa_train.py", "run_task_emb.py", "run_llm_inference.py",
                 "run_llm_inference_for_te.py", "run_prompt_selection_baselines.py", "run_eval.py"}
SMALL = ["--cr_datasets", "mrpc,rte", "--qa_datasets", "cq", "--llm_datasets", "sst2,cb", "--prompts", "0,10",
         "--llms", "llama-13b"]


def sweep(name: str, out: Path, *flags: str, python: str = sys.executable, dry_run: bool = True,
          timeout: int = 60) -> subprocess.CompletedProcess:
    """scripts/sweep.py run by this Python; its steps by `python` ($PYTHON)."""
    argv = [sys.executable, str(REPO / "scripts" / "sweep.py"), name, "--out", str(out), *flags]
    env = {**os.environ, "PYTHON": python}
    return subprocess.run(argv + (["--dry_run"] if dry_run else []), capture_output=True, text=True, env=env,
                          cwd=out.parent, timeout=timeout)


def commands(name: str, out: Path, *flags: str) -> list[list[str]]:
    """The dry run's stdout, one shlex-split command per line."""
    result = sweep(name, out, *flags)
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("seeds", [(), ("--seeds", "1,2")], ids=["default seed", "two seeds"])
def test_finetune_lists_exact_commands(tmp_path, seeds):
    """Per seed (42 by default): every fine-tune and transfer, into <out>/seed<n>/, given --seed n."""
    out = tmp_path / "result"

    def train(seed, script, target, source=None):
        ft = f"{out}/seed{seed}/finetune"
        cmd = [sys.executable, script, "--to_train_dataset", target, "--lm_model_name", "bert-base-uncased"]
        if source is None:
            cmd += ["--model_save_path", f"{ft}/{target}_ckpt", "--score_save_path", f"{ft}/{target}_score.json"]
        else:
            cmd += ["--load_path", f"{ft}/{source}_ckpt",
                    "--score_save_path", f"{ft}/transfer/{source}__{target}_score.json"]
        return cmd + ["--seed", str(seed)]

    cr, qa = "run_cr_train.py", "run_qa_train.py"
    expected = [train(seed, *args) for seed in ([1, 2] if seeds else [42]) for args in (
        (cr, "mrpc"), (cr, "rte"), (qa, "cq"), (cr, "mrpc", "rte"), (cr, "mrpc", "cq"),
        (cr, "rte", "mrpc"), (cr, "rte", "cq"), (qa, "cq", "mrpc"), (qa, "cq", "rte"))]
    assert commands("finetune", out, *SMALL, *seeds) == expected


def test_llm_lists_exact_commands(tmp_path):
    out = tmp_path / "result"
    te, py = f"{out}/seed42/llm_te", sys.executable
    expected = [[py, "run_task_emb.py", "--task_type", g, "--input_type", "model", "--task_emb_type", "prefix",
                 "--generate_model_data_only", "True", "--max_data_for_task_emb_train", "100",
                 "--task_emb_model_lm_name", "t5-base", "--save_path", f"{te}/{g}_x.jsonl", "--seed", "42"]
                for g in ("sa", "nli")]
    # One command per LLM for every (set, prompt) and one per (LLM, genre) for y': one model load each.
    expected += [[py, "run_llm_inference.py", "--model", "llama-13b", "--bit", "8", "--dataset_name", "sst2,cb",
                  "--prompt_number", "0,10", "--save_path", f"{out}/seed42/llm/llama-13b/{{dataset}}_p{{prompt}}.json",
                  "--seed", "42"]]
    expected += [[py, "run_llm_inference_for_te.py", "--model", "llama-13b", "--bit", "8", "--task_genre", g,
                  "--prompt_number", "0,10", "--data_load_path", f"{te}/{g}_x.jsonl",
                  "--save_path", f"{te}/llama-13b_{g}_p{{prompt}}.jsonl", "--seed", "42"] for g in ("sa", "nli")]
    expected += [[py, "run_task_emb.py", "--task_type", g, "--input_type", "model", "--llm_mode", "True",
                  "--task_emb_type", t, "--load_path", f"{te}/llama-13b_{g}_p{p}.jsonl", "--lm_model_name",
                  "llama-13b", "--task_emb_model_lm_name", "t5-base",
                  "--save_path", f"{out}/seed42/emb/{t}-fute/llama-13b_{g}_p{p}_mte.npy", "--seed", "42"]
                 for t in ("prefix", "fim") for g in ("sa", "nli") for p in ("0", "10")]
    # Two of 13 prompts: the selection baselines wait for the others (a note, no command).
    assert commands("llm", out, *SMALL) == expected
    assert "waits for prompts 1,2,3,4,5,6,7,8,9,11,12" in sweep("llm", out, *SMALL).stderr


def test_a_backend_reaches_every_llm_step_and_is_checked_against_every_llm(tmp_path):
    """--backend llamacpp goes to both LLM steps of each GGUF file (and nowhere else); an LLM it cannot read is
    refused before any step is listed, naming the LLM and the fix."""
    out, gguf = tmp_path / "result", tmp_path / "small.gguf"
    gguf.write_bytes(b"GGUF")
    flags = [*SMALL[:-1], str(gguf), "--bit", "32", "--backend", "llamacpp"]
    listed = commands("llm", out, *flags)
    llm_steps = [cmd for cmd in listed if cmd[1] in ("run_llm_inference.py", "run_llm_inference_for_te.py")]
    assert len(llm_steps) == 3 and all(cmd[cmd.index("--backend") + 1] == "llamacpp" for cmd in llm_steps)
    assert not any("--backend" in cmd for cmd in listed if cmd not in llm_steps)
    for cmd in llm_steps:
        _check_accepted(cmd)
    refused = sweep("llm", out, *SMALL, "--bit", "32", "--backend", "llamacpp")
    assert refused.returncode != 0 and "--llms llama-13b: --backend llamacpp reads a .gguf file" in refused.stderr


def _check_accepted(cmd: list[str]) -> None:
    """cmd[1] is an entry script and its parse_args accepts cmd[2:] (argparse exits on a rejected flag)."""
    script = cmd[1]
    assert script in ENTRY_SCRIPTS, cmd
    module = importlib.import_module(script.removesuffix(".py"))
    try:
        module.parse_args(cmd[2:])
    except SystemExit as err:
        pytest.fail(f"{shlex.join(cmd)} rejected by {script}'s parser (exit {err.code})")
    except FuteError as err:  # only a check on an input file that the dry run never made is acceptable
        assert any(arg in str(err) for arg in cmd[2:] if "/" in arg), f"{shlex.join(cmd)}: {err}"


@pytest.mark.parametrize("name", SWEEPS)
def test_every_command_is_accepted(tmp_path, name, capsys):
    extra = ["--extra", "--log_level WARNING", "--te_extra", "--log_level WARNING"]
    listed = commands(name, tmp_path / "result", *SMALL, *extra, "--seeds", "3,42")
    assert listed
    for cmd in listed:
        assert cmd[0] == sys.executable
        _check_accepted(cmd)
    # --extra reaches every step except the eval plots and space table (it goes to the transfer and prompt tables);
    # every step of one seed ends with its --seed, the tables (of every seed) have none.
    tables = [cmd for cmd in listed if cmd[1] == "run_eval.py"]
    assert all("--seed" not in cmd for cmd in tables) and (name == "eval") == bool(tables)
    seeded = {seed: [cmd for cmd in listed if cmd[-4:] == ["--log_level", "WARNING", "--seed", seed]]
              for seed in ("3", "42")}
    assert len(seeded["3"]) == len(seeded["42"]) == (len(listed) - len(tables)) / 2
    assert all(f"/seed{seed}/" in " ".join(cmd) for seed, cmds in seeded.items() for cmd in cmds)
    without = [cmd for cmd in tables if cmd[1:3] in (["run_eval.py", "plot"], ["run_eval.py", "space"])]
    assert all(cmd[-2:] == ["--log_level", "WARNING"] for cmd in tables if cmd not in without)


def test_selection_baselines_cover_all_13_prompts(tmp_path):
    out = tmp_path / "result"
    listed = commands("llm", out, "--llm_datasets", "sst2", "--llms", "llama-13b")
    selection = [cmd for cmd in listed if cmd[1] == "run_prompt_selection_baselines.py"]
    expected_paths = ",".join(f"{out}/seed42/llm/llama-13b/sst2_p{p}.json" for p in range(13))
    assert selection == [[sys.executable, "run_prompt_selection_baselines.py", "--paths", expected_paths,
                          "--save_path", f"{out}/seed42/selection/llama-13b_sst2.json", "--seed", "42"]]
    _check_accepted(selection[0])
    inference = [cmd for cmd in listed if cmd[1] == "run_llm_inference.py"]
    assert len(inference) == 1 and inference[0][inference[0].index("--prompt_number") + 1] == ",".join(
        map(str, range(13)))
    _check_accepted(inference[0])


def test_the_prompt_table_waits_for_all_13_prompts_of_every_set(tmp_path):
    """As the selection baselines it reads: with prompts missing (neither in --prompts nor finished) the eval sweep
    leaves the prompt table out and says why; with all 13 it is there."""
    out = tmp_path / "result"
    partial = sweep("eval", out, *SMALL)
    assert partial.returncode == 0 and "run_eval.py prompt" not in partial.stdout
    assert "# no prompt table: llama-13b_sst2, llama-13b_cb lack prompts of the 13 (add them to --prompts)" \
        in partial.stderr.splitlines()
    every = [flag for flag in SMALL if flag not in ("--prompts", "0,10")]
    assert [shlex.split(line)[1:3] for line in sweep("eval", out, *every).stdout.splitlines()].count(
        ["run_eval.py", "prompt"]) == 1


def build(name: str, out: Path, *flags: str) -> Graph:
    """The graph of sweep `name` as scripts/sweep.py builds it from these flags."""
    sys.path.insert(0, str(REPO / "scripts"))
    sweep_cli = importlib.import_module("sweep")
    args = sweep_cli.build_parser().parse_args([name, "--out", str(out), *flags])
    return paper.build(name, sweep_cli.options_from(args, out.parent), [])


def step_of(graph: Graph, name: str) -> Step:
    return next(step for step in graph.steps if step.name == name)


def record_of(step: Step, argv: list[str] | None = None, **entries) -> str:
    """The record `step`'s command (or `argv`, [script, *args]) writes last, with data_utils.io.run_record's keys
    that the done checks read (and `entries`)."""
    argv = argv or step.script_argv()
    return json.dumps({"command": " ".join(argv), "argv": argv, "time": datetime.now(timezone.utc).isoformat(),
                       **entries})


def finish(step: Step, argv: list[str] | None = None) -> Step:
    """What `step` leaves once its command (or `argv`) finished: every output (a checkpoint: a folder), then its
    record (a checkpoint's inside it)."""
    for output in step.outputs:
        output.parent.mkdir(parents=True, exist_ok=True)
        record = record_of(step, argv)
        if not output.suffix:
            output.mkdir(exist_ok=True)
            (output / "fute_record.json").write_text(record)
        elif output.name.endswith(".record.json"):  # plots: the record, written after the PNGs
            output.write_text(record)
        elif not step.redo:  # run_eval.py's tables, prompt-selection scores: one JSON, its record inside
            output.write_text(json.dumps({"record": json.loads(record)}))
        else:
            output.write_text("{}")
            record_path(output).write_text(record)
    return step


def test_finished_steps_are_skipped_and_unfinished_ones_are_not(tmp_path):
    out = tmp_path / "result"
    before = commands("finetune", out, *SMALL)
    graph = build("finetune", out, *SMALL)
    finish(step_of(graph, "finetune_rte"))
    finish(step_of(graph, "transfer_rte__cq"))  # it read rte's checkpoint, finished before it
    # Killed between its score and its record (the record is written last): not done.
    (out / "seed42" / "finetune" / "transfer" / "rte__mrpc_score.json").write_text('{"best": 0.5}')
    (out / "seed42" / "finetune" / "transfer" / "rte__mrpc_score.record.json").write_text('{"finished": false}')
    # A finished score deleted by hand, its record left: not done.
    finish(step_of(graph, "transfer_cq__rte")).outputs[0].unlink()
    after = commands("finetune", out, *SMALL)
    dropped = [cmd for cmd in before if cmd not in after]
    assert [cmd[cmd.index("--score_save_path") + 1] for cmd in dropped] == [
        f"{out}/seed42/finetune/rte_score.json", f"{out}/seed42/finetune/transfer/rte__cq_score.json"]
    assert len(after) == len(before) - 2


def write_answers_record(step: Step, y_path: Path, x_path: Path, answers: int | None = None) -> None:
    """The record run_llm_inference_for_te.py writes last: its command, the y' file's `answers` (its lines, each
    data_index once) and size, and the x' it answers (lines, SHA-256), computed here from the two files."""
    entry = {"lines": answers or len(y_path.read_bytes().splitlines()), "bytes": y_path.stat().st_size,
             "inputs": str(x_path), "input_lines": len(x_path.read_bytes().splitlines()),
             "inputs_sha256": hashlib.sha256(x_path.read_bytes()).hexdigest()}
    record_path(y_path).write_text(record_of(step, answers=entry))


def test_answers_to_x_are_done_only_when_their_record_says_every_line_is(tmp_path):
    out = tmp_path / "result"
    graph = build("llm", out, *SMALL)
    answers = step_of(graph, "answers_llama-13b_sa")
    te = out / "seed42" / "llm_te"
    te.mkdir(parents=True)
    x_path = te / "sa_x.jsonl"
    x_path.write_text('{"data_index": 0}\n{"data_index": 1}\n')
    y0, y10 = te / "llama-13b_sa_p0.jsonl", te / "llama-13b_sa_p10.jsonl"

    def listed(script: str, flag: str) -> list[str]:
        return [cmd[cmd.index(flag) + 1] for cmd in commands("llm", out, *SMALL) if cmd[1] == script]

    def listed_y() -> list[str]:
        return listed("run_llm_inference_for_te.py", "--task_genre")

    # x' is done once its record, written after it, is there.
    assert listed("run_task_emb.py", "--task_type")[:2] == ["sa", "nli"]
    record_path(x_path).write_text(record_of(step_of(graph, "x_sa")))
    assert listed("run_task_emb.py", "--task_type")[:1] == ["nli"]
    # Killed while writing its last line: as many lines as x', the last one torn, no record.
    y0.write_text('{"data_index": 1}\n{"data_in')
    assert listed_y() == ["sa", "nli"]
    y0.write_text('{"data_index": 1}\n{"data_index": 0}\n')  # every line, but the run did not finish
    assert listed_y() == ["sa", "nli"]
    for y_path in (y0, y10):
        y_path.write_text('{"data_index": 1}\n{"data_index": 0}\n')
        write_answers_record(answers, y_path, x_path)
    assert listed_y() == ["nli"]
    # A later run killed while appending to a finished file: the file no longer is what its record says.
    with open(y10, "a") as handle:
        handle.write('{"data_index": 2, "tok')
    assert listed_y() == ["sa", "nli"]
    y10.write_text('{"data_index": 1}\n{"data_index": 0}\n')
    assert listed_y() == ["nli"]
    # Two runs appended at once (before y' files had a lock): 3 lines for the 2 answers the last one counted.
    y10.write_text('{"data_index": 1}\n{"data_index": 0}\n{"data_index": 0}\n')
    write_answers_record(answers, y10, x_path, answers=2)
    assert listed_y() == ["sa", "nli"]
    y10.write_text('{"data_index": 1}\n{"data_index": 0}\n')
    write_answers_record(answers, y10, x_path)
    assert listed_y() == ["nli"]
    # x' written again with other text: the y' files answer the x' that was; they are done again whole.
    x_path.write_text('{"data_index": 0, "content": "new"}\n{"data_index": 1}\n')
    redo = [cmd for cmd in commands("llm", out, *SMALL) if cmd[1] == "run_llm_inference_for_te.py"]
    assert [cmd[cmd.index("--task_genre") + 1] for cmd in redo] == ["sa", "nli"]
    assert redo[0][-2:] == ["--overwrite", "True"] and "--overwrite" not in redo[1]


def stale_steps(graph: Graph) -> dict[str, str]:
    """Step name -> why it is stale, for the stale steps of `graph` as its files are now."""
    return {name: why for name, (kind, why) in graph.states().items() if kind == "stale"}


def test_a_table_built_for_other_tasks_is_stale_and_listed_redone_and_reported(tmp_path):
    """The tester's table: the finetune, task_emb and eval sweeps finished for mrpc,rte; then stsb added. The
    transfer table (and the space table and plot) record --tasks mrpc,rte: stale, never "done" with exit 0."""
    out = tmp_path / "result"
    two = ["--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--llms", "", "--emb_types", "prefix"]
    for step in build("all", out, *two).steps:  # in graph order: each after what it reads
        finish(step)
    assert stale_steps(build("all", out, *two)) == {}
    done: list[str] = []  # --status with every step done: the count, and no header over no rows
    steps = len(build("all", out, *two).steps)
    assert launch.report_status(build("all", out, *two), out, echo=done.append) == 0
    assert done == [f"# {steps} of {steps} steps done"]
    three = ["--cr_datasets", "mrpc,rte,stsb", *two[2:]]
    graph = build("all", out, *three)
    assert stale_steps(graph)["table_transfer"] == (
        "transfer.json was made by another command: --tasks mrpc,rte, now mrpc,rte,stsb")
    # the space table reads stsb's embeddings, not made yet; the plot (three tasks now) was never made
    assert set(stale_steps(graph)) == {"table_transfer", "table_space"}
    # --list tsv names them stale; the sweep runs them again as they are (run_eval.py writes anew every time)
    rows = [line.split("\t") for line in sweep("all", out, *three, "--list", "tsv").stdout.splitlines()[1:]]
    assert {row[0] for row in rows if row[2] == "stale"} == {"table_transfer", "table_space"}
    # --list: done, pending and stale partition the steps (stsb's 9 and the plot not made, two tables stale)
    summary = {row[0]: row[1:5] for row in (line.split() for line in
                                            sweep("all", out, *three, "--list").stdout.splitlines()[1:])}
    assert summary["tables"] == ["2", "0", "0", "2"] and summary["total"] == ["24", "12", "10", "2"]
    dry = sweep("all", out, *three)
    assert "# stale: table_transfer (transfer.json was made by another command: --tasks mrpc,rte, now " \
           "mrpc,rte,stsb); run again" in dry.stderr.splitlines()
    assert all("--overwrite" not in line for line in dry.stdout.splitlines())
    status = sweep("all", out, *three, "--status", dry_run=False)
    # 3 fine-tunes, 6 transfers, 3 x 3 DTEs, 3 MTEs, 2 tables, 1 plot; mrpc's and rte's 12 are done
    assert status.returncode == 3 and status.stdout.splitlines()[0] == "# 12 of 24 steps done"
    assert "table_transfer\tstale\ttransfer.json was made by another command: --tasks mrpc,rte, now mrpc,rte,stsb" \
        in status.stdout.splitlines()


def test_an_mte_made_from_replaced_answers_is_stale_and_redone_with_overwrite(tmp_path):
    """The tester's MTE: x', y' and the LLM + prompt MTE finished; y' deleted and written again (another x'):
    the MTE's .npy, older than its y', is stale, and so is everything made from it; the sweep runs it again
    with --overwrite True (run_task_emb.py refuses to replace a finished .npy without it). Changing --te_extra
    makes every run_task_emb.py step of the sweep stale."""
    out = tmp_path / "result"
    flags = ["--llms", "llama-13b", "--llm_datasets", "sst2", "--prompts", "0"]
    graph = build("llm", out, *flags)
    for step in graph.steps:
        finish(step)
    assert stale_steps(graph) == {}
    x_path, y_path = step_of(graph, "answers_llama-13b_sa").inputs[0], step_of(graph, "answers_llama-13b_sa").outputs[0]
    x_path.write_text('{"data_index": 0}\n{"data_index": 1}\n')
    record_path(x_path).write_text(record_of(step_of(graph, "x_sa")))  # x' made again
    y_path.write_text('{"data_index": 0}\n{"data_index": 1}\n')
    write_answers_record(step_of(graph, "answers_llama-13b_sa"), y_path, x_path)  # y' answers it
    mtes = [step for step in graph.steps if step.name.endswith("_mte_llama-13b_sa_p0")]  # prefix and FIM
    assert stale_steps(graph) == {step.name: f"it reads {y_path}, finished after llama-13b_sa_p0_mte.npy was"
                                  for step in mtes}
    redo = {cmd[cmd.index("--save_path") + 1]: cmd for cmd in commands("llm", out, *flags)}
    assert sorted(redo) == sorted(str(step.outputs[0]) for step in mtes)  # nothing else runs
    assert all(cmd[-2:] == ["--overwrite", "True"] for cmd in redo.values())
    # Other flags for the run_task_emb.py steps: their outputs are another command's, and y' reads a new x'.
    extra = build("llm", out, *flags, "--te_extra", "--max_data_for_task_emb_train 4")
    assert stale_steps(extra) == {
        "x_sa": f"sa_x.jsonl was made by another command: --max_data_for_task_emb_train "
                f"{UNSUP_POOL['llm_x_per_source']}, now 4",
        "answers_llama-13b_sa": "it reads the output of x_sa, which is done again",
        **{step.name: "llama-13b_sa_p0_mte.npy was made by another command: --max_data_for_task_emb_train (not given), "
                      "now 4" for step in mtes}}


def test_a_real_run_prints_each_command_and_stops_at_the_first_failure_naming_it_and_its_log(tmp_path):
    """Without --dry_run every step runs in order, its output shown and kept in its log; a failing step ends
    the sweep with its status and a line naming the step and its log."""
    fake, events = fake_python(tmp_path, fail_on="finetune/rte_score.json", pause=0)
    out = tmp_path / "result"
    result = sweep("finetune", out, *SMALL, python=str(fake), dry_run=False)
    assert result.returncode == 3
    assert [line.split()[:2] for line in events.read_text().splitlines()] == [
        ["start", "mrpc_score.json"], ["end", "mrpc_score.json"], ["start", "rte_score.json"]]
    lines = result.stdout.splitlines()
    assert [shlex.split(line)[1:4] for line in (lines[0], lines[3])] == [
        ["run_cr_train.py", "--to_train_dataset", "mrpc"], ["run_cr_train.py", "--to_train_dataset", "rte"]]
    assert lines[1:3] == ["out of mrpc_score.json", "err of mrpc_score.json"]
    assert lines[4:6] == ["out of rte_score.json", "err of rte_score.json"]
    rte_log = out / "logs" / "finetune_rte.log"
    assert lines[6:] == [f"# failed (3): finetune_rte, see {rte_log}"]
    assert rte_log.read_text().splitlines() == [f"$ {lines[3]}", *lines[4:6], "# exit status 3"]


def test_a_step_that_exits_0_without_finishing_its_outputs_has_failed(tmp_path):
    fake, _ = fake_python(tmp_path, unfinished_on="finetune/mrpc_score.json", pause=0)
    out = tmp_path / "result"
    for jobs, status in (("1", 1), ("2", 1)):
        result = sweep("finetune", out, *SMALL, "--jobs", jobs, python=str(fake), dry_run=False)
        assert result.returncode == status
        assert (f"# failed: finetune_mrpc exited with status 0 but its outputs are not finished "
                f"({out / 'seed42' / 'finetune' / 'mrpc_score.json'} does not exist), see "
                f"{out / 'logs' / 'finetune_mrpc.log'}"
                ) in result.stdout.splitlines()
    assert "not started: transfer_mrpc__rte" in result.stdout  # --jobs 2: what reads it is held back


@pytest.mark.parametrize("flags, message", [
    (["--cr_datasets", "mrpc,nope"], "unknown dataset 'nope'"),
    (["--prompts", "0,13"], "not a prompt number 0-12"),
    (["--emb_types", "lora"], "unknown method lora"),
    (["--no_such_flag", "1"], "unrecognized arguments: --no_such_flag"),
])
def test_bad_options_stop_before_any_command(tmp_path, flags, message):
    result = sweep("task_emb", tmp_path / "result", *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_local_data_pool_and_model_paths(tmp_path):
    """--data_dir gives every dataset step its folder, --pool every x' and MTE step the pool file, and
    relative paths (to the folder the sweep starts from) become absolute: steps run from the repository."""
    (tmp_path / "data" / "mrpc").mkdir(parents=True)
    (tmp_path / "pool.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "my_lm").mkdir()
    out = tmp_path / "result"
    local = ["--data_dir", "data", "--pool", "pool.jsonl", "--lm", "my_lm", "--cr_datasets", "mrpc", "--qa_datasets", "",
             "--llm_datasets", "sst2", "--prompts", "0", "--llms", "llama-13b"]
    def value(cmd: list[str], flag: str) -> str | None:
        return cmd[cmd.index(flag) + 1] if flag in cmd else None

    checked = 0
    for name in SWEEPS:
        for cmd in commands(name, out, *local):
            script, input_type = cmd[1], value(cmd, "--input_type")
            if script in ("run_cr_train.py", "run_qa_train.py", "run_llm_inference.py") or input_type == "data":
                dataset = value(cmd, "--to_train_dataset") or "{dataset}"  # the LLM command names every set
                assert value(cmd, "--dataset_path") == f"{tmp_path}/data/{dataset}", cmd
                checked += 1
            if input_type == "model" and "--llm_mode" not in cmd:
                assert value(cmd, "--unsup_data_path") == f"{tmp_path}/pool.jsonl", cmd
                checked += 1
            if script in ("run_cr_train.py", "run_qa_train.py"):
                assert value(cmd, "--lm_model_name") == f"{tmp_path}/my_lm", cmd
    # data: 1 fine-tuning, 2 baseline DTEs, 1 TextEmb, 4 FUTE DTEs (mrpc, sst2), 1 LLM run; pool: 2 MTEs, 1 x'
    assert checked == 9 + 3
    result = sweep("finetune", out, "--data_dir", "missing")
    assert result.returncode == 2 and "--data_dir: no folder" in result.stderr


MYSENT = """name: mysent
task: cr
columns: {text: review, label: sentiment}
labels: [negative, positive]
files: {train: reviews.csv}
llm: {genre: sa}
"""


def test_datasets_of_ones_own_are_declaration_files_named_as_their_outputs(tmp_path):
    """The steps get the declaration's absolute path, outputs and tables its name; under --data_dir the declared
    LLM set (which names its own data) gets an LLM command of its own. On main: "unknown dataset"."""
    (tmp_path / "reviews.csv").write_text("review,sentiment\ngood,positive\n")
    (tmp_path / "mysent.yaml").write_text(MYSENT)
    (tmp_path / "data").mkdir()
    declared, out = str(tmp_path / "mysent.yaml"), tmp_path / "result"
    listed = [cmd for name in SWEEPS for cmd in commands(
        name, out, "--cr_datasets", "mrpc,mysent.yaml", "--qa_datasets", "", "--llm_datasets", "sst2,mysent.yaml",
        "--llms", "llama-13b", "--prompts", "0", "--emb_types", "prefix", "--data_dir", "data")]

    def value(cmd: list[str], flag: str) -> str | None:
        return cmd[cmd.index(flag) + 1] if flag in cmd else None

    ours = [cmd for cmd in listed if declared in cmd]
    # fine-tune, 2 transfers' target, baseline/TextEmb/FUTE DTEs, the MTE, one LLM command
    assert len(ours) == 1 + 1 + 3 + 1 + 1
    assert all(value(cmd, "--dataset_path") is None for cmd in ours)  # its declaration names its data
    saved = {value(cmd, "--save_path") or value(cmd, "--score_save_path") for cmd in ours}
    run = out / "seed42"
    assert {str(run / "finetune" / "mysent_score.json"), str(run / "emb" / "prefix-fute" / "mysent_dte.npy")} <= saved
    inference = [cmd for cmd in listed if cmd[1] == "run_llm_inference.py"]
    assert [(value(cmd, "--dataset_name"), value(cmd, "--dataset_path")) for cmd in inference] == [
        ("sst2", f"{tmp_path}/data/{{dataset}}"), (declared, None)]
    transfer = next(cmd for cmd in listed if cmd[1:3] == ["run_eval.py", "transfer"])
    assert value(transfer, "--tasks") == "mrpc,mysent"
    (tmp_path / "rte.yaml").write_text(MYSENT.replace("mysent", "rte"))
    for flags, message in ((["--cr_datasets", "rte.yaml"], "declares rte, a registry dataset's name; a sweep names"),
                           (["--qa_datasets", "mysent.yaml"], "declares a cr dataset: cr datasets go in --cr_datasets"),
                           (["--cr_datasets", "gone.yaml"], f"declaration {tmp_path}/gone.yaml not found")):
        result = sweep("finetune", out, *flags)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_declared_datasets_steps_are_stale_once_its_declaration_or_its_files_change(tmp_path):
    """A dataset of one's own is read from its declaration and the files it names: editing either after its
    steps finished makes them stale (the registry's datasets: their --data_dir folders)."""
    (tmp_path / "reviews.csv").write_text("review,sentiment\ngood,positive\n")
    (tmp_path / "mysent.yaml").write_text(MYSENT)
    out = tmp_path / "result"
    flags = ["--cr_datasets", str(tmp_path / "mysent.yaml"), "--qa_datasets", "", "--emb_types", "prefix"]
    graph = build("finetune", out, *flags)
    for edited in ("reviews.csv", "mysent.yaml"):
        earlier, later = time.time() - 60, time.time() + 5
        for name in ("reviews.csv", "mysent.yaml"):
            os.utime(tmp_path / name, (earlier, earlier))
        for step in graph.steps:
            finish(step)
        assert stale_steps(graph) == {}
        os.utime(tmp_path / edited, (later, later))
        assert stale_steps(build("finetune", out, *flags)) == {
            "finetune_mysent": f"{tmp_path / edited} changed after mysent_score.json was made from it"}


@pytest.mark.parametrize("flags, repeated", [
    (["--cr_datasets", "sst2,sst2"], "--cr_datasets: sst2 listed"),
    (["--cr_datasets", "mysent.yaml,mysent.yaml"], "--cr_datasets: mysent listed"),
    (["--cr_datasets", "mysent.yaml,copy.yaml"], "--cr_datasets: mysent listed"),  # a copy declares one name
    (["--prompts", "0,0"], "--prompts: 0 listed"),
    (["--llms", "llama-13b,llama-13b"], "--llms: llama-13b listed"),
    (["--emb_types", "fim,fim"], "--emb_types: fim listed"),
])
def test_a_value_listed_twice_is_one_line_not_a_traceback(tmp_path, monkeypatch, flags, repeated):
    """Each would make its steps twice under one name (on main: ValueError "two steps named ...", exit 1)."""
    for name in ("mysent.yaml", "copy.yaml"):
        (tmp_path / name).write_text(MYSENT)
    (tmp_path / "reviews.csv").write_text("review,sentiment\ngood,positive\n")
    monkeypatch.chdir(tmp_path)
    result = sweep("all", tmp_path / "result", *flags)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{repeated} more than once" in result.stderr and "list each once" in result.stderr


def test_eval_without_llms_makes_the_transfer_and_space_tables_only_and_plots_need_three_tasks(tmp_path):
    out = tmp_path / "result"
    listed = commands("eval", out, "--llms", "", "--cr_datasets", "mrpc,rte,cola", "--qa_datasets", "")
    assert [cmd[1:3] for cmd in listed] == [["run_eval.py", "transfer"], ["run_eval.py", "space"],
                                            ["run_eval.py", "plot"], ["run_eval.py", "plot"]]
    assert all(cmd[cmd.index("--save_path") + 1].endswith("_lm") for cmd in listed[2:])
    two = sweep("eval", out, "--llms", "", "--cr_datasets", "mrpc,rte", "--qa_datasets", "")
    assert [shlex.split(line)[1:3] for line in two.stdout.splitlines()] == [["run_eval.py", "transfer"],
                                                                           ["run_eval.py", "space"]]
    assert "no prefix-fute LM plot: a plot needs at least 3 tasks" in two.stderr
    none = sweep("eval", out, "--llms", "", "--cr_datasets", "", "--qa_datasets", "")
    assert "no unified-space table" in none.stderr and "run_eval.py space" not in none.stdout


def test_the_space_table_reads_every_fute_dte_and_mte(tmp_path):
    """The unified-space table (the README's central claim), in the eval sweep: run_eval.py space over the FUTE
    methods, reading the DTEs of every dataset (the LLM sets too) and every MTE (fine-tuned models, LLM + prompt),
    named, so that embeddings the sweep does not declare cannot enter it."""
    out = tmp_path / "result"
    [space] = [cmd for cmd in commands("eval", out, *SMALL) if cmd[1:3] == ["run_eval.py", "space"]]
    assert space[3:] == ["--emb_dir", f"{out}/seed42/emb", "--methods", "prefix-fute,fim-fute",
                         "--dtes", "mrpc,rte,cq,sst2,cb", "--mtes", "mrpc,rte,cq,llama-13b:p0,llama-13b:p10",
                         "--save_path", f"{out}/eval/space"]
    _check_accepted(space)
    sys.path.insert(0, str(REPO / "scripts"))
    sweep_cli = importlib.import_module("sweep")
    from sweeps import paper

    args = sweep_cli.build_parser().parse_args(["all", "--out", str(out), *SMALL])
    graph = paper.build("all", sweep_cli.options_from(args, tmp_path), [])
    [step] = [s for s in graph.steps if s.name == "table_space"]
    emb = out / "seed42" / "emb"
    methods = ("prefix-fute", "fim-fute")
    expected = {emb / m / f"{d}_dte.npy" for m in methods for d in ("mrpc", "rte", "cq", "sst2", "cb")}
    expected |= {emb / m / f"{d}_mte.npy" for m in methods for d in ("mrpc", "rte", "cq")}
    expected |= {emb / m / f"llama-13b_{g}_p{p}_mte.npy" for m in methods for g in ("sa", "nli") for p in (0, 10)}
    assert set(step.inputs) == expected and len(step.inputs) == len(expected)
    assert step.outputs == (out / "eval" / "space.json",) and not step.gpu
    waits = {s.stage for s in graph.pending_dependencies(step, graph.pending())}
    assert waits == {"fute_dte", "mte", "llm_mte"}


def test_list_prints_a_summary_per_stage_and_the_total(tmp_path):
    """--list: per stage its steps, done, pending and the stages it waits for, then the total (the paper's `all`
    listed 1,001 TSV lines with no totals); --list tsv: every pending step. Counts from the grid, by hand."""
    out = tmp_path / "result"
    finish(step_of(build("all", out, *ONE_CLASS), "finetune_rte"))
    result = sweep("all", out, *ONE_CLASS, "--list")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    # 3 CR sets, prefix only, no LLMs: 3 fine-tunes (rte's done), 6 transfers, 3 + 3 + 3 DTEs, 3 MTEs,
    # the transfer and space tables, one LM plot.
    tables = "finetune,transfer,baseline_dte,textemb,fute_dte,mte"
    assert rows == [["stage", "steps", "done", "pending", "stale", "waits_for"],
                    ["finetune", "3", "1", "2", "0", "-"], ["transfer", "6", "0", "6", "0", "finetune"],
                    ["baseline_dte", "3", "0", "3", "0", "-"], ["textemb", "3", "0", "3", "0", "-"],
                    ["fute_dte", "3", "0", "3", "0", "-"], ["mte", "3", "0", "3", "0", "finetune"],
                    ["tables", "2", "0", "2", "0", tables],
                    ["plots", "1", "0", "1", "0", "baseline_dte,textemb,fute_dte,mte"],
                    ["total", "24", "1", "23", "0", "-"]]
    assert len(job_list(out, *ONE_CLASS)) == 23
    # The paper's grid: 25 LM datasets, 6 LLM sets (sst2 among both), 3 LLMs, 13 prompts, prefix and FIM.
    grid = {row[0]: int(row[1]) for row in (line.split() for line in sweep("all", out, "--list").stdout.splitlines())
             if row[0] != "stage"}
    assert grid == {"finetune": 25, "transfer": 25 * 24, "baseline_dte": 2 * 25, "textemb": 25, "fute_dte": 2 * 30,
                     "mte": 2 * 25, "x": 2, "llm_inference": 3, "llm_answers": 3 * 2, "llm_mte": 2 * 3 * 2 * 13,
                     "selection": 3 * 6, "tables": 3, "plots": 2 * 2, "total": 1002}


def tiny_flags(tiny_bert: Path, tiny_llama: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The tiny-model sweep on data/samples: the options every sweep takes, and each sweep's own."""
    local = ["--data_dir", str(REPO / "data" / "samples"), "--pool", str(REPO / "data" / "samples" / "unsup_pool.jsonl"),
             "--lm", str(tiny_bert), "--surrogate", str(tiny_bert), "--cr_datasets", "mrpc,rte", "--qa_datasets", "",
             "--llms", str(tiny_llama), "--llm_datasets", "sst2", "--prompts", "0", "--emb_types", "prefix"]
    quick = "--max_epochs 1 --max_train_examples 32 --device cpu --log_level WARNING"
    flags = {
        "finetune": ["--extra", quick],
        "task_emb": ["--extra", quick],
        "llm": ["--extra", "--batch_size 8 --device cpu --log_level WARNING",
                "--te_extra", "--max_epochs 1 --max_data_for_task_emb_train 10 --device cpu --log_level WARNING"],
        "eval": ["--llms", ""],  # one prompt of 13: no prompt-selection baselines, so no prompt table
    }
    return local, flags


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, tiny_bert, tiny_llama) -> Path:
    """The four sweeps run here, in the README's order, two steps at a time (--jobs 2: what a step writes
    does not depend on what runs beside it; the one-after-another launcher is tested with a fake Python)."""
    out = tmp_path_factory.mktemp("local") / "result"
    local, flags = tiny_flags(tiny_bert, tiny_llama)
    for name in SWEEPS:
        result = sweep(name, out, *local, *flags[name], "--jobs", "2", dry_run=False, timeout=600)
        assert result.returncode == 0, f"sweep {name} failed:\n{result.stderr[-3000:]}"
        assert result.stdout.strip(), f"sweep {name} ran nothing"
    return out


@pytest.mark.slow
def test_the_sweeps_run_for_real_on_tiny_models_and_sample_data(local_run, tiny_bert, tiny_llama):
    """The four sweeps without --dry_run on data/samples (--data_dir, --pool) with the tiny BERT as LM and
    surrogate and the tiny Llama as LLM: every output appears, each step has its log, and a second run of
    each, one step after another, finds every step done."""
    out = local_run
    llm = tiny_llama.name
    assert [path for path in tiny_sweep_outputs(llm) if not (out / path).is_file()] == []
    assert {"finetune_mrpc.log", "transfer_rte__mrpc.log", "table_transfer.log"} <= {
        path.name for path in (out / "logs").iterdir()}
    x_lines = (out / "seed42" / "llm_te" / "sa_x.jsonl").read_text().splitlines()
    assert len((out / "seed42" / "llm_te" / f"{llm}_sa_p0.jsonl").read_text().splitlines()) == len(x_lines) > 0
    table = json.loads((out / "eval" / "transfer.json").read_text())
    assert {"datasize", "textemb", "prefix-baseline", "prefix-fute"} <= set(json.dumps(table).replace('"', " ").split())
    local, flags = tiny_flags(tiny_bert, tiny_llama)
    for name in SWEEPS:
        again = sweep(name, out, *local, *flags[name], dry_run=False)
        assert again.returncode == 0 and again.stdout == "", f"sweep {name} ran again:\n{again.stdout}"


def tiny_sweep_outputs(llm: str) -> list[str]:
    """What the tiny-model sweep writes, relative to --out: its one seed's artifacts in seed42/, the tables."""
    expected = [f"finetune/{d}_score.json" for d in ("mrpc", "rte")]
    expected += [f"finetune/transfer/{s}__{t}_score.json" for s, t in (("mrpc", "rte"), ("rte", "mrpc"))]
    expected += [f"emb/{m}/{d}_dte.npy" for m in ("prefix-baseline", "textemb", "prefix-fute") for d in ("mrpc", "rte")]
    expected += ["emb/prefix-fute/sst2_dte.npy", "emb/prefix-fute/mrpc_mte.npy", "emb/prefix-fute/rte_mte.npy",
                 f"llm/{llm}/sst2_p0.json", "llm_te/sa_x.jsonl", f"llm_te/{llm}_sa_p0.jsonl",
                 f"emb/prefix-fute/{llm}_sa_p0_mte.npy"]
    return [f"seed42/{path}" for path in expected] + ["eval/transfer.md", "eval/transfer.json", "eval/space.md",
                                                      "eval/space.json"]


def slurm_is_up() -> bool:
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in ping.stdout


def wait_for_the_queue(timeout: float = 900) -> None:
    import time

    deadline = time.time() + timeout
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip():
        assert time.time() < deadline, "SLURM jobs still queued"
        time.sleep(1)


def assert_same_results(out: Path, reference: Path, paths: list[str]) -> None:
    """Scores and tables equal as numbers, embeddings as arrays, LLM outputs by their label distributions; paths
    inside each output tree (a table lists the embeddings it flags) as paths relative to it."""
    import numpy as np

    def comparable(value, root: Path):
        """Without records (they hold commands and times), paths under `root` relative to it, and without the
        notes of embeddings left out because a step beside was still writing them: under SLURM a table runs
        while array tasks it does not read (an LLM MTE, for the transfer table) are under way, so those notes,
        true when written, depend on timing; the numbers do not."""
        if isinstance(value, dict):
            return {k: comparable(v, root) for k, v in value.items() if k != "record"}
        if isinstance(value, list):
            return [comparable(v, root) for v in value if not (isinstance(v, str) and " is left out: " in v)]
        return value.removeprefix(f"{root}/") if isinstance(value, str) else value

    def numbers(value):
        if isinstance(value, dict):
            return {k: numbers(v) for k, v in value.items()}
        if isinstance(value, list):
            return [numbers(v) for v in value]
        return pytest.approx(value, rel=1e-4, abs=1e-6) if isinstance(value, float) else value

    for path in paths:
        ours, theirs = out / path, reference / path
        if path.endswith(".npy"):
            np.testing.assert_allclose(np.load(ours), np.load(theirs), rtol=1e-4, atol=1e-6, err_msg=path)
        elif path.endswith(".jsonl"):
            def lines(p):
                rows = [json.loads(line) for line in p.read_text().splitlines()]
                return sorted((row["data_index"], row.get("normalized_prob"), row.get("content")) for row in rows)
            assert [(i, pytest.approx(prob, rel=1e-4) if prob else prob, text) for i, prob, text in lines(ours)] \
                == lines(theirs), path
        elif path.endswith(".json"):
            assert comparable(json.loads(theirs.read_text()), reference) \
                == numbers(comparable(json.loads(ours.read_text()), out)), path


@pytest.mark.slow
def test_the_sweeps_on_a_real_slurm_cluster_equal_the_local_run(local_run, tiny_bert, tiny_llama,
                                                                      tmp_path):
    """The four sweeps submitted one after another with --launcher slurm (each waits for the array tasks of
    the others that it reads), on the one-node cluster of .ci/slurm.sh: every output equals the local
    run's. Then a cancelled array task (scancel) leaves its step and the table that reads it undone, and
    the same submission again completes them."""
    if not slurm_is_up():
        pytest.skip("no SLURM cluster answers here (scontrol ping); start one with `bash .ci/slurm.sh start`")
    local, flags = tiny_flags(tiny_bert, tiny_llama)
    out = tmp_path / "result"
    for name in SWEEPS:
        result = sweep(name, out, *local, *flags[name], "--launcher", "slurm", dry_run=False)
        assert result.returncode == 0, result.stderr
    wait_for_the_queue()
    paths = tiny_sweep_outputs(tiny_llama.name)
    assert [path for path in paths if not (out / path).is_file()] == []
    assert_same_results(out, local_run, paths)
    assert (out / "logs" / "transfer_mrpc__rte.log").is_file()  # each step has its log

    for name in SWEEPS:  # --status: every step done
        status = sweep(name, out, *local, *flags[name], "--status", dry_run=False)
        assert status.returncode == 0 and status.stdout.splitlines()[1:] == [], status.stdout

    # A cancelled task: its step and the table reading it are not done, --status names both and exits 1;
    # resubmitting with --wait finishes both and exits 0.
    for path in ("seed42/finetune/transfer/mrpc__rte_score.json", "eval/transfer.json", "eval/transfer.md"):
        (out / path).unlink()
    submitted = sweep("finetune", out, *local, *flags["finetune"], "--launcher", "slurm", dry_run=False)
    job = submitted.stdout.split("job ")[1].split(",")[0]
    sweep("eval", out, *local, *flags["eval"], "--launcher", "slurm", dry_run=False)
    subprocess.run(["scancel", f"{job}_0"], check=True)
    wait_for_the_queue()
    assert not (out / "seed42/finetune/transfer/mrpc__rte_score.json").exists()
    assert not (out / "eval/transfer.json").exists()
    for name, step in (("finetune", "transfer_mrpc__rte"), ("eval", "table_transfer")):
        status = sweep(name, out, *local, *flags[name], "--status", dry_run=False)
        rows = [line.split("\t") for line in status.stdout.splitlines()[2:]]
        assert status.returncode == 1 and [row[:2] for row in rows] == [[step, "failed"]], status.stdout
        assert rows[0][2].startswith("SLURM task ") and f"{out}/logs/{step}.log" in rows[0][2]
    for name in ("finetune", "eval"):
        result = sweep(name, out, *local, *flags[name], "--launcher", "slurm", "--wait", "1", dry_run=False,
                       timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
    assert_same_results(out, local_run, paths)


# ---------------------------------------------------------------- the job graph and its launchers

ONE_CLASS = ["--cr_datasets", "mrpc,rte,cola", "--qa_datasets", "", "--llms", "", "--emb_types", "prefix"]


def job_list(out: Path, *flags: str, name: str = "all") -> dict[str, list[str]]:
    """--list tsv as step -> the steps it waits for."""
    result = sweep(name, out, *flags, "--list", "tsv")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["step", "stage", "state", "waits_for", "command"]
    return {row[0]: [] if row[3] == "-" else row[3].split(",") for row in rows[1:]}


def test_each_step_waits_exactly_for_what_it_reads(tmp_path):
    out = tmp_path / "result"
    waits = job_list(out, *ONE_CLASS)
    assert waits["transfer_rte__mrpc"] == ["finetune_rte"]  # its source's fine-tune only
    assert waits["prefix-fute_mte_cola"] == ["finetune_cola"]  # the checkpoint it embeds
    assert waits["finetune_mrpc"] == [] and waits["prefix-fute_dte_mrpc"] == []
    table = set(waits["table_transfer"])  # everything the table reads
    assert {"finetune_mrpc", "transfer_mrpc__cola", "prefix-baseline_dte_rte", "textemb_dte_cola",
            "prefix-fute_mte_rte"} <= table and len(table) == 3 + 6 + 3 * 3 + 3
    assert set(waits["plot_prefix-fute_lm"]) >= {f"prefix-fute_mte_{d}" for d in ("mrpc", "rte", "cola")}
    # A finished step is neither listed nor waited for.
    finish(step_of(build("all", out, *ONE_CLASS), "finetune_rte"))
    after = job_list(out, *ONE_CLASS)
    assert "finetune_rte" not in after and after["transfer_rte__mrpc"] == []


SUMMARISE = """import json, sys
from datetime import datetime, timezone
from pathlib import Path

flags = dict(zip(sys.argv[1::2], sys.argv[2::2]))
rows = json.loads(Path(flags["--table"]).read_text())
Path(flags["--save_path"]).write_text(f"{len(rows)} entries\\n")
record = {"argv": ["summarise.py", *sys.argv[1:]], "time": datetime.now(timezone.utc).isoformat()}
Path(flags["--save_path"]).with_suffix(".record.json").write_text(json.dumps(record))
"""


def test_a_new_stage_is_a_function_and_one_registry_entry(tmp_path, monkeypatch, capsys):
    """A stage added to the pipeline (a summary of the transfer table, by a script of its own) is its function and
    one entry in sweeps.paper.SWEEPS, put first here: `all` lists it after the table it reads and waiting for it,
    it is a sweep of its own, and the local launcher runs it once the table is done, and not again."""
    script = tmp_path / "summarise.py"
    script.write_text(SUMMARISE)

    def summary(graph: Graph, o: SweepOptions, notes: list[str]) -> None:
        tables = o.eval_layout
        table, out = tables.table("transfer").with_suffix(".json"), tables.table("summary").with_suffix(".md")
        graph.add(Step("summary", "summaries", (o.python, str(script), "--table", str(table), "--save_path", str(out)),
                       (out,), inputs=(table,), redo=(), gpu=False))

    monkeypatch.setattr(paper, "SWEEPS", {"summary": summary, **paper.SWEEPS})
    sys.path.insert(0, str(REPO / "scripts"))
    sweep_cli = importlib.import_module("sweep")
    out = tmp_path / "result"
    flags = ["--out", str(out), *ONE_CLASS]
    graph = build("all", out, *ONE_CLASS)
    names = [step.name for step in graph.steps]
    assert names.index("table_transfer") < names.index("summary")
    [added] = [step for step in graph.steps if step.name == "summary"]
    assert [step.name for step in graph.producers(added)] == ["table_transfer"]
    assert sweep_cli.main(["all", *flags, "--list", "tsv"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [row[:4] for row in rows if row[0] == "summary"] == [["summary", "summaries", "pending", "table_transfer"]]
    assert sweep_cli.main(["summary", *flags, "--list"]) == 0 and "summaries  1" in capsys.readouterr().out
    for step in graph.steps:  # every other step done (fake outputs): the summary is what is left to run
        if step is not added:
            finish(step)
    assert sweep_cli.main(["all", *flags]) == 0
    assert capsys.readouterr().out.splitlines()[0] == added.command()
    assert (out / "eval" / "summary.md").read_text() == "1 entries\n"  # the table: {"record": ...}
    assert build("all", out, *ONE_CLASS).pending() == []


def test_steps_are_ordered_after_what_they_read_and_a_cycle_is_refused(tmp_path):
    def step(name: str, reads: str | None) -> Step:
        return Step(name, "s", ("python", "x.py"), (tmp_path / name,), (tmp_path / reads,) if reads else ())

    graph = Graph([step("c", "b"), step("a", None), step("b", "a"), step("d", None)])
    assert [s.name for s in graph.ordered().steps] == ["a", "b", "c", "d"]
    in_order = Graph([step("a", None), step("d", None), step("b", "a"), step("c", "b")])
    assert [s.name for s in in_order.ordered().steps] == ["a", "d", "b", "c"]  # already ordered: as it is
    with pytest.raises(ValueError, match="in a cycle: a, b"):
        Graph([step("a", "b"), step("b", "a")]).ordered()


def fake_python(tmp_path: Path, fail_on: str | None = None, unfinished_on: str | None = None,
                pause: float = 0.3) -> tuple[Path, Path]:
    """A $PYTHON for fine-tuning steps: logs "start <score file> <CUDA_VISIBLE_DEVICES> <OMP_NUM_THREADS>" and
    "end <score file>" around a short
    pause, says "out of <score file>" on stdout and "err of <score file>" on stderr, and finishes the step as
    run_cr_train.py does (the checkpoint with its record, the score, then the score's record, each record
    naming the command); it exits 3 for the command naming `fail_on`, and 0 without writing anything for the
    one naming `unfinished_on`."""
    log, fake = tmp_path / "events.log", tmp_path / "fake_python"
    fail = f'[[ "$*" == *{shlex.quote(fail_on)}* ]] && exit 3' if fail_on else ""
    unfinished = f'[[ "$*" == *{shlex.quote(unfinished_on)}* ]] && exit 0' if unfinished_on else ""
    fake.write_text(f"""#!/usr/bin/env bash
name=$(echo "$*" | sed -E 's/.*--score_save_path ([^ ]*).*/\\1/')
echo "start $(basename $name) ${{CUDA_VISIBLE_DEVICES:-none}} ${{OMP_NUM_THREADS:-unset}}" >> {shlex.quote(str(log))}
echo "out of $(basename $name)"; echo "err of $(basename $name)" >&2
sleep {pause}
{fail}
{unfinished}
record="{{\\"command\\": \\"$*\\"}}"
checkpoint=$(echo "$*" | sed -nE 's/.*--model_save_path ([^ ]*).*/\\1/p')
[[ -n "$checkpoint" ]] && mkdir -p "$checkpoint" && echo "$record" > "$checkpoint/fute_record.json"
mkdir -p "$(dirname $name)"; echo '{{"best": 0.5}}' > "$name"; echo "$record" > "${{name%.json}}.record.json"
echo "end $(basename $name)" >> {shlex.quote(str(log))}
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake, log


def test_jobs_run_at_once_over_gpus_after_what_they_read(tmp_path):
    fake, log = fake_python(tmp_path)
    out = tmp_path / "result"
    result = sweep("finetune", out, "--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--jobs", "2",
                   "--gpus", "0,1", python=str(fake), dry_run=False)
    assert result.returncode == 0, result.stderr
    events = [line.split() for line in log.read_text().splitlines()]
    order = [(kind, name) for kind, name, *_ in events]
    # Both fine-tunes start before either ends (two at a time), each on a GPU of its own.
    assert [kind for kind, _ in order[:2]] == ["start", "start"]
    assert sorted(e[2] for e in events[:2]) == ["0", "1"]
    # A transfer starts only after its source's fine-tune ended.
    for source, target in (("mrpc", "rte"), ("rte", "mrpc")):
        assert order.index(("end", f"{source}_score.json")) < order.index(("start", f"{source}__{target}_score.json"))
    assert sorted(p.name for p in (out / "logs").iterdir()) == [
        "finetune_mrpc.log", "finetune_rte.log", "transfer_mrpc__rte.log", "transfer_rte__mrpc.log"]
    assert (out / "logs" / "finetune_mrpc.log").read_text().startswith("$ ")


def test_jobs_share_the_cores_out_unless_the_threads_are_set(tmp_path, monkeypatch):
    """Two steps at a time on this machine's cores: each gets cores // 2 CPU threads (at least 1), two steps
    with all the cores each would only take turns; an OMP_NUM_THREADS the user set is left as it is."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    fake, log = fake_python(tmp_path, pause=0.05)
    flags = ("--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--jobs", "2")
    assert sweep("finetune", tmp_path / "shared", *flags, python=str(fake), dry_run=False).returncode == 0
    starts = [line.split() for line in log.read_text().splitlines() if line.startswith("start")]
    assert len(starts) == 4 and {start[3] for start in starts} == {str(max(1, (os.cpu_count() or 1) // 2))}
    log.unlink()
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert sweep("finetune", tmp_path / "set", *flags, python=str(fake), dry_run=False).returncode == 0
    assert {line.split()[3] for line in log.read_text().splitlines() if line.startswith("start")} == {"3"}


def test_a_failed_step_holds_back_only_what_reads_it(tmp_path):
    fake, log = fake_python(tmp_path, fail_on="finetune/mrpc_score.json")
    result = sweep("finetune", tmp_path / "result", "--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--jobs", "2",
                   python=str(fake), dry_run=False)
    assert result.returncode == 1
    started = [line.split()[1] for line in log.read_text().splitlines() if line.startswith("start")]
    assert "mrpc__rte_score.json" not in started  # reads the failed fine-tune's checkpoint
    assert "rte__mrpc_score.json" in started  # does not
    log = tmp_path / "result" / "logs" / "finetune_mrpc.log"
    assert f"# failed (3): finetune_mrpc, see {log}" in result.stdout.splitlines()
    assert "not started: transfer_mrpc__rte" in result.stdout
    assert result.stdout.splitlines()[-1] == (f"# 1 step(s) failed: finetune_mrpc (see {log}); "
                                               "1 not started: transfer_mrpc__rte")


def status_of(out: Path, *flags: str) -> tuple[int, dict[str, list[str]]]:
    """--status as (exit status, step -> [state, detail])."""
    result = sweep("finetune", out, "--cr_datasets", "mrpc,rte", "--qa_datasets", "", *flags, "--status")
    lines = result.stdout.splitlines()
    assert lines[1:2] == (["step\tstate\tdetail"] if result.returncode else []), result.stdout
    return result.returncode, {line.split("\t")[0]: line.split("\t")[1:] for line in lines[2:]}


def test_status_names_the_failed_steps_with_their_logs_and_what_they_hold_back(tmp_path):
    out = tmp_path / "result"
    assert status_of(out) == (3, {name: ["not run", "-"] for name in
                                  ("finetune_mrpc", "finetune_rte", "transfer_rte__mrpc", "transfer_mrpc__rte")})
    fake, _ = fake_python(tmp_path, fail_on="finetune/mrpc_score.json", pause=0)
    sweep("finetune", out, "--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--jobs", "2", python=str(fake),
          dry_run=False)
    status, states = status_of(out)
    assert status == 1
    assert states == {"finetune_mrpc": ["failed", f"it exited with status 3: {out}/seed42/finetune/mrpc_score.json "
                                                  f"does not exist; see {out}/logs/finetune_mrpc.log"],
                      "transfer_mrpc__rte": ["held back", "reads the output of finetune_mrpc"]}
    fake, _ = fake_python(tmp_path, pause=0)
    assert sweep("finetune", out, "--cr_datasets", "mrpc,rte", "--qa_datasets", "", python=str(fake),
                 dry_run=False).returncode == 0
    assert status_of(out) == (0, {})
    # A run of its command by hand, killed after it began (the tester's remark): not the sweep's failure, whose
    # last run succeeded; what is wrong is said, and no old log is blamed.
    score = out / "seed42" / "finetune" / "rte_score.json"
    command = json.loads(record_path(score).read_text())["command"]
    record_path(score).write_text(json.dumps({"finished": False, "command": command}))
    assert status_of(out) == (3, {"finetune_rte": [
        "unfinished", f"a run began writing rte_score.json and did not finish (killed, failed, or still running): "
                      f"`python {command}`"]})


def test_slurm_dry_run_shows_one_array_per_stage_waiting_for_what_it_reads(tmp_path):
    out = tmp_path / "result"
    result = sweep("finetune", out, "--cr_datasets", "mrpc,rte,cola", "--qa_datasets", "", "--launcher", "slurm",
                   "--slurm_args", "--partition=gpu --time=2:00:00")
    assert result.returncode == 0, result.stderr
    sbatch = [shlex.split(line) for line in result.stdout.splitlines() if line.startswith("sbatch")]
    assert len(sbatch) == 2
    for argv, size in zip(sbatch, (3, 6)):
        assert {"--parsable", "--requeue", f"--array=0-{size - 1}", "--partition=gpu", "--time=2:00:00"} <= set(argv)
    assert not any(arg.startswith("--dependency") for arg in sbatch[0])
    assert "--dependency=afterok:<finetune>_0:<finetune>_1:<finetune>_2" in sbatch[1]
    assert not (out / "slurm").exists()  # a dry run writes nothing


def test_slurm_submission_depends_on_the_exact_array_tasks(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    sweep_cli = importlib.import_module("sweep")
    from sweeps import launch, paper

    out = tmp_path / "result"
    finish(step_of(build("finetune", out, "--cr_datasets", "mrpc,rte,cola", "--qa_datasets", ""), "finetune_mrpc"))
    # done: neither submitted nor waited for
    args = sweep_cli.build_parser().parse_args(["finetune", "--out", str(out), "--cr_datasets", "mrpc,rte,cola",
                                                "--qa_datasets", ""])
    graph = paper.build("finetune", sweep_cli.options_from(args, tmp_path), [])
    submitted = []

    def sbatch(argv):
        submitted.append(argv)
        return str(100 + len(submitted))

    tasks = launch.submit_slurm(graph, graph.pending(), out, ["--qos=low"], dry_run=False, sbatch=sbatch,
                                echo=lambda line: None)
    assert tasks["finetune_rte"] == "101_0" and tasks["finetune_cola"] == "101_1"
    assert "--dependency=afterok:101_0:101_1" in submitted[1] and "--qos=low" in submitted[1]
    script = Path(submitted[1][-1]).read_text()
    transfers = [s for s in graph.pending() if s.stage == "transfer"]
    assert len(transfers) == 6 and "transfer_mrpc__rte.log" in script
    for i, step in enumerate(transfers):
        assert f"  {i}) {step.command()} >> " in script


@pytest.mark.parametrize("name", SWEEPS)
def test_the_bash_sweeps_are_the_python_sweeps(tmp_path, name):
    """scripts/sweep_<name>.sh (the commands of earlier versions) runs scripts/sweep.py <name>."""
    out = tmp_path / "result"
    bash = subprocess.run(["bash", str(REPO / "scripts" / f"sweep_{name}.sh"), "--out", str(out), *SMALL, "--dry_run"],
                          capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=60)
    assert bash.returncode == 0, bash.stderr
    assert bash.stdout == sweep(name, out, *SMALL).stdout != ""


def test_a_sweep_submitted_later_waits_for_the_tasks_of_an_earlier_one(tmp_path):
    """task_emb submitted after finetune: its MTEs wait for the fine-tunes' array tasks (from jobs.json) while
    SLURM still holds them, and not once they are gone."""
    sys.path.insert(0, str(REPO / "scripts"))
    sweep_cli = importlib.import_module("sweep")
    from sweeps import launch, paper

    out = tmp_path / "result"
    flags = ["--out", str(out), "--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--llms", "", "--emb_types", "prefix"]
    submitted = []

    def submit(name, queued):
        graph = paper.build(name, sweep_cli.options_from(sweep_cli.build_parser().parse_args([name, *flags]),
                                                         tmp_path), [])

        def sbatch(argv):
            submitted.append(argv)
            return str(200 + len(submitted))

        return launch.submit_slurm(graph, graph.pending(), out, [], False, sbatch, lambda: queued, lambda line: None)

    tasks = submit("finetune", set())
    assert (tasks["finetune_mrpc"], tasks["finetune_rte"]) == ("201_0", "201_1")
    assert [arg for arg in submitted[1] if arg.startswith("--dependency")] == ["--dependency=afterok:201_0:201_1"]
    # Submitted again while all of it is queued: nothing is submitted twice.
    submitted.clear()
    assert submit("finetune", {"201_0", "201_1", "202_0", "202_1"}) == {} and submitted == []
    submit("task_emb", {"201_0", "201_1", "202_0"})
    mte = next(argv for argv in submitted if "--job-name=fute_mte" in argv)
    assert "--dependency=afterok:201_0:201_1" in mte
    assert not any(arg.startswith("--dependency") for argv in submitted if argv is not mte for arg in argv)
    submitted.clear()
    submit("task_emb", set())  # the fine-tunes are no longer queued (they ran, or failed)
    assert not any(arg.startswith("--dependency") for argv in submitted for arg in argv)


def test_slurm_wait_reports_the_failed_tasks_and_exits_1(tmp_path):
    """--launcher slurm --wait, with sbatch and squeue stand-ins on PATH: the sweep returns once SLURM holds none
    of its tasks, names the step whose task failed (with its log) and the one SLURM cancelled after it, and
    exits 1; --status says the same later."""
    out, bin_dir, done = tmp_path / "result", tmp_path / "bin", tmp_path / "done" / "result"
    bin_dir.mkdir()
    # What rte's fine-tune and its transfer leave once finished, made here: the stand-in for squeue moves it in.
    graph = build("finetune", done, "--cr_datasets", "mrpc,rte", "--qa_datasets", "")
    for name in ("finetune_rte", "transfer_rte__mrpc"):
        step = step_of(graph, name)
        finish(step, [str(word).replace(str(done), str(out)) for word in step.script_argv()])
    # sbatch: job ids 101, 102, ...; squeue: the four array tasks on its first call, then (the tasks over: rte's
    # fine-tune and its transfer finished, mrpc's fine-tune failed, the transfer reading it cancelled) none.
    (bin_dir / "sbatch").write_text(f"""#!/usr/bin/env bash
echo x >> {tmp_path}/submitted; wc -l < {tmp_path}/submitted | awk '{{print 100 + $1}}'
""")
    (bin_dir / "squeue").write_text(f"""#!/usr/bin/env bash
[[ -e {tmp_path}/asked ]] && exit 0
touch {tmp_path}/asked; printf '101_0\\n101_1\\n102_0\\n102_1\\n'
cp -r {done}/. {out}/
echo "Traceback: out of memory" >> {out}/logs/finetune_mrpc.log
""")
    for tool in ("sbatch", "squeue"):
        (bin_dir / tool).chmod(0o755)
    argv = [sys.executable, str(REPO / "scripts" / "sweep.py"), "finetune", "--out", str(out), "--cr_datasets",
            "mrpc,rte", "--qa_datasets", "", "--launcher", "slurm"]
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run([*argv, "--wait", "0.01"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert rows == [["step", "state", "detail"],
                    ["finetune_mrpc", "failed", "SLURM task 101_0 ended (failed, cancelled or out of time): "
                                                f"{out}/seed42/finetune/mrpc_score.json does not exist; see "
                                                f"{out}/logs/finetune_mrpc.log"],
                    ["transfer_mrpc__rte", "held back", "reads the output of finetune_mrpc"]]
    again = subprocess.run([*argv, "--status"], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 1 and again.stdout.splitlines()[1:] == result.stdout.splitlines()[-3:]
    local = subprocess.run([*argv[:-2], "--wait", "5"], capture_output=True, text=True, env=env, timeout=60)
    assert local.returncode == 2 and "--wait SECONDS (> 0) is for --launcher slurm" in local.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_step_dies_with_the_sweep_killed_by_sigkill(tmp_path, jobs):
    """The tester's D3: kill -9 of a running sweep left its step running (re-parented to init); started again, the
    sweep ran a second writer beside it. Now the step's command dies with the sweep (PR_SET_PDEATHSIG)."""
    pids, fake = tmp_path / "pids", tmp_path / "fake_python"
    fake.write_text(f"#!/usr/bin/env bash\necho $$ >> {shlex.quote(str(pids))}\nexec sleep 300\n")
    fake.chmod(0o755)
    argv = [sys.executable, str(REPO / "scripts" / "sweep.py"), "finetune", "--out", str(tmp_path / "result"),
            "--cr_datasets", "mrpc,rte", "--qa_datasets", "", "--jobs", jobs]
    sweep_process = subprocess.Popen(argv, env={**os.environ, "PYTHON": str(fake)}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(pids.read_text().split() if pids.exists() else []) < int(jobs) and time.monotonic() < deadline:
        time.sleep(0.05)
    steps = [int(pid) for pid in pids.read_text().split()]
    assert len(steps) == int(jobs) and all(alive(pid) for pid in steps)
    sweep_process.kill()
    sweep_process.wait()
    deadline = time.monotonic() + 10
    while any(map(alive, steps)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(alive, steps))


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead and not yet reaped by init, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_paper_grid_lists_the_commands_it_listed_before_the_redesign(tmp_path):
    """A guard for refactoring: every step of the paper's `all` sweep (--list tsv: name, stage, state, what it
    waits for and its command, with this run's folder and Python as placeholders) is what it was at the commit
    before the code was reorganised (its SHA-256 in tests/fixtures/sweep_all_list.sha256)."""
    out = tmp_path / "result"
    result = sweep("all", out, "--list", "tsv")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.replace(sys.executable, "<python>").replace(str(out), "<out>")
    stored = (REPO / "tests" / "fixtures" / "sweep_all_list.sha256").read_text().split()[0]
    assert hashlib.sha256(listed.encode()).hexdigest() == stored
