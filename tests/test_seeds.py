"""Seeds from the sweeps to the records: each seed's steps, named and given --seed, write into <out>/seed<n>/; the
tables read every seed's folders and wait for every seed; a sweep that adds a seed reuses the others' steps; every
record names its seed; the x' a step draws follow its seed. Two seeds, the tiny BERT, data/samples."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from data_utils.artifacts.embeddings import read_embedding
from data_utils.artifacts.paths import CHECKPOINT_RECORD, ResultLayout, record_path
from sweeps import launch, paper
from sweeps.graph import Graph
from sweeps.options import Budgets, SweepError, SweepOptions, seeds_of

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
SMALL = ["--cr_datasets", "mrpc,rte", "--qa_datasets", "cq", "--llm_datasets", "sst2,cb", "--prompts", "0,10",
         "--llms", "llama-13b"]


def listed(out: Path, *flags: str) -> tuple[Graph, list[str]]:
    """The `all` graph scripts/sweep.py builds from these flags, and its notes."""
    sys.path.insert(0, str(REPO / "scripts"))
    sweep_cli = importlib.import_module("sweep")
    notes: list[str] = []
    graph = paper.build("all", sweep_cli.options_from(sweep_cli.build_parser().parse_args(
        ["all", "--out", str(out), *flags]), out.parent), notes)
    return graph, notes


def test_each_seed_has_every_step_named_seeded_and_in_its_folder_and_the_tables_read_every_seed(tmp_path):
    out = tmp_path / "result"
    one, _ = listed(out, *SMALL)
    two, notes = listed(out, *SMALL, "--seeds", "1,2")
    tables = [step for step in two.steps if step.stage in ("tables", "plots")]
    assert [s.name for s in tables] == [s.name for s in one.steps if s.stage in ("tables", "plots")]
    for seed in (1, 2):
        steps = [step for step in two.steps if step.name.endswith(f"_s{seed}")]
        # The default seed's steps, one for one, renamed, in the seed's folder, given --seed.
        assert [s.name for s in steps] == [f"{s.name}_s{seed}" for s in one.steps if s not in tables and
                                           s.stage not in ("tables", "plots")]
        for step in steps:
            assert step.argv[-2:] == ("--seed", str(seed)) and "--seed" not in step.argv[:-2]
            written = [str(path) for path in (*step.outputs, *step.inputs)]
            assert all(path.startswith(f"{out}/seed{seed}/") for path in written), step.name
    assert len(two.steps) == 2 * len(one.steps) - len(tables)
    assert any(note.startswith("seed2/selection/llama-13b_cb waits for prompts") for note in notes)
    # Each table reads both seeds' folders (comma-separated, in --seeds order) and waits for both seeds' steps.
    transfer = next(step for step in tables if step.name == "table_transfer")
    argv = list(transfer.argv)
    assert argv[argv.index("--emb_dir") + 1] == f"{out}/seed1/emb,{out}/seed2/emb"
    assert argv[argv.index("--score_dir") + 1] == f"{out}/seed1/finetune,{out}/seed2/finetune"
    assert "--seed" not in argv
    waits = {s.name for s in two.pending_dependencies(transfer, two.pending())}
    assert {"finetune_mrpc_s1", "finetune_mrpc_s2", "prefix-fute_mte_cq_s1", "prefix-fute_mte_cq_s2"} <= waits
    space = next(step for step in tables if step.name == "table_space")
    assert {path.parts[len(out.parts)] for path in space.inputs} == {"seed1", "seed2"}


def test_the_default_seed_keeps_its_step_names_so_that_adding_seeds_renames_nothing(tmp_path):
    graph, _ = listed(tmp_path / "result", "--cr_datasets", "mrpc", "--qa_datasets", "", "--llms", "",
                      "--seeds", "42,7")
    finetunes = [(step.name, step.argv[-1]) for step in graph.steps if step.stage == "finetune"]
    assert finetunes == [("finetune_mrpc", "42"), ("finetune_mrpc_s7", "7")]


@pytest.mark.parametrize("value, message", [("1,x", "x is not a list of seeds"), ("", "nothing is not"),
                                            ("3,03", "3 listed more than once"), ("-1", "-1 is not")])
def test_bad_seeds_are_one_line(value, message):
    with pytest.raises(SweepError, match=message):
        seeds_of(value)


def test_a_seed_in_extra_is_refused(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "scripts"))
    main = importlib.import_module("sweep").main
    for extra in ("--extra=--max_epochs 1 --seed 7", "--te_extra=--seed=7"):
        assert main(["finetune", "--out", str(tmp_path), extra]) == 2
        assert f"{extra.split('=')[0]}: --seed is the sweep's own" in capsys.readouterr().err


def test_the_demo_passes_its_seed_or_seeds_to_every_step(tmp_path):
    from sweeps import demo

    for flags, seeds in (([], [42]), (["--seed", "7"], [7]), (["--seeds", "1,2"], [1, 2])):
        args = demo.parse_args(["--out", str(tmp_path), "--parts", "cr", "--lm", "lm", *flags])
        assert args.seeds == seeds
        options = demo.preset(args, demo.DataSource.from_args(args), tmp_path / "pool.jsonl", None)
        steps = [step for step in paper.build("all", options, []).steps if step.stage not in ("tables", "plots")]
        assert sorted({step.argv[-1] for step in steps}, key=int) == [str(seed) for seed in seeds]
        assert all(f"/seed{step.argv[-1]}/" in step.command() for step in steps)
    with pytest.raises(SystemExit):
        demo.parse_args(["--parts", "cr", "--lm", "lm", "--seeds", "1,1"])


def run_seeds(out: Path, tiny_bert: Path, seeds: list[int]) -> list[str]:
    """The fine-tune of mrpc, its prefix MTE and the x' of the SA genre, per seed, run here (in process) as a sweep
    runs them; returns the commands run."""
    quick = ["--max_epochs", "1", "--max_train_examples", "16", "--max_dev_examples", "16", "--device", "cpu"]
    options = SweepOptions(out=out, python=sys.executable, lm=str(tiny_bert), surrogate=str(tiny_bert), llms=["m"],
                           cr=["mrpc"], llm_sets=["sst2"], prompts=[0], emb_types=["prefix"], seeds=seeds,
                           data_dir=SAMPLES, pool=SAMPLES / "unsup_pool.jsonl", extra=quick,
                           te_extra=["--device", "cpu"], budgets=Budgets(pool_per_source=4, mte_epochs=1))
    graph = paper.build("all", options, [])
    pending = [step for step in graph.to_run(graph.states()) if step.stage in ("finetune", "mte", "x")]
    ran: list[str] = []
    assert launch.run_local(graph, pending, 1, [], out / "logs", in_process=True, echo=ran.append) == 0
    return ran


def test_a_sweep_that_adds_a_seed_reuses_the_others_and_every_record_names_its_seed(tmp_path, tiny_bert):
    out = tmp_path / "result"
    first = run_seeds(out, tiny_bert, [1])
    assert len(first) == 3 and all(command.endswith(" --seed 1") for command in first)
    seed1 = ResultLayout(out).for_seed(1)
    made = {path: path.stat().st_mtime_ns for path in seed1.seed_dir.rglob("*") if path.is_file()}
    again = run_seeds(out, tiny_bert, [1, 2])
    assert len(again) == 3 and all(command.endswith(" --seed 2") for command in again)
    assert {path: path.stat().st_mtime_ns for path in seed1.seed_dir.rglob("*") if path.is_file()} == made
    x_lines = {}
    for seed in (1, 2):
        layout = ResultLayout(out).for_seed(seed)
        assert json.loads(record_path(layout.score("mrpc")).read_text())["config"]["seed"] == seed
        assert json.loads((layout.checkpoint("mrpc") / CHECKPOINT_RECORD).read_text())["config"]["seed"] == seed
        for x_or_mte in (layout.llm_inputs("sa"), layout.mte("prefix-fute", "mrpc")):
            config = json.loads(record_path(x_or_mte).read_text())["config"]
            assert (config["seed"], config["pool"]["seed"]) == (seed, seed)
        assert read_embedding(layout.mte("prefix-fute", "mrpc")).info.seed == seed
        x_lines[seed] = layout.llm_inputs("sa").read_text()
    assert x_lines[1] != x_lines[2]  # each seed draws its own x'
    # The same seed draws the same x': seed 1's command again, into another file.
    [command] = [c for c in first if "--generate_model_data_only" in c]
    again_x = tmp_path / "again_x.jsonl"
    import run_task_emb

    words = command.split()[2:]
    words[words.index("--save_path") + 1] = str(again_x)
    run_task_emb.main(words)
    assert again_x.read_text() == x_lines[1]


def test_two_seeds_run_through_the_tables_and_plots_each_seed_ranked_on_its_own(tmp_path, tiny_bert):
    """The seam a per-step test cannot see: the sweep's table and plot commands over two seeds' folders, run as the
    sweep runs them after every seed's steps; each seed's MTEs ranked among that seed's DTEs, and plotted apart."""
    out = tmp_path / "result"
    budgets = Budgets(train_examples=16, epochs=1, dev_examples=16, transfer_examples=16, emb_examples=16,
                      dte_epochs={"prefix-baseline": 1, "prefix-fute": 1}, pool_per_source=4, mte_epochs=1)
    options = SweepOptions(out=out, python=sys.executable, lm=str(tiny_bert), surrogate=str(tiny_bert), llms=[],
                           cr=["sst2", "mrpc"], emb_types=["prefix"], seeds=[1, 2], data_dir=SAMPLES,
                           pool=SAMPLES / "unsup_pool.jsonl", te_extra=["--device", "cpu"], budgets=budgets,
                           lm_plot_kinds=("DTE", "MTE"))
    graph = paper.build("all", options, [])
    ran: list[str] = []
    assert launch.run_local(graph, graph.to_run(graph.states()), 1, [], out / "logs", in_process=True,
                            echo=ran.append) == 0
    assert {step.stage for step in graph.steps} >= {"finetune", "transfer", "fute_dte", "mte", "tables", "plots"}
    assert not graph.to_run(graph.states())  # every step finished, the tables' and plots' too

    layout = ResultLayout(out)
    space = json.loads(layout.table("space").with_suffix(".json").read_text())
    ranks = [rank for rank in space["ranks"] if rank["view"] == "raw"]
    assert sorted((rank["seed"], rank["mte"]) for rank in ranks) == [(1, "mrpc"), (1, "sst2"), (2, "mrpc"),
                                                                     (2, "sst2")]
    for rank in ranks:  # recomputed from that seed's own embeddings
        seeded = layout.for_seed(rank["seed"])
        mte = read_embedding(seeded.mte(rank["method"], rank["mte"])).vector()
        dtes = {task: read_embedding(seeded.dte(rank["method"], task)).vector() for task in ("sst2", "mrpc")}
        cosine = {task: dte @ mte / (np.linalg.norm(dte) * np.linalg.norm(mte)) for task, dte in dtes.items()}
        assert rank["own_rank"] == 1 + sum(c > cosine[rank["mte"]] for c in cosine.values())
    transfer = json.loads(layout.table("transfer").with_suffix(".json").read_text())
    assert sorted(transfer["targets"]["prefix-fute"]) == ["1", "2"]  # each seed's rankings, from its own folders
    assert transfer["summary"]["prefix-fute"]["cr"]["in_class"]["rho"]["seeds"] == 2
    plots = sorted(path.name for path in (out / "eval").rglob("*.png"))
    assert plots and all(any(f"_seed{seed}_" in name for name in plots) for seed in (1, 2))
