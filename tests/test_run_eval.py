"""run_eval.py end to end: a folder of embeddings and fine-tuning scores -> transfer tables; plots; bad input."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

import run_eval
from data_utils.cli import run_entry
from data_utils.errors import FuteError

CLASSES = {"mrpc": "cr", "rte": "cr", "cola": "cr", "squad": "qa", "newsqa": "qa"}
SIZES = {"mrpc": 3668, "rte": 2490, "cola": 8551, "squad": 87599, "newsqa": 74160}
METHODS = ("prefix-baseline", "prefix-fute")
DIM = 16
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_embedding(folder: Path, name: str, task: str, kind: str, method: str, vector, config=None) -> None:
    np.save(folder / f"{name}.npy", np.asarray(vector, dtype=np.float32))
    record = {"command": "run_task_emb.py ...", "config": config or {}, "versions": {},
              "embedding": {"task": task, "kind": kind, "method": method, "dim": len(vector)}}
    (folder / f"{name}.record.json").write_text(json.dumps(record))


def write_score(folder: Path, name: str, target: str, source: str | None, best: float) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"accuracy": best, "loss": 0.5, "best": best}))
    config = {"to_train_dataset": target, "source_dataset": source, "num_train_examples": SIZES[target],
              "load_path": f"result/{source}_checkpoint" if source else None}
    (folder / f"{name}.record.json").write_text(json.dumps({"command": "run_cr_train.py ...", "config": config,
                                                            "versions": {}}))


@pytest.fixture()
def sweep(tmp_path):
    """Embeddings of two methods for five datasets, plain fine-tunes, and every transfer run."""
    rng = np.random.default_rng(7)
    emb_dir, score_dir = tmp_path / "emb", tmp_path / "scores"
    emb_dir.mkdir()
    score_dir.mkdir()
    vectors = {}
    for method in METHODS:
        kinds = ("DTE", "MTE") if method.endswith("fute") else ("DTE",)
        for task in CLASSES:
            for kind in kinds:
                vectors[method, kind, task] = rng.normal(size=DIM).astype(np.float32)
                write_embedding(emb_dir, f"{task}_{method}_{kind}", task, kind, method, vectors[method, kind, task])
    truth = {}
    for target in CLASSES:
        write_score(score_dir, target, target, None, 0.5)
        truth[target] = {}
        for source in CLASSES:
            if source != target:
                truth[target][source] = float(rng.uniform(0.2, 0.9))
                write_score(score_dir, f"{source}_to_{target}", target, source, truth[target][source])
    return {"emb_dir": emb_dir, "score_dir": score_dir, "vectors": vectors, "truth": truth, "out": tmp_path / "out"}


def expected_summary(predicted, truth):
    """Independent reference: numpy ordering and sklearn NDCG (linear gain), averaged per class and scope."""
    summary = {}
    for scope in ("in_class", "all_class"):
        for cls in ("cr", "qa"):
            rhos, ndcgs = [], []
            for target in (t for t in CLASSES if CLASSES[t] == cls):
                sources = [s for s in truth[target] if scope == "all_class" or CLASSES[s] == cls]
                pred = np.array([predicted[target][s] for s in sources])
                rel = np.array([truth[target][s] for s in sources])
                order = np.argsort(-pred, kind="stable")
                rhos.append(int(np.where(order == np.argmax(rel))[0][0]) + 1)
                ndcgs.append(1.0 if len(sources) == 1 else ndcg_score([rel], [pred]))
            summary[cls, scope] = (np.mean(rhos), np.mean(ndcgs))
    return summary


def cosine(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_transfer_end_to_end(sweep):
    stem = sweep["out"] / "transfer"
    run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
                   f"--save_path={stem}.md"])
    report = json.loads(stem.with_suffix(".json").read_text())
    assert set(report["summary"]) == {"prefix-baseline", "prefix-fute", "datasize"}
    assert report["ndcg_gain"] == "linear"

    vectors, truth = sweep["vectors"], sweep["truth"]
    predictors = {
        "prefix-baseline": lambda s, t: cosine(vectors["prefix-baseline", "DTE", s],
                                               vectors["prefix-baseline", "DTE", t]),
        "prefix-fute": lambda s, t: cosine(vectors["prefix-fute", "MTE", s], vectors["prefix-fute", "DTE", t]),
        "datasize": lambda s, t: SIZES[s],
    }
    for method, predict in predictors.items():
        predicted = {t: {s: predict(s, t) for s in truth[t]} for t in truth}
        for (cls, scope), (rho, ndcg) in expected_summary(predicted, truth).items():
            got = report["summary"][method][cls][scope]
            assert got["rho"]["mean"] == pytest.approx(rho), (method, cls, scope)
            assert got["ndcg"]["mean"] == pytest.approx(ndcg, abs=1e-9), (method, cls, scope)

    # Per target: ranked sources with their similarities; DataSize orders by training-set size.
    ranking = report["targets"]["prefix-fute"]["42"]["all_class"]["rte"]["ranking"]
    assert [r["predicted"] for r in ranking] == sorted((r["predicted"] for r in ranking), reverse=True)
    assert ranking[0]["predicted"] == pytest.approx(max(predictors["prefix-fute"](s, "rte") for s in truth["rte"]))
    sizes_order = [r["source"] for r in report["targets"]["datasize"]["42"]["all_class"]["rte"]["ranking"]]
    assert sizes_order == ["squad", "newsqa", "cola", "mrpc"]
    assert [r["source"] for r in report["targets"]["datasize"]["42"]["in_class"]["rte"]["ranking"]] == ["cola", "mrpc"]

    # Markdown: the slides' table, then per-target sections. CSV: one row per method, same numbers.
    markdown = stem.with_suffix(".md").read_text()
    assert "| Method | CR in-class ρ↓ | CR in-class NDCG↑ |" in markdown
    assert markdown.index("| DataSize |") < markdown.index("| TuPaTE |") < markdown.index("| FUTE + TuPaTE |")
    assert "### in-class" in markdown and "| rte | cr |" in markdown
    rows = {row["method"]: row for row in read_csv(stem.with_suffix(".csv"))}
    assert set(rows) == {"datasize", "prefix-baseline", "prefix-fute"}
    assert float(rows["prefix-fute"]["qa_all_class_ndcg"]) == pytest.approx(
        report["summary"]["prefix-fute"]["qa"]["all_class"]["ndcg"]["mean"])
    assert rows["prefix-fute"]["cr_in_class_num_targets"] == "3"


def test_transfer_restricted_tasks_methods_and_exponential_gain(sweep):
    stem = sweep["out"] / "cr_only"
    report = run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
                            f"--save_path={stem}", "--tasks=mrpc,rte,cola", "--methods=prefix-fute",
                            "--datasize=False", "--ndcg_gain=exponential", "--ndcg_k=1"])
    assert set(report["summary"]) == {"prefix-fute"}
    assert report["summary"]["prefix-fute"]["qa"]["all_class"]["rho"]["targets"] == 0
    result = report["targets"]["prefix-fute"]["42"]["all_class"]["mrpc"]
    rel = [r["transfer_score"] for r in result["ranking"]]
    assert {r["source"] for r in result["ranking"]} == {"rte", "cola"}
    assert result["ndcg"] == pytest.approx((2 ** rel[0] - 1) / (2 ** max(rel) - 1))


def test_missing_embedding_for_a_listed_task_names_task_method_and_folder(sweep):
    for path in sweep["emb_dir"].glob("rte_prefix-fute_MTE.*"):
        path.unlink()
    argv = ["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
            f"--save_path={sweep['out'] / 't'}"]
    with pytest.raises(FuteError, match=f"no MTE of method prefix-fute for task rte in {sweep['emb_dir']}"):
        run_eval.main(argv)
    assert run_entry(run_eval.main, argv) == 2
    assert not sweep["out"].exists()  # nothing half-written


def test_bad_folders_and_mixed_dimensions(sweep, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    base = [f"--score_dir={sweep['score_dir']}", f"--save_path={tmp_path / 'x'}"]
    with pytest.raises(FuteError, match="no embeddings"):
        run_eval.main(["transfer", f"--emb_dir={empty}", *base])
    with pytest.raises(FuteError, match="no fine-tuning scores"):
        run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={empty}",
                       f"--save_path={tmp_path / 'x'}"])
    with pytest.raises(FuteError, match="no transfer score involves wnli"):
        run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", *base, "--tasks=mrpc,rte,wnli"])
    write_embedding(sweep["emb_dir"], "cola_prefix-baseline_DTE", "cola", "DTE", "prefix-baseline", np.ones(DIM + 1))
    with pytest.raises(FuteError, match="method prefix-baseline: embeddings of different dimensions"):
        run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", *base])


def test_plot_end_to_end(sweep):
    stem = sweep["out"] / "fute"
    # These records name no surrogate, so e0 (for the displacement heatmap) cannot be rebuilt: the error says
    # how to go without it.
    with pytest.raises(FuteError, match="do not share one surrogate and seed.*--displacement False"):
        run_eval.main(["plot", f"--emb_dir={sweep['emb_dir']}", "--method=prefix-fute", f"--save_path={stem}"])
    paths = run_eval.main(["plot", f"--emb_dir={sweep['emb_dir']}", "--method=prefix-fute",
                           f"--save_path={stem}", "--seed=3", "--displacement=False"])
    assert set(paths) == {"heatmap", "pca", "tsne"}
    for path in paths.values():
        data = Path(path).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1024
    record = json.loads(stem.with_name("fute.record.json").read_text())
    assert len(record["config"]["embeddings"]) == 10  # 5 DTEs + 5 MTEs
    with pytest.raises(FuteError, match="several methods"):
        run_eval.main(["plot", f"--emb_dir={sweep['emb_dir']}", f"--save_path={stem}"])
    with pytest.raises(FuteError, match="for task.*wnli"):
        run_eval.main(["plot", f"--emb_dir={sweep['emb_dir']}", "--method=prefix-fute", f"--save_path={stem}",
                       "--tasks=mrpc,wnli"])


def test_every_flag_has_help():
    parser = run_eval.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "subcommand").choices
    assert set(subparsers) == {"transfer", "plot", "prompt", "space", "compare"}
    for sub in subparsers.values():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, (sub.prog, action.dest)


# ---------------------------------------------------------------- prompt selection


@pytest.fixture()
def prompt_sweep(tmp_path):
    """llama-13b on sst2, imdb (SA) and cb (NLI): 13 inference files each, baseline scores, FUTE embeddings."""
    import run_prompt_selection_baselines
    from test_selection_eval import CORRECT, synthetic_set

    inference, baselines, emb = tmp_path / "llm", tmp_path / "ps", tmp_path / "emb"
    for folder in (inference, baselines, emb):
        folder.mkdir()
    correct = {"sst2": CORRECT, "imdb": CORRECT[::-1], "cb": [(3 * k) % 11 for k in CORRECT]}
    for dataset, right in correct.items():
        (inference / dataset).mkdir()
        paths = synthetic_set(inference / dataset, dataset=dataset, correct=right)["paths"]
        run_prompt_selection_baselines.main(["--paths", ",".join(map(str, paths)),
                                             "--save_path", str(baselines / f"llama-13b_{dataset}")])
    rng = np.random.default_rng(3)
    vectors = {}
    for dataset in correct:
        vectors["DTE", dataset] = rng.normal(size=DIM)
        write_embedding(emb, f"{dataset}_dte", dataset, "DTE", "prefix-fute", vectors["DTE", dataset])
    for genre in ("sa", "nli"):
        for prompt in range(13):
            vectors[genre, prompt] = rng.normal(size=DIM)
            write_embedding(emb, f"llama-13b_{genre}_p{prompt}", f"llama-13b:p{prompt}", "MTE", "prefix-fute",
                            vectors[genre, prompt], {"task_type": genre, "llm_model": "llama-13b",
                                                     "prompt_number": prompt, "llm_mode": True})
    return {"inference": inference, "baselines": baselines, "emb": emb, "vectors": vectors, "correct": correct,
            "out": tmp_path / "out" / "prompt"}


def expected_selection(scores, performance):
    """Selected prompt, Performance, Rate and NDCG computed here with numpy and sklearn."""
    scores, performance = np.asarray(scores, dtype=float), np.asarray(performance, dtype=float)
    chosen = int(np.argmax(scores))
    return (chosen, performance[chosen], performance[chosen] / performance.max(),
            ndcg_score([performance], [scores]))


def test_prompt_end_to_end_with_baselines_and_fute(prompt_sweep):
    s = prompt_sweep
    report = run_eval.main(["prompt", "--inference_dir", str(s["inference"]), "--baseline_scores",
                            str(s["baselines"]), "--emb_dir", str(s["emb"]), "--save_path", str(s["out"])])
    accuracy = {d: np.array(right) / 10 for d, right in s["correct"].items() if d != "cb"}
    by_dataset = {entry["dataset"]: entry for entry in report["datasets"]}
    assert sorted(by_dataset) == ["cb", "imdb", "sst2"]

    per_dataset = {}
    for dataset, perf in accuracy.items():
        np.testing.assert_allclose(by_dataset[dataset]["performance"], perf)
        fute = [cosine(s["vectors"]["sa", p], s["vectors"]["DTE", dataset]) for p in range(13)]
        mi = json.loads((s["baselines"] / f"llama-13b_{dataset}.json").read_text())["mi"]
        for method, scores in (("prefix-fute", fute), ("mi", mi)):
            chosen, performance, rate, ndcg = expected_selection(scores, perf)
            result = by_dataset[dataset]["methods"][method]
            assert result["selected"] == chosen
            assert result["performance"] == pytest.approx(performance)
            assert result["rate"] == pytest.approx(rate)
            assert result["ndcg"] == pytest.approx(ndcg)
            per_dataset[method, dataset] = (performance, rate, ndcg)

    # SA averages over sst2 and imdb; the CSV holds them raw, the markdown in percent.
    rows = {(r["category"], r["method"]): r for r in read_csv(s["out"].with_suffix(".csv"))}
    for method in ("prefix-fute", "mi"):
        for i, number in enumerate(("performance", "rate", "ndcg")):
            expected = (per_dataset[method, "sst2"][i] + per_dataset[method, "imdb"][i]) / 2
            assert report["summary"]["llama-13b"]["sa"][method][number]["mean"] == pytest.approx(expected)
            assert float(rows["SA", method][f"llama-13b_{number}"]) == pytest.approx(expected)
    assert rows["NLI", "prefix-fute"]["name"] == "FUTE + TuPaTE"
    assert by_dataset["cb"]["metric"] == "macro_f1"
    markdown = s["out"].with_suffix(".md").read_text()
    assert "| Category | Method | llama-13b Performance | llama-13b Rate | llama-13b NDCG |" in markdown
    assert "| NLI | FUTE + TuPaTE |" in markdown and "| SA | Self-Select |" in markdown


def test_prompt_missing_mte_and_missing_baseline_scores_are_named(prompt_sweep):
    s = prompt_sweep
    (s["emb"] / "llama-13b_sa_p5.npy").unlink()
    args = ["prompt", "--inference_dir", str(s["inference"]), "--save_path", str(s["out"])]
    with pytest.raises(FuteError, match=f"MTE of method prefix-fute for LLM llama-13b prompt 5 in {s['emb']}"):
        run_eval.main([*args, "--emb_dir", str(s["emb"])])
    (s["baselines"] / "llama-13b_cb.json").unlink()
    with pytest.raises(FuteError, match="no baseline scores for llama-13b on cb"):
        run_eval.main([*args, "--baseline_scores", str(s["baselines"])])
    assert run_entry(run_eval.main, args) == 2  # neither scores nor embeddings


# ---------------------------------------------------------------- review fixes


def test_a_dot_in_save_path_is_kept_in_every_output_name(sweep):
    stem = sweep["out"] / "k0.5"
    run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
                   f"--save_path={stem}"])
    assert sorted(p.name for p in sweep["out"].iterdir()) == ["k0.5.csv", "k0.5.json", "k0.5.md", "k0.5_paired.csv"]


def test_ndcg_scale_is_applied_and_recorded_in_transfer(capsys, sweep):
    stem = sweep["out"] / "percent"
    report = run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
                            f"--save_path={stem}", "--tasks=mrpc,rte,cola", "--methods=prefix-fute",
                            "--datasize=False", "--ndcg_gain=exponential", "--ndcg_scale=100", "--ndcg_k=1"])
    assert report["ndcg_scale"] == 100.0 and report["record"]["config"]["ndcg_scale"] == 100.0
    result = report["targets"]["prefix-fute"]["42"]["all_class"]["mrpc"]
    rel = [r["transfer_score"] for r in result["ranking"]]
    assert result["ndcg"] == pytest.approx((2 ** (100 * rel[0]) - 1) / (2 ** (100 * max(rel)) - 1))
    assert "NDCG (exponential gain, relevance x 100, top 1)" in stem.with_name("percent.md").read_text()
    for flag, message in (("--ndcg_scale=0", "argument --ndcg_scale: must be a positive number, got 0"),
                          ("--ndcg_k=0", "argument --ndcg_k: must be at least 1, got 0")):
        with pytest.raises(SystemExit):  # refused at parse time, before anything is read
            run_eval.main(["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
                           f"--save_path={stem}", flag])
        assert message in capsys.readouterr().err


def test_missing_transfer_pairs_are_an_error_unless_allowed(sweep, caplog):
    for source in ("cola", "squad", "newsqa"):  # rte's sweep unfinished: only mrpc -> rte is there
        for path in sweep["score_dir"].glob(f"{source}_to_rte.*"):
            path.unlink()
    argv = ["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
            f"--save_path={sweep['out'] / 't'}"]
    with pytest.raises(FuteError, match=r"3 transfer pair\(s\) among the tasks have no score in .*: "
                                        r"rte from cola, newsqa, squad; .*--allow_missing_pairs True"):
        run_eval.main(argv)
    with caplog.at_level("WARNING"):
        report = run_eval.main([*argv, "--allow_missing_pairs=True"])
    assert "rte from cola, newsqa, squad" in caplog.text
    assert [r["source"] for r in report["targets"]["prefix-fute"]["42"]["all_class"]["rte"]["ranking"]] == ["mrpc"]


def test_llm_only_methods_are_skipped_by_default_and_a_missing_dte_names_methods(sweep, caplog):
    write_embedding(sweep["emb_dir"], "llama_p0", "llama-13b:p0", "MTE", "fim-fute", np.ones(DIM),
                    {"task_type": "sa", "llm_mode": True, "llm_model": "llama-13b", "prompt_number": 0})
    argv = ["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
            f"--save_path={sweep['out'] / 't'}"]
    with caplog.at_level("WARNING"):
        report = run_eval.main(argv)
    assert set(report["summary"]) == {"prefix-baseline", "prefix-fute", "datasize"}
    assert "skipped: fim-fute (choose with --methods)" in caplog.text
    with pytest.raises(FuteError, match="no DTE of method fim-fute for task cola .* or fim-fute out of --methods"):
        run_eval.main([*argv, "--methods=fim-fute"])


def test_a_score_file_with_a_null_best_gives_a_one_line_error(sweep):
    path = sweep["score_dir"] / "mrpc_to_rte.json"
    path.write_text(json.dumps({"accuracy": None, "best": None}))
    argv = ["transfer", f"--emb_dir={sweep['emb_dir']}", f"--score_dir={sweep['score_dir']}",
            f"--save_path={sweep['out'] / 't'}"]
    with pytest.raises(FuteError, match="mrpc_to_rte.json: 'best' is None, not a finite number"):
        run_eval.main(argv)
    assert run_entry(run_eval.main, argv) == 2


def test_prompt_dotted_stem_ndcg_scale_sources_counts_and_foreign_baselines(prompt_sweep, tmp_path):
    import run_prompt_selection_baselines
    from test_selection_eval import CORRECT, synthetic_set

    s = prompt_sweep
    out = s["out"].parent / "llama-2.0_sa"
    report = run_eval.main(["prompt", "--inference_dir", str(s["inference"]), "--baseline_scores",
                            str(s["baselines"]), "--emb_dir", str(s["emb"]), "--save_path", f"{out}.json",
                            "--ndcg_gain=exponential", "--ndcg_scale=100"])
    # A dot in the stem stays; a known extension given by habit is still dropped.
    assert sorted(p.name for p in out.parent.iterdir()) == ["llama-2.0_sa.csv", "llama-2.0_sa.json",
                                                            "llama-2.0_sa.md", "llama-2.0_sa_paired.csv"]
    # --ndcg_scale: recorded, and NDCG = exponential gain of percent points, computed here with numpy.
    assert report["ndcg_scale"] == 100.0 and report["record"]["config"]["ndcg_scale"] == 100.0
    sst2 = next(e for e in report["datasets"] if e["dataset"] == "sst2")
    gains = 2.0 ** (100 * np.array(sst2["performance"])) - 1
    discounts = np.log2(np.arange(2, 15))
    for method in ("prefix-fute", "ge"):
        ranking = sst2["methods"][method]["ranking"]
        expected = np.sum(gains[ranking] / discounts) / np.sum(np.sort(gains)[::-1] / discounts)
        assert sst2["methods"][method]["ndcg"] == pytest.approx(expected, rel=1e-12)
    # Score sources: the baseline file, and for FUTE the DTE and the 13 MTEs.
    source = sst2["score_sources"]["prefix-fute"]
    assert source["dte"] == str(s["emb"] / "sst2_dte.npy")
    assert source["mtes"] == [str(s["emb"] / f"llama-13b_sa_p{p}.npy") for p in range(13)]
    assert sst2["score_sources"]["mi"] == str(s["baselines"] / "llama-13b_sst2.json")
    # How many datasets each genre average covers, in the markdown and the CSV.
    markdown = out.with_name("llama-2.0_sa.md").read_text()
    assert "| SA | *datasets averaged* | 2 (imdb, sst2) |  |  |" in markdown
    assert "| NLI | *datasets averaged* | 1 (cb) |  |  |" in markdown
    rows = {(r["category"], r["method"]): r for r in read_csv(out.with_name("llama-2.0_sa.csv"))}
    assert rows["SA", "mi"]["llama-13b_num_datasets"] == "2" and rows["NLI", "zpm"]["llama-13b_num_datasets"] == "1"

    # Baseline scores of other inference files (same model, dataset and N) are refused.
    other = tmp_path / "other_run"
    other.mkdir()
    paths = synthetic_set(other, dataset="imdb", correct=CORRECT[1:] + CORRECT[:1])["paths"]
    run_prompt_selection_baselines.main(["--paths", ",".join(map(str, paths)),
                                         "--save_path", str(s["baselines"] / "llama-13b_imdb")])
    with pytest.raises(FuteError, match=r"llama-13b_imdb.json was not computed from the inference files of "
                                        r"llama-13b on imdb in --inference_dir .*re-run"):
        run_eval.main(["prompt", "--inference_dir", str(s["inference"]), "--baseline_scores", str(s["baselines"]),
                       "--save_path", str(s["out"])])


def test_a_dataset_on_which_every_prompt_scores_the_same_is_named_in_the_table(tmp_path):
    """Rate and NDCG are 100 for every method on such a dataset: the table says so instead of leaving it to be read."""
    import run_prompt_selection_baselines
    from test_selection_eval import CORRECT, synthetic_set

    inference, baselines = tmp_path / "llm", tmp_path / "ps"
    for dataset, right in (("sst2", [6] * 13), ("imdb", CORRECT)):
        (inference / dataset).mkdir(parents=True)
        paths = synthetic_set(inference / dataset, dataset=dataset, correct=right)["paths"]
        run_prompt_selection_baselines.main(["--paths", ",".join(map(str, paths)),
                                             "--save_path", str(baselines / f"llama-13b_{dataset}")])
    out = tmp_path / "prompt"
    report = run_eval.main(["prompt", "--inference_dir", str(inference), "--baseline_scores", str(baselines),
                            "--save_path", str(out)])
    ties = {entry["dataset"]: entry["prompts_tie"] for entry in report["datasets"]}
    assert ties == {"sst2": True, "imdb": False}
    summary = out.with_suffix(".md").read_text().split("\n## ")[0]  # what the demo prints
    assert "every prompt of llama-13b scores 60.0 on sst2" in summary and "on imdb" not in summary


def test_the_prompt_table_counts_answers_that_are_no_verbalizer_per_prompt_and_warns_when_most(tmp_path, caplog):
    """Issue 24: the LLM wrote "The" where an answer was asked for. Per prompt, the table shows how many answers began
    with no verbalizer; more than half is warned about under the summary and in the log."""
    import run_prompt_selection_baselines
    from test_selection_eval import CORRECT, write_inference_file

    inference, baselines, out = tmp_path / "llm", tmp_path / "ps", tmp_path / "prompt"
    inference.mkdir()
    answers = [i % 2 for i in range(10)]
    others = {2: 8, 4: 5, 7: 10}  # prompt -> answers that are no verbalizer, of 10 (4: half, not most)
    paths = []
    for prompt, k in enumerate(CORRECT):
        preds = [a if i < k else 1 - a for i, a in enumerate(answers)]
        said = ["\nThe" if i < others.get(prompt, 0) else ["no", "Yes."][i % 2] for i in range(10)]
        paths.append(write_inference_file(inference, "llama-13b", "sst2", prompt, answers, preds, 0.6, 10.0,
                                          said=said if prompt != 12 else None))  # 12: a file that keeps no answers
    run_prompt_selection_baselines.main(["--paths", ",".join(map(str, paths)), "--save_path", str(baselines / "s")])
    with caplog.at_level("WARNING", logger="llm_inference.prompt_table"):
        report = run_eval.main(["prompt", "--inference_dir", str(inference), "--baseline_scores", str(baselines),
                                "--save_path", str(out)])
    counts = [others.get(p, 0) for p in range(12)] + [None]
    [entry] = report["datasets"]
    assert (entry["non_verbalizer_answers"], entry["num_examples"]) == (counts, 10)
    markdown = out.with_suffix(".md").read_text()
    cells = " | ".join("-" if n is None else f"{n}/10" for n in counts)
    assert f"| answers no verbalizer | {cells} |" in markdown
    assert f"| Performance | {' | '.join(f'{10 * k:.1f}' for k in CORRECT)} |" in markdown
    summary = markdown.split("\n## ")[0]  # under the summary table, as the demo prints it
    warning = "most answers of llama-13b on sst2 under prompt(s) 2 (8 of 10), 7 (10 of 10) begin with a word"
    assert warning in summary
    assert [r.getMessage() for r in caplog.records if warning in r.getMessage()] != []


def test_compare_writes_the_cosines_of_any_embeddings_checked_against_numpy(tmp_path, tiny_bert):
    """Three prefix embeddings near their shared start e0, one of them under-trained and one of the same file name
    in another folder: raw cosines and cosines of e - e0, in Markdown, CSV and JSON, with both heatmaps."""
    from task_emb.prefix import initial_embedding

    e0 = initial_embedding(str(tiny_bert), 42).astype(np.float64)
    rng = np.random.default_rng(11)
    config = {"task_emb_type": "prefix", "task_emb_model_lm_name": str(tiny_bert), "seed": 42}
    flagged = {**config, "diagnostics": {"undertrained": True, "undertrained_reasons": [
        "surrogate dev score 0.533 <= 0.533 of the guess 'always positive'"]}}
    files = [tmp_path / "a" / "mine_dte.npy", tmp_path / "b" / "mine_dte.npy", tmp_path / "a" / "sst2_dte.npy"]
    for path, task, record in zip(files, ("mine", "mine", "sst2"), (config, flagged, config)):
        path.parent.mkdir(exist_ok=True)
        write_embedding(path.parent, path.stem, task, "DTE", "prefix-fute",
                        e0 + 0.05 * np.linalg.norm(e0) * rng.normal(size=e0.size) / np.sqrt(e0.size), record)
    vectors = np.stack([np.load(path).astype(np.float64) for path in files])
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    moved = (vectors - e0) / np.linalg.norm(vectors - e0, axis=1, keepdims=True)
    raw, displacement = units @ units.T, moved @ moved.T

    stem = tmp_path / "out" / "mine_vs_sst2"
    report = run_eval.main(["compare", "--embeddings", ",".join(str(path) for path in files),
                            f"--save_path={stem}"])
    labels = ["mine [a/mine_dte.npy]", "mine [b/mine_dte.npy]", "sst2"]
    assert [e["label"] for e in report["embeddings"]] == labels
    np.testing.assert_allclose(report["raw"], raw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(report["displacement"], displacement, rtol=0, atol=1e-12)
    assert json.loads(stem.with_name("mine_vs_sst2.json").read_text())["displacement"] == report["displacement"]
    assert json.loads(stem.with_name("mine_vs_sst2.json").read_text())["record"]["command"].startswith("run_eval.py")
    pairs = read_csv(stem.with_name("mine_vs_sst2.csv"))
    assert [(row["a"], row["b"]) for row in pairs] == [(labels[0], labels[1]), (labels[0], labels[2]),
                                                        (labels[1], labels[2])]
    for row, (i, j) in zip(pairs, ((0, 1), (0, 2), (1, 2))):
        assert float(row["raw_cosine"]) == pytest.approx(raw[i, j], abs=1e-12)
        assert float(row["displacement_cosine"]) == pytest.approx(displacement[i, j], abs=1e-12)
        assert row["a_undertrained"] == str(i == 1) and row["b_undertrained"] == str(j == 1)
    markdown = stem.with_name("mine_vs_sst2.md").read_text()
    assert f"| {labels[0]} | 1.0000 | {displacement[0, 1]:.4f} | {displacement[0, 2]:.4f} |" in markdown
    assert f"| {labels[1]} | prefix-fute | DTE | yes | {files[1]} |" in markdown
    assert "0.533 <= 0.533 of the guess 'always positive'" in markdown
    for name in ("heatmap", "displacement_heatmap"):
        assert Path(report["plots"][name]).read_bytes().startswith(PNG_SIGNATURE)


def test_compare_without_a_shared_initialisation_and_bad_choices(sweep):
    """FIM-like embeddings chosen from a folder have raw cosines only; the choice must be unambiguous."""
    out = sweep["out"] / "cmp"
    for task in ("mrpc", "rte"):
        write_embedding(sweep["emb_dir"], f"{task}_fim", task, "DTE", "fim-fute", sweep["vectors"]["prefix-fute",
                                                                                                     "DTE", task])
    report = run_eval.main(["compare", f"--emb_dir={sweep['emb_dir']}", "--method=fim-fute", f"--save_path={out}"])
    a, b = (sweep["vectors"]["prefix-fute", "DTE", task].astype(np.float64) for task in ("mrpc", "rte"))
    assert report["raw"][0][1] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-12)
    assert report["displacement"] is None and "only prefix embeddings" in report["no_displacement"]
    assert "No displacement view: only prefix" in out.with_name("cmp.md").read_text()
    assert read_csv(out.with_name("cmp.csv"))[0]["displacement_cosine"] == ""
    assert not out.with_name("cmp_displacement_heatmap.png").exists()
    one = str(sweep["emb_dir"] / "mrpc_fim.npy")
    for argv, message in ((["--method=fim-fute"], "either as --embeddings"),
                          ([f"--emb_dir={sweep['emb_dir']}", f"--embeddings={one}"], "not both"),
                          ([f"--embeddings={one}"], "needs at least 2"),
                          ([f"--embeddings={one},{sweep['emb_dir'] / 'nope.npy'}"], "no such file .*nope.npy"),
                          ([f"--emb_dir={sweep['emb_dir']}"], "several methods")):
        with pytest.raises(FuteError, match=message):
            run_eval.main(["compare", f"--save_path={out}", *argv])


def leave_unfinished_runs(emb_dir: Path) -> dict[str, str]:
    """What killed and running run_task_emb.py runs leave in an embeddings folder, as they write it: a DTE killed
    in training (its training state and lock, no .npy), an MTE written but not recorded (pending record and .npy),
    one not written yet (pending record alone), and a .npy with no record at all. Name -> why, as warned."""
    (emb_dir / "mytopic_dte.training_state.pt").write_bytes(b"state")
    (emb_dir / ".mytopic_dte.npy.lock").write_text("pid 1 on host")
    pending = {"finished": False, "command": "run_task_emb.py --save_path x", "argv": ["run_task_emb.py"],
               "config": {}, "versions": {}}
    np.save(emb_dir / "mytopic_mte.npy", np.ones(DIM, dtype=np.float32))
    for name in ("mytopic_mte", "othertopic_mte"):
        (emb_dir / f"{name}.record.json").write_text(json.dumps(pending))
    np.save(emb_dir / "bare.npy", np.ones(DIM, dtype=np.float32))
    begun = "a run began writing it and did not finish (killed, or still running); run `python run_task_emb.py"
    return {"mytopic_dte.npy": "a run was killed or is running: its training state mytopic_dte.training_state.pt",
            "mytopic_mte.npy": begun, "othertopic_mte.npy": begun, "bare.npy": "no record bare.record.json beside it"}


@pytest.mark.parametrize("command", ["compare", "space"])
def test_unfinished_embeddings_are_named_in_the_warnings_and_the_table_notes(sweep, caplog, command):
    """A table read from a folder with unfinished embeddings says which it left out and why, in a warning line
    and in the notes of its .md and .json; a folder with none gives no such note."""
    out = sweep["out"] / command
    argv = [command, f"--emb_dir={sweep['emb_dir']}", f"--save_path={out}", "--displacement=False",
            *(["--method=prefix-fute"] if command == "compare" else [])]
    clean = run_eval.main(argv)
    assert not any("left out" in note for note in clean["notes"]) and "left out" not in caplog.text
    assert "left out" not in out.with_name(f"{command}.md").read_text()

    expected = leave_unfinished_runs(sweep["emb_dir"])
    report = run_eval.main(argv)
    written = json.loads(out.with_name(f"{command}.json").read_text())["notes"]
    markdown = out.with_name(f"{command}.md").read_text()
    assert report["notes"] == written and len(written) == len(expected)
    for name, why in expected.items():
        line = f"{sweep['emb_dir'] / name} is left out: {why}"
        assert sum(note.startswith(line) for note in written) == 1
        assert line in caplog.text and f"Warning: {line}" in markdown
    assert report == {**report, **{key: clean[key] for key in clean if key not in ("notes", "record", "plots")}}


def test_a_folder_of_nothing_but_unfinished_embeddings_says_so(tmp_path):
    leave_unfinished_runs(tmp_path)
    with pytest.raises(FuteError, match=r"no embeddings .* \(4 unfinished: .*mytopic_dte.npy is left out"):
        run_eval.main(["space", f"--emb_dir={tmp_path}", f"--save_path={tmp_path / 'out'}"])
