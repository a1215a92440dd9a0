"""The paper's sweep scripts (scripts/sweep_*.sh) in dry-run mode: the commands they list, that every
command is accepted by its entry script's parser, and that finished steps are skipped."""
from __future__ import annotations

import importlib
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from data_utils.errors import FuteError

REPO = Path(__file__).resolve().parent.parent
SWEEPS = ("finetune", "task_emb", "llm", "eval")
ENTRY_SCRIPTS = {"run_cr_train.py", "run_qa_train.py", "run_task_emb.py", "run_llm_inference.py",
                 "run_llm_inference_for_te.py", "run_prompt_selection_baselines.py", "run_eval.py"}
SMALL = ["--cr_datasets", "mrpc,rte", "--qa_datasets", "cq", "--llm_datasets", "sst2,cb", "--prompts", "0,10",
         "--llms", "llama-13b"]


def sweep(name: str, out: Path, *flags: str, python: str = sys.executable,
          dry_run: bool = True) -> subprocess.CompletedProcess:
    argv = ["bash", str(REPO / "scripts" / f"sweep_{name}.sh"), "--out", str(out), *flags]
    env = {**os.environ, "PYTHON": python}
    return subprocess.run(argv + (["--dry_run"] if dry_run else []), capture_output=True, text=True, env=env,
                          cwd=out.parent, timeout=60)


def commands(name: str, out: Path, *flags: str) -> list[list[str]]:
    """The dry run's stdout, one shlex-split command per line."""
    result = sweep(name, out, *flags)
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def test_finetune_lists_exact_commands(tmp_path):
    out = tmp_path / "result"
    ft = f"{out}/finetune"

    def train(script, target, source=None):
        cmd = [sys.executable, script, "--to_train_dataset", target, "--lm_model_name", "bert-base-uncased"]
        if source is None:
            return cmd + ["--model_save_path", f"{ft}/{target}_ckpt", "--score_save_path", f"{ft}/{target}_score"]
        return cmd + ["--load_path", f"{ft}/{source}_ckpt", "--score_save_path", f"{ft}/transfer/{source}__{target}_score"]

    cr, qa = "run_cr_train.py", "run_qa_train.py"
    expected = [
        train(cr, "mrpc"), train(cr, "rte"), train(qa, "cq"),
        train(cr, "mrpc", "rte"), train(cr, "mrpc", "cq"),
        train(cr, "rte", "mrpc"), train(cr, "rte", "cq"),
        train(qa, "cq", "mrpc"), train(qa, "cq", "rte"),
    ]
    assert commands("finetune", out, *SMALL) == expected


def test_llm_lists_exact_commands(tmp_path):
    out = tmp_path / "result"
    te, py = f"{out}/llm_te", sys.executable
    expected = [[py, "run_task_emb.py", "--task_type", g, "--input_type", "model", "--task_emb_type", "prefix",
                 "--generate_model_data_only", "True", "--max_data_for_task_emb_train", "100",
                 "--task_emb_model_lm_name", "t5-base", "--save_path", f"{te}/{g}_x.jsonl"] for g in ("sa", "nli")]
    expected += [[py, "run_llm_inference.py", "--model", "llama-13b", "--bit", "8", "--dataset_name", d,
                  "--prompt_number", p, "--save_path", f"{out}/llm/llama-13b/{d}_p{p}.json"]
                 for d in ("sst2", "cb") for p in ("0", "10")]
    expected += [[py, "run_llm_inference_for_te.py", "--model", "llama-13b", "--bit", "8", "--task_genre", g,
                  "--prompt_number", p, "--data_load_path", f"{te}/{g}_x.jsonl",
                  "--save_path", f"{te}/llama-13b_{g}_p{p}.jsonl"] for g in ("sa", "nli") for p in ("0", "10")]
    expected += [[py, "run_task_emb.py", "--task_type", g, "--input_type", "model", "--llm_mode", "True",
                  "--task_emb_type", t, "--load_path", f"{te}/llama-13b_{g}_p{p}.jsonl", "--lm_model_name",
                  "llama-13b", "--task_emb_model_lm_name", "t5-base",
                  "--save_path", f"{out}/emb/{t}-fute/llama-13b_{g}_p{p}_mte.npy"]
                 for t in ("prefix", "fim") for g in ("sa", "nli") for p in ("0", "10")]
    # Two of 13 prompts: the selection baselines wait for the others (a note, no command).
    assert commands("llm", out, *SMALL) == expected
    assert "waits for prompts 1,2,3,4,5,6,7,8,9,11,12" in sweep("llm", out, *SMALL).stderr


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
    listed = commands(name, tmp_path / "result", *SMALL, "--extra", "--seed 7", "--te_extra", "--seed 7")
    assert listed
    for cmd in listed:
        assert cmd[0] == sys.executable
        _check_accepted(cmd)
    # --extra reaches every step except the eval plots (sweep_eval.sh sends it to its table steps only).
    with_extra = [cmd for cmd in listed if cmd[-2:] == ["--seed", "7"]]
    plots = [cmd for cmd in listed if cmd[1:3] == ["run_eval.py", "plot"]]
    assert len(with_extra) + len(plots) == len(listed)


