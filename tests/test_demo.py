"""The demo (scripts/demo.py) end to end in a tiny configuration: tiny models, a handful of examples.

Every stage must leave well-formed output, and a second run must reuse every step.
"""
import gzip
import importlib.util
import json
import logging
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from data_utils.artifacts.embeddings import read_embedding
from data_utils.artifacts.paths import record_path
from data_utils.artifacts.paths import ResultLayout
from data_utils.artifacts.text_prints import prints_path
from data_utils.errors import FuteError
from fake_hub import template_rows
from sweeps import demo as preset

ROOT = Path(__file__).parents[1]
# What the demo computed at a reference commit (demo_digest below); FUTE_WRITE_DEMO_DIGEST=1 stores it anew.
DIGEST = ROOT / "tests" / "fixtures" / "demo_digest.json"
DECIMAL = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_bert, tiny_llama):
    out = tmp_path_factory.mktemp("demo")
    argv = ["--out", str(out), "--lm", str(tiny_bert), "--llm", str(tiny_llama), "--cr_tasks", "sst2,mrpc",
            "--qa_tasks", "cq,comqa", "--train_examples", "16", "--epochs", "1", "--emb_epochs", "1",
            "--pool_per_source", "2", "--llm_examples", "4", "--llm_x_per_source", "1", "--cot_max_new_tokens", "4",
            "--qa_max_len", "96"]
    demo = load_demo()
    results = demo.main(argv)
    return demo, argv, out, results


