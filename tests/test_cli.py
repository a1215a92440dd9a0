"""What every entry script's command line does: --help without torch, every default in --help, a bad flag on
one line; the progress lines of long loops in a log; the gradient accumulation chosen for a batch given alone."""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_utils import cli
from data_utils.errors import FuteError
from data_utils.progress import LogProgress, interval_seconds, progress
from task_emb.options import fitting_accumulation, resolve_batch_split

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
# Every command a user types: the entry scripts (run_eval.py with each subcommand) and the scripts/ tools.
SCRIPTS = ("run_cr_train.py", "run_qa_train.py", "run_task_emb.py", "run_llm_inference.py",
           "run_llm_inference_for_te.py", "run_prompt_selection_baselines.py", "run_eval.py", "scripts/sweep.py",
           "scripts/demo.py", "scripts/check_hub.py")
HEAVY = ("torch", "transformers", "scipy", "sklearn", "pandas", "matplotlib", "datasets")


def load(script: str):
    """The module of an entry script (scripts/ holds no package: loaded from its file)."""
    spec = importlib.util.spec_from_file_location(Path(script).stem + "_under_test", ROOT / script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads (make_sample_data.py)
    spec.loader.exec_module(module)
    return module


def parse(module, argv: list[str]):
    """The script's own parse step: parse_args, or sweep.py's build_parser().parse_args."""
    if hasattr(module, "parse_args"):
        return module.parse_args(argv)
    return module.build_parser().parse_args(argv)


def test_every_help_is_printed_without_loading_torch():
    """A fresh interpreter imports each script and prints its --help (run_eval.py's subcommands too): none of
    torch, transformers, scipy, scikit-learn, pandas, matplotlib or datasets is loaded for it."""
    program = f"""
import contextlib, importlib.util, io, json, sys
sys.path.insert(0, {str(ROOT)!r})
heavy, helps = {{}}, {{}}
for script in {list(SCRIPTS)!r}:
    spec = importlib.util.spec_from_file_location(script.replace("/", "_")[:-3], {str(ROOT)!r} + "/" + script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parse = getattr(module, "parse_args", None) or (lambda argv: module.build_parser().parse_args(argv))
    for argv in ([["--help"]] + ([[sub, "--help"] for sub in module.SUBCOMMANDS] if script == "run_eval.py" else [])):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            parse(argv)
        helps[" ".join([script, *argv])] = out.getvalue()
    heavy[script] = [name for name in {list(HEAVY)!r} if name in sys.modules]
print(json.dumps({{"heavy": heavy, "helps": helps}}))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT)
    report = json.loads(result.stdout)
    assert report["heavy"] == {script: [] for script in SCRIPTS}
    subcommands = [f"run_eval.py {name} --help" for name in load("run_eval.py").SUBCOMMANDS]
    assert sorted(report["helps"]) == sorted([f"{script} --help" for script in SCRIPTS] + subcommands)
    for command, text in report["helps"].items():
        assert text.startswith("usage: "), command


class Captured(Exception):
    """Raised in place of parsing, carrying the parser a script built."""


def parsers(monkeypatch) -> dict[str, argparse.ArgumentParser]:
    """Every parser of every script, as the script builds it (run_eval.py's subcommands by name)."""
    def capture(self, args=None, namespace=None):
        raise Captured(self)

    monkeypatch.setattr(cli.ArgumentParser, "parse_args", capture)
    found = {}
    for script in SCRIPTS:
        with pytest.raises(Captured) as built:
            parse(load(script), [])
        parser = built.value.args[0]
        found[script] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found.update({f"{script} {name}": sub for name, sub in action.choices.items()})
    return found


def test_every_option_says_its_default_in_help(monkeypatch):
    """Each option a user may leave out says what it then is: the value (the formatter adds "(default: X)", a list
    as a,b,c) or, for None and "", what that means, in its own words."""
    for name, parser in parsers(monkeypatch).items():
        assert isinstance(parser, cli.ArgumentParser), name  # the one-line errors below
        parser.format_help()  # every help string formats (a bare % would raise)
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.required or action.nargs == 0 or action.help == argparse.SUPPRESS or not action.option_strings:
                continue
            text = formatter._get_help_string(action) % {"default": action.default}
            assert "default" in text.lower(), f"{name} {action.option_strings[0]}: {text}"
            if action.default not in (None, "") and "default" not in (action.help or "").lower():
                shown = (",".join(map(str, action.default)) if isinstance(action.default, (list, tuple))
                         else str(action.default))
                assert text.endswith(f"(default: {shown})"), text


def test_the_issues_defaults_are_shown(monkeypatch):
    """The defaults the issue missed: --bit 8 and --max_examples 1000, the sweep's --lm and --surrogate."""
    helps = {name: " ".join(parser.format_help().split()) for name, parser in parsers(monkeypatch).items()}

    def option_help(script: str, option: str) -> str:  # its entry under "options:", after the usage lines
        return helps[script].split(option)[-1].split(" --")[0]

    assert option_help("run_llm_inference.py", "--bit {4,8,16,32}").endswith("(default: 8)")
    assert option_help("run_llm_inference.py", "--max_examples MAX_EXAMPLES").endswith("(default: 1000)")
    assert option_help("scripts/sweep.py", "--lm LM").endswith("(default: bert-base-uncased)")
    assert option_help("scripts/sweep.py", "--surrogate SURROGATE").endswith("(default: t5-base)")


@pytest.mark.parametrize("script,argv,expected", [
    ("run_task_emb.py", ["--save_path", "x", "--task_type", "xx", "--input_type", "data", "--task_emb_type", "prefix"],
     "argument --task_type: invalid choice: 'xx'"),
    ("run_cr_train.py", ["--lm_model_name", "m", "--score_save_path", "s"],
     "the following arguments are required: --to_train_dataset"),
    ("run_qa_train.py", ["--to_train_dataset", "cq", "--lm_model_name", "m", "--score_save_path", "s", "--epochs", "2"],
     "unrecognized arguments: --epochs 2"),
    ("run_llm_inference.py", ["--save_path", "x", "--model", "m", "--dataset_name", "sst2", "--prompt_number", "13"],
     "argument --prompt_number: '13': prompts are 0-12"),
    ("run_llm_inference_for_te.py", ["--save_path", "x", "--model", "m", "--data_load_path", "x", "--prompt_number",
                                     "0", "--task_genre", "qa"], "argument --task_genre: invalid choice: 'qa'"),
    ("run_prompt_selection_baselines.py", ["--paths", "a"], "the following arguments are required: --save_path"),
    ("run_eval.py", ["tranfser"], "argument {transfer,prompt,plot,space,compare}: invalid choice: 'tranfser'"),
    ("run_eval.py", ["transfer", "--emb_dir", "e"], "the following arguments are required: --score_dir, --save_path"),
    ("scripts/sweep.py", ["finetune", "--bit", "3"], "argument --bit: invalid choice: 3"),
    ("scripts/demo.py", ["--parts", "cr,fim"], "--parts: unknown part(s) fim"),
    ("scripts/check_hub.py", ["--rows", "many"], "argument --rows: invalid int value: 'many'"),
])
def test_a_bad_flag_is_one_line_naming_it_and_help(script, argv, expected, capsys):
    """argparse's usage block (25 lines for run_task_emb.py) is gone: one line, status 2."""
    with pytest.raises(SystemExit) as exit_:
        parse(load(script), argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    prog, _, message = err.partition(": error: ")
    assert expected in message and message.endswith(f"; see {prog} --help\n"), err


def test_fute_log_level_is_the_default_of_every_scripts_log_level(monkeypatch):
    """$FUTE_LOG_LEVEL (any case) is --log_level's default; the flag still wins; a bad value is one error."""
    module, argv = load("run_eval.py"), ["space", "--emb_dir", "e", "--save_path", "s"]
    monkeypatch.setenv("FUTE_LOG_LEVEL", "warning")
    assert parse(module, argv).log_level == "WARNING"
    assert parse(module, [*argv, "--log_level", "DEBUG"]).log_level == "DEBUG"
    monkeypatch.setenv("FUTE_LOG_LEVEL", "loud")
    with pytest.raises(FuteError, match="FUTE_LOG_LEVEL='loud' is no log level; set one of DEBUG, INFO"):
        parse(module, argv)
    monkeypatch.delenv("FUTE_LOG_LEVEL")
    assert parse(module, argv).log_level == "INFO"


# ----------------------------------------------------------------------------- progress lines

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_lines_come_every_interval_with_rate_and_time_left(caplog):
    """10 steps of 4 s each, a line at most every 10 s: after steps 3, 6 and 9 (12, 24, 36 s), each with what is
    done, the rate (0.25/s) and what is left at that rate, then a closing line with the whole time."""
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="progress"):
        bar = LogProgress(range(10), desc="fim", unit="batches", interval=10, clock=clock)
        for step in bar:
            clock.now += 4
            bar.set_postfix(loss=f"{1 / (step + 1):.2f}")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["fim: 3/10 batches (30%), 0.25 batches/s, 0:00:28 left, loss=0.33",
                     "fim: 6/10 batches (60%), 0.25 batches/s, 0:00:16 left, loss=0.17",
                     "fim: 9/10 batches (90%), 0.25 batches/s, 0:00:04 left, loss=0.11",
                     "fim: 10 batches in 0:00:40 (0.25 batches/s)"]


def test_a_loop_shorter_than_the_interval_logs_nothing_and_updates_count(caplog):
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="progress"):
        with LogProgress(total=None, desc="llm", unit="examples", interval=30, clock=clock) as bar:
            for _ in range(3):
                clock.now += 5
                bar.update(8)
        assert caplog.records == [] and bar.n == 24
        with LogProgress(total=None, desc="llm", unit="examples", interval=0, clock=clock) as bar:
            clock.now += 2
            bar.update(8)
    assert [record.getMessage() for record in caplog.records] == ["llm: 8 examples, 4 examples/s",
                                                                  "llm: 8 examples in 0:00:02 (4 examples/s)"]


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere(monkeypatch):
    from tqdm.auto import tqdm

    assert isinstance(progress(range(2), desc="x", terminal=False), LogProgress)
    bar = progress(range(2), desc="x", terminal=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]
    monkeypatch.setenv("FUTE_PROGRESS_SECONDS", "2.5")
    assert interval_seconds() == 2.5 and progress(range(2), desc="x", terminal=False).interval == 2.5
    monkeypatch.setenv("FUTE_PROGRESS_SECONDS", "soon")
    with pytest.raises(FuteError, match="FUTE_PROGRESS_SECONDS='soon': give the seconds"):
        interval_seconds()


def test_a_fine_tune_logs_progress_within_its_epochs(tiny_bert, tmp_path, caplog, monkeypatch):
    """Output that is no terminal (here, pytest's capture) gets progress lines from the training loop, the dev
    pass and the surrogate's loops alike; FUTE_PROGRESS_SECONDS=0 logs every step."""
    import run_cr_train

    monkeypatch.setenv("FUTE_PROGRESS_SECONDS", "0")
    with caplog.at_level(logging.INFO, logger="progress"):
        run_cr_train.main(["--to_train_dataset", "sst2", "--dataset_path", str(SAMPLES / "sst2"), "--lm_model_name",
                           str(tiny_bert), "--score_save_path", str(tmp_path / "s"), "--max_train_examples", "16",
                           "--max_dev_examples", "8", "--batch_size", "8", "--max_epochs", "1"])
    lines = [record.getMessage() for record in caplog.records if record.name == "progress"]
    assert "sst2 epoch 1/1: 1/2 batches (50%)" in lines[0] and "loss=" in lines[0]
    assert any(line.startswith("sst2 epoch 1/1: 2 batches in ") for line in lines)
    assert any(line.startswith("dev: 1/1 batches (100%)") for line in lines)


# ----------------------------------------------------------------------------- gradient accumulation

def fewest_fitting_steps(batch: int, largest_pass: int) -> int:
    """By brute force: the smallest number of equal forward passes of at most `largest_pass` examples."""
    return min(steps for steps in range(1, batch + 1) if batch % steps == 0 and batch // steps <= largest_pass)


@pytest.mark.parametrize("batch", [1, 7, 8, 12, 13, 16, 48, 100, 128, 250, 256])
def test_a_batch_given_alone_gets_steps_that_split_it(batch):
    """The defaults' steps when they divide the batch (as before: 256 -> 16); else the fewest steps whose passes
    are no larger than the defaults' (an MTE's 128 in 16 passes of 8)."""
    expected = 16 if batch % 16 == 0 else fewest_fitting_steps(batch, 8)
    steps = fitting_accumulation(batch, default_batch=128, default_steps=16)
    assert steps == expected and batch % steps == 0
    assert batch % 16 == 0 or batch // steps <= 8


def test_accumulation_given_or_in_conflict(caplog):
    defaults = {"batch_size": 128, "gradient_accumulation_steps": 16, "max_epochs": 1, "max_len": 8}
    with caplog.at_level(logging.INFO, logger="task_emb.options"):
        chosen = resolve_batch_split(defaults, {"batch_size": 8, "gradient_accumulation_steps": None})
    assert chosen["gradient_accumulation_steps"] == 1 and "using 1 (forward passes of 8 examples" in caplog.text
    assert resolve_batch_split(defaults, {"batch_size": 8, "gradient_accumulation_steps": 4})[
        "gradient_accumulation_steps"] == 4  # given: kept
    with pytest.raises(FuteError, match="--batch_size 8 must be a multiple of --gradient_accumulation_steps 16"):
        resolve_batch_split(defaults, {"batch_size": 8, "gradient_accumulation_steps": 16})


@pytest.mark.parametrize("family,input_kind,steps", [("prefix", "model", 1), ("fim", "model", 2),
                                                     ("prefix", "llm", 1)])
def test_the_mte_defaults_fit_a_batch_of_8(family, input_kind, steps):
    """The issue's `--batch_size 8` for an MTE: the defaults' 16 (prefix) or 32 (FIM) steps become passes of
    the defaults' own size, 8 (128 / 16) or 4 (128 / 32)."""
    from task_emb.pipeline import hyper_parameters

    hp = hyper_parameters(input_kind, "sa" if input_kind == "llm" else "cr", family, False,
                          {"batch_size": 8, "gradient_accumulation_steps": None})
    assert (hp["gradient_accumulation_steps"], hp["micro_batch_size"]) == (steps, 8 // steps)


def test_the_chosen_accumulation_is_recorded(tmp_path, tiny_bert):
    """End to end: a DTE with --batch_size 6 under a method whose default is 16 in 4 passes records the
    accumulation it ran with (2 passes of 3), not the flag's None."""
    import run_task_emb
    from configs.methods import EmbeddingFamily, EmbeddingMethod
    from task_emb.families import FAMILIES, Family, LearnReport

    seen = {}

    def learn(surrogate, training, tokenizer, hp, device, options):
        seen.update(hp)
        return LearnReport(np.ones(3, dtype=np.float32))

    defaults = {("data", "cr", False): {"batch_size": 16, "max_len": 32, "gradient_accumulation_steps": 4,
                                        "learning_rate": 1e-4, "max_epochs": 1, "patience": None}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(FAMILIES, "fake", Family(EmbeddingFamily(
            name="fake", methods=(EmbeddingMethod("fake-fute", "fake", True, "Fake"),), defaults=defaults), learn))
        run_task_emb.main(["--task_type", "cr", "--input_type", "data", "--task_emb_type", "fake", "--to_train_dataset",
                           "sst2", "--dataset_path", str(SAMPLES / "sst2"), "--max_train_examples", "8",
                           "--batch_size", "6", "--task_emb_model_lm_name", str(tiny_bert),
                           "--save_path", str(tmp_path / "e")])
    record = json.loads((tmp_path / "e.record.json").read_text())["config"]
    assert (seen["gradient_accumulation_steps"], seen["micro_batch_size"]) == (2, 3)
    assert record["hyper_parameters"]["gradient_accumulation_steps"] == 2
    assert record["gradient_accumulation_steps"] is None  # the flag as given: not set