def test_selection_baselines_cover_all_13_prompts(tmp_path):
    out = tmp_path / "result"
    listed = commands("llm", out, "--llm_datasets", "sst2", "--llms", "llama-13b")
    selection = [cmd for cmd in listed if cmd[1] == "run_prompt_selection_baselines.py"]
    expected_paths = ",".join(f"{out}/llm/llama-13b/sst2_p{p}.json" for p in range(13))
    assert selection == [[sys.executable, "run_prompt_selection_baselines.py", "--paths", expected_paths,
                          "--save_path", f"{out}/selection/llama-13b_sst2.json"]]
    _check_accepted(selection[0])
    assert len([cmd for cmd in listed if cmd[1] == "run_llm_inference.py"]) == 13


def test_finished_steps_are_skipped(tmp_path):
    out = tmp_path / "result"
    before = commands("finetune", out, *SMALL)
    (out / "finetune" / "transfer").mkdir(parents=True)
    (out / "finetune" / "rte_score.json").write_text("{}")
    (out / "finetune" / "transfer" / "cq__mrpc_score.json").write_text("{}")
    after = commands("finetune", out, *SMALL)
    dropped = [cmd for cmd in before if cmd not in after]
    assert [cmd[cmd.index("--score_save_path") + 1] for cmd in dropped] == [
        f"{out}/finetune/rte_score", f"{out}/finetune/transfer/cq__mrpc_score"]
    assert len(after) == len(before) - 2


def test_answers_to_x_are_done_once_every_line_is_answered(tmp_path):
    out = tmp_path / "result"
    te = out / "llm_te"
    te.mkdir(parents=True)
    (te / "sa_x.jsonl").write_text('{"data_index": 0}\n{"data_index": 1}\n')
    y_path = te / "llama-13b_sa_p0.jsonl"

    def listed_y() -> list[str]:
        return [cmd[-1] for cmd in commands("llm", out, *SMALL) if cmd[1] == "run_llm_inference_for_te.py"]

    y_path.write_text('{"data_index": 1}\n')  # a killed run: listed again, the script continues it
    assert str(y_path) in listed_y()
    y_path.write_text('{"data_index": 1}\n{"data_index": 0}\n')
    assert str(y_path) not in listed_y()
    assert len(listed_y()) == 3
    # The x' of sa exists, so its generation step is gone and nli's is the only one left.
    x_steps = [cmd for cmd in commands("llm", out, *SMALL) if "--generate_model_data_only" in cmd]
    assert [cmd[cmd.index("--task_type") + 1] for cmd in x_steps] == ["nli"]


def test_a_real_run_prints_each_command_and_stops_at_the_first_failure(tmp_path):
    """Without --dry_run every step runs in order; a failing step ends the sweep with its status."""
    log = tmp_path / "calls.log"
    fake = tmp_path / "fake_python"
    # The sweep's own name check runs real Python on stdin ("-"); entry scripts are logged, the second fails.
    fake.write_text(f"""#!/usr/bin/env bash
if [[ $1 == - ]]; then exec {shlex.quote(sys.executable)} "$@"; fi
echo "$*" >> {shlex.quote(str(log))}
[[ $(wc -l < {shlex.quote(str(log))}) -lt 2 ]] || exit 3
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = sweep("finetune", tmp_path / "result", *SMALL, python=str(fake), dry_run=False)
    assert result.returncode == 3
    calls = log.read_text().splitlines()
    assert [call.split()[:3] for call in calls] == [["run_cr_train.py", "--to_train_dataset", "mrpc"],
                                                   ["run_cr_train.py", "--to_train_dataset", "rte"]]
    assert [shlex.split(line)[1:4] for line in result.stdout.splitlines()] == [
        ["run_cr_train.py", "--to_train_dataset", "mrpc"], ["run_cr_train.py", "--to_train_dataset", "rte"]]


@pytest.mark.parametrize("flags, message", [
    (["--cr_datasets", "mrpc,nope"], "unknown dataset 'nope'"),
    (["--prompts", "0,13"], "not a prompt number 0-12"),
    (["--emb_types", "lora"], "unknown method lora"),
    (["--no_such_flag", "1"], "unknown option --no_such_flag"),
])
def test_bad_options_stop_before_any_command(tmp_path, flags, message):
    result = sweep("task_emb", tmp_path / "result", *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