def test_every_stage_leaves_well_formed_output(demo_run):
    _, argv, out, results = demo_run
    # 1. fine-tuning and transfer scores
    layout, llm = ResultLayout(out), argv[argv.index("--llm") + 1]
    for target, source in (("sst2", None), ("cq", None), ("mrpc", "sst2"), ("comqa", "cq"), ("sst2", "cq")):
        scores = json.loads(layout.score(target, source).read_text())
        assert 0.0 <= scores["best"] <= 1.0
    # 2-4. embeddings with their records, which say what each is
    for path, kind, task in ((layout.dte("prefix-baseline", "sst2"), "DTE", "sst2"),
                             (layout.dte("fim-fute", "cq"), "DTE", "cq"), (layout.dte("textemb", "sst2"), "DTE", "sst2"),
                             (layout.mte("prefix-fute", "mrpc"), "MTE", "mrpc"),
                             (layout.mte("fim-fute", "comqa"), "MTE", "comqa"),
                             (layout.llm_mte("prefix-fute", llm, "sa", 0), "MTE", "sa"),
                             (layout.llm_mte("prefix-fute", llm, "nli", 12), "MTE", "nli")):
        embedding = read_embedding(path)
        vector = embedding.vector()
        assert vector.ndim == 1 and np.isfinite(vector).all() and embedding.dim == vector.size
        assert (embedding.kind, embedding.genre if embedding.info.llm else embedding.dataset,
                embedding.method in path.parent.name) == (kind, task, True)
    assert read_embedding(layout.llm_mte("prefix-fute", llm, "nli", 12)).info.prompt == 12
    # an LLM evaluation set's DTE is learned by the FUTE methods only: no table reads a baseline's
    assert layout.dte("prefix-fute", "cb").is_file() and layout.dte("fim-fute", "cb").is_file()
    assert not any(layout.dte(method, "cb").exists() for method in ("prefix-baseline", "fim-baseline", "textemb"))
    # the demo's DTE schedule, not the paper's, reached each DTE: its own rates for QA prefixes and for FIM
    for method, task, rate, epochs in (("prefix-fute", "cq", 7e-3, 2), ("prefix-baseline", "comqa", 7e-3, 1),
                                       ("prefix-baseline", "sst2", 1e-2, 1), ("fim-fute", "mrpc", 4e-4, 3),
                                       ("fim-baseline", "cq", 4e-4, 3)):
        schedule = json.loads(record_path(layout.dte(method, task)).read_text())["config"]["hyper_parameters"]
        assert (schedule["learning_rate"], schedule["max_epochs"]) == (rate, epochs), (method, task)
    # 4. LLM outputs
    lines = layout.llm_answers(llm, "nli", 11).read_text().splitlines()
    assert len(lines) == len(layout.llm_inputs("nli").read_text().splitlines())
    inference = json.loads(layout.inference(llm, "cb", 10).read_text())
    assert inference["cot"] and len(inference["results"]) == 4 and "chat_history" in inference["results"][0]
    # 5. baselines, tables, plots
    selection = json.loads(layout.selection(llm, "rotten_tomatoes").read_text())
    assert all(len(selection[key]) == 13 for key in ("mi", "ge", "le", "mdl", "zlpm", "zpm", "zmv", "spell"))
    assert "FUTE + TuPaTE" in results["transfer"].read_text()
    assert "FUTE" in results["prompt"].read_text()
    space = json.loads(layout.table("space").with_suffix(".json").read_text())
    assert {(row["method"], row["view"]) for row in space["summary"]} == {
        ("prefix-fute", "raw"), ("prefix-fute", "displacement"), ("fim-fute", "raw")}
    pngs = sorted((out / "eval").rglob("*.png"))
    # 2 space heatmaps; 3 plots each for prefix-fute, fim-fute and the LLM prompts, + 2 prefix displacement heatmaps
    assert len(pngs) == 13 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def demo_digest(out: Path, lm: Path, llm: Path) -> dict:
    """What the demo computed, free of this run's paths (placeholders <out>, <lm>, <llm>): each Markdown and CSV
    table as its text with every decimal taken out (the numbers beside it), each fine-tuning score and each
    embedding's size, norm and first values. Decimals are compared with a tolerance: another CPU may differ in
    the last bits of a float, never in a rank or a word. The default seed's folder (<out>/seed42/, where its
    artifacts have been since runs have seeds) is <out> too: the digest names files as the one-seed layout did."""
    run = ResultLayout(out).seed_dir

    def placeholders(text: str) -> str:
        text = text.replace(str(run), "<out>")
        for path, name in ((out, "<out>"), (lm, "<lm>"), (llm, "<llm>")):
            text = text.replace(str(path), name).replace(path.name, name)
        return text

    tables = {}
    for path in sorted((out / "eval").glob("*.[mc][ds]*")):
        text = placeholders(path.read_text())
        tables[path.name] = {"text": DECIMAL.sub("#", text), "numbers": [float(x) for x in DECIMAL.findall(text)]}
    scores = {placeholders(str(p.relative_to(run))): json.loads(p.read_text())["best"]
              for p in sorted(run.rglob("*_score.json"))}
    embeddings = {}
    for path in sorted(run.rglob("*.npy")):
        vector = np.load(path).astype(np.float64).ravel()
        embeddings[placeholders(str(path.relative_to(run)))] = [vector.size, float(np.linalg.norm(vector)),
                                                                 *map(float, vector[:4])]
    return {"tables": tables, "scores": scores, "embeddings": embeddings}


def test_the_demo_computes_what_its_stored_digest_holds(demo_run, tiny_bert, tiny_llama):
    """A guard for refactoring: the demo's tables, scores and embeddings equal the digest stored at the commit
    before the code was reorganised (tests/fixtures/demo_digest.json), words and ranks exactly, decimals to a
    relative 1e-3."""
    _, _, out, _ = demo_run
    digest = demo_digest(out, tiny_bert, tiny_llama)
    if os.environ.get("FUTE_WRITE_DEMO_DIGEST") == "1":
        DIGEST.write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
    stored = json.loads(DIGEST.read_text())
    assert sorted(digest["tables"]) == sorted(stored["tables"])
    for name, table in stored["tables"].items():
        assert digest["tables"][name]["text"] == table["text"], name
        assert len(digest["tables"][name]["numbers"]) == len(table["numbers"]), name
        assert all(math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)
                   for a, b in zip(digest["tables"][name]["numbers"], table["numbers"])), name
    for part in ("scores", "embeddings"):
        assert sorted(digest[part]) == sorted(stored[part])
        for key, value in stored[part].items():
            assert np.allclose(digest[part][key], value, rtol=1e-3, atol=1e-6), (part, key)


def test_a_second_run_reuses_every_step(demo_run, capsys):
    demo, argv, out, _ = demo_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    demo.main(argv)
    printed = capsys.readouterr().out
    assert "0 steps run" in printed and "Dev scores after fine-tuning" in printed
    # One line per fine-tuning run: its datasets, its main metric and the best dev score its score file holds.
    layout = ResultLayout(out)
    runs = {("sst2", None): "accuracy", ("mrpc", "sst2"): "f1", ("cq", "comqa"): "f1", ("sst2", "cq"): "accuracy"}
    for (target, source), metric in runs.items():
        best = json.loads(layout.score(target, source).read_text())["best"]
        name = target if source is None else f"{source} -> {target}"
        assert re.search(rf"^  {re.escape(name)} +{metric} +{best:.3f}   guess ", printed, re.M), (name, printed)
    assert "# Transferability" in printed and "# Prompt selection" in printed  # both tables are printed
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_a_step_made_by_other_flags_is_stale_and_redone_with_overwrite(demo_run, caplog):
    """A step is done only when its outputs were made by its own command, end to end: the demo again with another
    --mte_epochs. Each MTE of a fine-tuned model is stale and run again with --overwrite True (run_task_emb.py
    refuses to replace a finished embedding without it); the tables and plots that read them are made again after
    them; every other output is reused as it was."""
    demo, argv, out, _ = demo_run
    layout = ResultLayout(out)
    mtes = [layout.mte(method, task) for method in ("prefix-fute", "fim-fute") for task in ("sst2", "mrpc", "cq", "comqa")]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    with caplog.at_level(logging.WARNING, logger="demo"):
        demo.main([*argv, "--mte_epochs", "3"])
    stale = {m.split(" (")[0].removeprefix("# stale: "): m for m in caplog.messages if m.startswith("# stale: ")}
    redone = {name: m for name, m in stale.items() if "_mte_" in name}
    assert sorted(redone) == sorted(f"{method}_mte_{task}" for method in ("prefix-fute", "fim-fute")
                                    for task in ("sst2", "mrpc", "cq", "comqa"))
    assert all(m.endswith("; run again with --overwrite True") for m in redone.values())
    assert all("--mte_epochs" not in m and "--max_epochs 2, now 3" in m for m in redone.values())
    # What reads them is stale too, said before it runs, and made again as it is (run_eval.py writes anew).
    assert {name for name in stale if name not in redone} == {
        "table_transfer", "table_space", "plot_prefix-fute_lm", "plot_fim-fute_lm"}
    assert all(m.endswith("which is done again); run again") for name, m in stale.items() if name not in redone)
    for path in mtes:
        record = json.loads(record_path(path).read_text())
        assert record["argv"][-6:] == ["--save_path", str(path), "--seed", "42", "--overwrite", "True"]
        assert record["config"]["max_epochs"] == 3
    changed = {p for p, time in before.items() if p.exists() and p.stat().st_mtime_ns != time}
    made_again = {*mtes, *map(record_path, mtes), *map(prints_path, mtes)}  # each with its record and fingerprint
    assert made_again <= changed
    # The launcher's logs: those of the steps run again (two jobs: each step's output in its log), no other.
    logs = {p for p in changed if p.is_relative_to(out / "logs")}
    assert logs == {out / "logs" / f"{name}.log" for name in stale}
    assert all(p in made_again or p.is_relative_to(out / "eval") for p in changed - logs), sorted(changed - made_again)


# ---------------------------------------------------------------- --data hub, through a fake hub


@pytest.fixture()
def fake_hub(tmp_path, monkeypatch):
    """The hub, offline: `datasets.load_dataset` serves the registry's datasets from data/samples and every
    pool dataset a few rows; MultiQA downloads write the sample QA sets as SQuAD-2.0 JSON. Records each call."""
    import datasets

    from data_utils.declarations import DATASETS
    from configs.unsup_pool import POOL_SOURCES
    from data_utils import loading
    from data_utils.io import iter_jsonl

    samples = ROOT / "data" / "samples"
    registry = {(spec.hub_id, spec.hub_config): spec.name for spec in DATASETS.values() if (samples / spec.name).is_dir()}
    pool = {(source.hub_id, source.config): source for source in POOL_SOURCES.values()}
    calls = []

    def load_dataset(path, name=None, split=None, revision=None, data_dir=None, streaming=False):
        calls.append((path, name, split))
        if (path, name) in registry:
            return datasets.Dataset.from_list(list(iter_jsonl(samples / registry[path, name] / f"{split}.jsonl")))
        if (path, name) in pool:
            return datasets.Dataset.from_list(template_rows(pool[path, name], [f"{path} row {i}" for i in range(3)]))
        raise FileNotFoundError(f"Dataset '{path}' doesn't exist on the Hub")

    def urlretrieve(url, target):
        calls.append((url, None, None))
        spec = next(s for s in DATASETS.values() if s.multiqa_name and f"/{s.multiqa_name}_" in url)
        split = "train" if url.endswith("_train.json.gz") else "validation"
        rows = list(iter_jsonl(samples / spec.name / f"{split}.jsonl"))
        squad = {"data": [{"title": row["title"], "paragraphs": [{"context": row["context"], "qas": [{
            "id": row["id"], "question": row["question"], "is_impossible": not row["answers"]["text"],
            "answers": [{"text": t, "answer_start": s} for t, s in zip(row["answers"]["text"],
                                                                       row["answers"]["answer_start"])]}]}]}
            for row in rows]}
        with gzip.open(target, "wt", encoding="utf-8") as handle:
            json.dump(squad, handle)

    monkeypatch.setenv("FUTE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(loading.urllib.request, "urlretrieve", urlretrieve)
    return calls


@pytest.mark.slow  # ~40 s: the whole demo on tiny models; the hub is faked, so library versions hardly matter
def test_data_hub_reads_every_task_and_the_pool_through_the_registry(tmp_path, fake_hub, monkeypatch, tiny_bert,
                                                                     tiny_llama):
    from data_utils.declarations import DATASETS
    from configs.unsup_pool import EXCLUDE_FOR_TRANSFER, POOL_SOURCES

    from data_utils import unsup_pool

    out = tmp_path / "demo"
    demo = load_demo()
    monkeypatch.setattr(preset, "HUB_POOL_PROCESSES", 1)  # every hub call in this process, where fake_hub sees it
    # A few pool datasets, two of them transfer targets the MTEs' x' must leave out: the LLM answers every x'
    # under 13 prompts, so the ~150 of the real pool would take minutes here.
    kept = [*sorted(set(POOL_SOURCES) - set(EXCLUDE_FOR_TRANSFER))[:4], "glue_sst2", "glue_mrpc"]
    pool = {name: POOL_SOURCES[name] for name in kept}
    monkeypatch.setattr(unsup_pool, "POOL_SOURCES", pool)
    argv = ["--data", "hub", "--out", str(out), "--lm", str(tiny_bert), "--llm", str(tiny_llama),
            "--cr_tasks", "sst2,mrpc", "--qa_tasks", "cq", "--train_examples", "16", "--epochs", "1",
            "--transfer_examples", "16", "--emb_examples", "16", "--emb_epochs", "1", "--pool_per_source", "1",
            "--llm_examples", "4", "--llm_x_per_source", "1", "--cot_max_new_tokens", "4", "--qa_max_len", "96",
            "--dev_examples", "20", "--jobs", "1"]  # in this process, where fake_hub sees every hub call
    results = demo.main(argv)
    layout = ResultLayout(out)
    for task in ("sst2", "mrpc", "cq"):  # no local copy named anywhere; the dev split cut to --dev_examples
        config = json.loads(layout.score(task).with_suffix(".record.json").read_text())["config"]
        assert config["dataset_path"] is None and config["max_dev_examples"] == 20
    loaded = [(path, name) for path, name, _ in fake_hub]
    for name in ("sst2", "mrpc", "rotten_tomatoes", "cb"):
        assert (DATASETS[name].hub_id, DATASETS[name].hub_config) in loaded
    assert any("ComplexQuestions" in path for path, _ in loaded)
    # The pool is loaded from the hub once, every dataset of it that is none of the demo's tasks (glue's are the
    # tasks' datasets, loaded for those only), and saved with its record for every step.
    pool_only = [(pool[name].hub_id, pool[name].config) for name in kept[:4]]
    assert sorted(key for key in loaded if key in pool_only) == sorted(pool_only)
    saved = json.loads((out / "unsup_pool.record.json").read_text())
    assert saved["max_per_source"] == 1 and saved["failed"] == {} and set(saved["sources"]) == set(kept[:4])
    assert saved["left_out"] == {"glue_sst2": "sst2", "glue_mrpc": "mrpc"}
    # x' of every MTE: one per source from that file, minus the transfer targets.
    record = json.loads(record_path(layout.mte("prefix-fute", "sst2")).read_text())
    assert record["config"]["unsup_data_path"] == str(out / "unsup_pool.jsonl")
    sources = record["config"]["pool"]["sources"]
    assert set(sources) == set(kept[:4]) and set(sources.values()) == {1}
    assert record["config"]["pool"]["left_out"] == saved["left_out"]  # the x' record says the tasks were left out
    assert "# Transferability" in results["transfer"].read_text() and results["prompt"].exists()

    # A second run reuses the saved pool; one that needs more x' per source than it holds says what to do.
    count = len(fake_hub)
    demo.main(argv)
    assert len(fake_hub) == count
    with pytest.raises(FuteError, match="holds at most 1 x' per source.*delete it"):
        demo.main([*argv, "--pool_per_source", "2"])


def test_the_hub_pool_is_refused_when_too_many_of_the_sources_a_step_reads_fail(tmp_path, monkeypatch):
    from configs.unsup_pool import EXCLUDE_FOR_TRANSFER, POOL_SOURCES
    from data_utils import unsup_pool
    from data_utils.unsup_pool import PoolExample

    read_by_transfer = [name for name in POOL_SOURCES if name not in EXCLUDE_FOR_TRANSFER]
    failed = {name: "OSError: gone" for name in read_by_transfer[:11]}  # 9.0% of the pool, 10.3% of 107
    monkeypatch.setattr(unsup_pool, "load_hub_pool", lambda names, *args: ([PoolExample("x", None, "agnews")], dict(failed)))
    pool = tmp_path / "unsup_pool.jsonl"
    with pytest.raises(FuteError, match=r"11 of 107 pool sources could not be read"):
        unsup_pool.save_hub_pool(pool, 1, False, ["transfer", "sa", "nli"])
    assert not pool.exists()
    unsup_pool.save_hub_pool(pool, 1, False, ["sa", "nli"])  # the LLM steps read 119 and 120 of the 122
    assert json.loads(pool.with_suffix(".record.json").read_text())["failed"] == failed
    with pytest.raises(FuteError, match=r"11 of 107"):  # the saved pool, reused by a run with MTE steps
        unsup_pool.save_hub_pool(pool, 1, False, ["transfer"])


# ---------------------------------------------------------------- --data_dir, --parts and their errors


def test_choices_of_data_and_parts_are_checked_before_anything_runs(tmp_path, capsys):
    demo = load_demo()
    with pytest.raises(SystemExit):
        demo.parse_args(["--data", "hub", "--data_dir", str(tmp_path)])
    assert "--data hub and --data_dir exclude each other" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.parse_args(["--parts", "cr,fim"])
    assert "unknown part(s) fim" in capsys.readouterr().err
    args = demo.parse_args(["--data", "hub", "--parts", "cr", "--lm", "m"])
    assert (args.dev_examples, args.qa_tasks, args.llm) == (preset.HUB_DEV_EXAMPLES, [], None)
    assert demo.parse_args(["--lm", "m", "--llm", "l"]).dev_examples is None  # local data: every dev example

    (tmp_path / "sst2").mkdir()
    with pytest.raises(FuteError, match=f"{tmp_path} has no folder for mrpc.*--parts"):
        demo.main(["--data_dir", str(tmp_path), "--parts", "cr", "--cr_tasks", "sst2,mrpc", "--lm", "m"])


def test_a_task_of_ones_own_is_its_declaration_file(tmp_path):
    """A declared task is named by its declaration's name in outputs, given to its steps as the declaration file
    (no --dataset_path: the declaration names its data), and needs no folder in the data source."""
    demo = load_demo()
    (tmp_path / "reviews.csv").write_text("review,sentiment\ngood,positive\n")
    (tmp_path / "mysent.yaml").write_text("name: mysent\ntask: cr\ncolumns: {text: review, label: sentiment}\n"
                                          "labels: [negative, positive]\nfiles: {train: reviews.csv}\n")
    args = demo.parse_args(["--parts", "cr", "--cr_tasks", f"sst2,{tmp_path / 'mysent.yaml'}", "--lm", "m"])
    assert args.cr_tasks == ["sst2", "mysent"] and list(args.declared) == ["mysent"]
    source = preset.DataSource.from_args(args)
    options = preset.preset(args, source, preset.SAMPLE_POOL, None)
    assert (options.dataset("mysent"), options.data("mysent")) == (str(tmp_path / "mysent.yaml"), [])
    assert options.data("sst2") == ["--dataset_path", str(preset.SAMPLES / "sst2")]
    # What its steps read (their done checks' sources): the declaration and the files it names; sst2's folder.
    assert options.data_folders("mysent", "sst2") == [tmp_path / "mysent.yaml", tmp_path / "reviews.csv",
                                                      preset.SAMPLES / "sst2"]
    source.check(["sst2", "mysent"], list(args.declared))
    with pytest.raises(FuteError, match="is a cr dataset, not qa"):
        demo.parse_args(["--parts", "qa", "--qa_tasks", str(tmp_path / "mysent.yaml"), "--lm", "m"])


def test_the_demos_pool_holds_no_task_of_the_demo_and_says_so(tmp_path):
    """--data_dir without a pool: x' from the folder's datasets that are not the demo's tasks, each with its data
    digest, the tasks left out named in the record and in the line the demo prints; on the hub every CrossFit
    dataset that is a task (glue_sst2 is sst2) is left out; a pool of one's own holding a task is warned about."""
    import shutil

    from data_utils.artifacts.data_identity import describe
    from data_utils.artifacts.text_prints import shared_count, text_hashes
    from data_utils.declarations import DATASETS
    from data_utils.loading import all_examples
    from data_utils.pool_targets import targets_among
    from data_utils.unsup_pool import pool_names, read_local_pool

    data, out = tmp_path / "data", tmp_path / "out"
    for task in ("sst2", "mrpc", "imdb", "snli"):
        shutil.copytree(ROOT / "data" / "samples" / task, data / task)
    (data / "notes").mkdir()
    args = load_demo().parse_args(["--data_dir", str(data), "--parts", "cr", "--cr_tasks", "sst2,mrpc", "--lm", "m",
                                   "--out", str(out), "--pool_per_source", "5"])
    pool = preset.DataSource.from_args(args).pool(args, ["sst2", "mrpc"])
    saved = json.loads(record_path(pool).read_text())
    assert pool == out / "unsup_pool.jsonl" and saved["sources"] == {"imdb": 5, "snli": 5}
    assert saved["left_out"] == {"mrpc": "mrpc", "sst2": "sst2"} and list(saved["skipped"]) == ["notes"]
    assert saved["digests"] == {task: describe(DATASETS[task], str(data / task))["digest"] for task in ("imdb", "snli")}

    def texts(task):
        return text_hashes(e.get(f) for split in all_examples(DATASETS[task], str(data / task)).values()
                           for e in split for f in ("text", "text_pair"))
    drawn = text_hashes(t for e in read_local_pool(pool)[0] for t in (e.text, e.text_pair))
    assert shared_count(drawn, texts("sst2")) == shared_count(drawn, texts("mrpc")) == 0
    assert shared_count(drawn, texts("imdb")) + shared_count(drawn, texts("snli")) == len(drawn) > 0
    # A second run finds the same pool and leaves it untouched (rewriting it would make every MTE stale); a
    # changed source makes a new one.
    recorded_at = record_path(pool).stat().st_mtime_ns
    os.utime(pool, ns=(1, 1))
    assert preset.DataSource.from_args(args).pool(args, ["sst2", "mrpc"]) == pool
    assert pool.stat().st_mtime_ns == 1 and record_path(pool).stat().st_mtime_ns == recorded_at
    train = data / "snli" / "train.jsonl"
    train.write_text("".join(reversed(train.read_text().splitlines(keepends=True))))
    preset.DataSource.from_args(args).pool(args, ["sst2", "mrpc"])
    assert pool.stat().st_mtime_ns != 1 and json.loads(record_path(pool).read_text())["digests"]["snli"] != \
        saved["digests"]["snli"]
    line = preset.pool_line(pool, ["sst2", "mrpc"])
    assert "10 texts from imdb (5), snli (5); none of them is one of the demo's tasks" in line
    assert line.endswith("left out as tasks: mrpc, sst2")
    # What a step reading the pool leaves out by its exclusion list is said too (the real-data folder's squad).
    (tmp_path / "squad.jsonl").write_text("".join(json.dumps({"text": f"q{i}", "source": source}) + "\n"
                                                 for i, source in enumerate(["squad", "imdb", "snli"])))
    line = preset.pool_line(tmp_path / "squad.jsonl", ["sst2"], ["transfer", "sa", "nli"])
    assert line.endswith("; the fine-tuned models' MTEs leave out squad (the original's exclusion list); the LLM's "
                         "SA x' leave out imdb (the original's exclusion list)")
    args = load_demo().parse_args(["--parts", "cr,llm", "--lm", "m", "--llm", "l"])
    assert preset.pool_readers(args) == ["transfer", "sa", "nli"]
    assert preset.pool_readers(load_demo().parse_args(["--parts", "llm", "--lm", "m", "--llm", "l"])) == ["sa", "nli"]

    own = tmp_path / "own.jsonl"
    own.write_text('{"text": "a review", "source": "glue_sst2"}\n{"text": "a note", "source": "notes"}\n')
    assert "WARNING: x' from the demo's own task(s) glue_sst2 (sst2) leak" in preset.pool_line(own, ["sst2"])
    assert targets_among(pool_names("none"), preset.CR_TASKS.split(",") + list(preset.LLM_SETS.values())) == {
        "glue_sst2": "sst2", "rotten_tomatoes": "rotten_tomatoes", "agnews": "ag_news",
        "yahoo_answers_topics": "yahoo_answers_topics", "superglue_cb": "cb"}
    args = load_demo().parse_args(["--lm", "m", "--llm", "l", "--out", str(out)])
    assert preset.DataSource.from_args(args).pool(args, []) == preset.SAMPLE_POOL
    args.pool = "mine.jsonl"
    assert preset.DataSource.from_args(args).pool(args, []) == Path("mine.jsonl")


def test_data_dir_reads_every_task_and_the_pool_from_the_folder(tmp_path, tiny_bert):
    import shutil

    data = tmp_path / "data"
    for task in ("sst2", "mrpc"):
        shutil.copytree(ROOT / "data" / "samples" / task, data / task)
    (data / "unsup_pool.jsonl").write_text("".join(json.dumps({"text": f"text {i}", "source": f"mine{i % 2}"}) + "\n"
                                                   for i in range(8)))
    out = tmp_path / "demo"
    results = load_demo().main(["--data_dir", str(data), "--parts", "cr", "--out", str(out), "--lm", str(tiny_bert),
                                "--cr_tasks", "sst2,mrpc", "--train_examples", "16", "--epochs", "1",
                                "--transfer_examples", "16", "--emb_examples", "16", "--emb_epochs", "1",
                                "--pool_per_source", "3"])
    layout = ResultLayout(out)
    for task in ("sst2", "mrpc"):
        config = json.loads(layout.score(task).with_suffix(".record.json").read_text())["config"]
        assert config["dataset_path"] == str(data / task)
    config = json.loads(record_path(layout.mte("fim-fute", "mrpc")).read_text())["config"]
    assert config["unsup_data_path"] == str(data / "unsup_pool.jsonl")
    assert config["pool"]["sources"] == {"mine0": 3, "mine1": 3}
    assert not layout.inference_dir().exists() and results["prompt"] is None and results["transfer"].exists()
