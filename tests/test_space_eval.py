"""The unified-space evaluation (task_emb/space_eval.py, run_eval.py space): ranks against a direct computation,
and the displacement view on embeddings that stayed near their shared initialisation."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import run_eval
from configs.datasets import GENRE_FAMILY, GENRES
from data_utils.declarations import DATASETS, TASK_FAMILIES
from data_utils.errors import FuteError
from task_emb.prefix import initial_embedding
from data_utils.artifacts.embeddings import load_embeddings
from task_emb.space_eval import SpaceRank, evaluate_method, summarise


def write_embedding(folder: Path, name: str, task: str, kind: str, method: str, vector, config: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}.npy", np.asarray(vector, dtype=np.float32))
    record = {"command": "run_task_emb.py ...", "config": config, "versions": {},
              "embedding": {"task": task, "kind": kind, "method": method, "dim": len(vector)}}
    (folder / f"{name}.record.json").write_text(json.dumps(record))


def direct_ranks(mte: np.ndarray, dtes: dict[str, np.ndarray]) -> list[str]:
    """Nearest first, computed here with numpy only (ties cannot occur with random vectors)."""
    names = list(dtes)
    cos = [float(mte @ dtes[n] / np.linalg.norm(mte) / np.linalg.norm(dtes[n])) for n in names]
    return [names[i] for i in np.argsort(cos)[::-1]]


def test_every_registry_dataset_has_one_family_and_every_genre_a_family():
    members = [task for tasks in TASK_FAMILIES.values() for task in tasks]
    assert sorted(members) == sorted(DATASETS) and len(members) == len(set(members))
    assert set(GENRE_FAMILY) == set(GENRES) and set(GENRE_FAMILY.values()) <= set(TASK_FAMILIES)


def test_ranks_and_mrr_against_a_direct_computation(tmp_path):
    rng = np.random.default_rng(0)
    dte_tasks = ["sst2", "rotten_tomatoes", "mrpc", "qqp", "rte"]
    dtes = {task: rng.normal(size=32) for task in dte_tasks}
    mtes = {"sst2": rng.normal(size=32), "qqp": rng.normal(size=32), "cola": rng.normal(size=32)}
    for task, vector in dtes.items():
        write_embedding(tmp_path, f"{task}_dte", task, "DTE", "fim-fute", vector, {"task_emb_type": "fim"})
    for task, vector in mtes.items():
        write_embedding(tmp_path, f"{task}_mte", task, "MTE", "fim-fute", vector, {"task_emb_type": "fim"})
    write_embedding(tmp_path, "llm", "llama:p3", "MTE", "fim-fute", rng.normal(size=32),
                    {"task_emb_type": "fim", "task_type": "nli", "llm_mode": True, "lm_model_name": "llama",
                     "prompt_number": 3})
    embeddings = load_embeddings(tmp_path)
    ranks = evaluate_method("fim-fute", [e for e in embeddings if e.kind == "MTE"],
                            [e for e in embeddings if e.kind == "DTE"], e0=None)
    assert {r.view for r in ranks} == {"raw"}  # no e0: no displacement view
    by_mte = {r.mte: r for r in ranks}
    dte32 = {t: v.astype(np.float32).astype(np.float64) for t, v in dtes.items()}
    for task in ("sst2", "qqp"):
        order = direct_ranks(mtes[task].astype(np.float32).astype(np.float64), dte32)
        family = {"sst2": {"sst2", "rotten_tomatoes"}, "qqp": {"mrpc", "qqp"}}[task]
        assert by_mte[task].own_rank == order.index(task) + 1
        assert by_mte[task].family_rank == min(order.index(t) for t in family) + 1
        assert by_mte[task].nearest == order[0]
        # The ranking metrics of each retrieval are that retrieval's: relevant its own DTE, or its family's.
        assert by_mte[task].own_metrics["hit@3"] == float(task in order[:3])
        assert by_mte[task].family_metrics["hit@1"] == float(order[0] in family)
        assert by_mte[task].own_metrics["regret@1"] == float(order[0] != task)  # a share; tables show percent
    assert by_mte["cola"].own_rank is None and by_mte["cola"].family_rank is None  # no acceptability DTE
    llm = by_mte["llama:p3"]
    assert llm.family == "nli" and llm.own_rank is None
    assert llm.family_rank == direct_ranks(np.load(tmp_path / "llm.npy").astype(np.float64), dte32).index("rte") + 1
    # MRR over the MTEs with a DTE to find (cola has none).
    own = [1 / r.own_rank for r in ranks if r.own_rank is not None]
    assert summarise(ranks)[0]["own_mrr"].mean == pytest.approx(sum(own) / len(own))


def test_dtes_and_mtes_narrow_the_table_to_what_a_sweep_declared(tmp_path):
    """--dtes/--mtes: the ranks are those among the named DTEs only, other embeddings in the folder (another
    run's, an LLM MTE still being made) change nothing, and a named embedding that is absent is an error."""
    rng = np.random.default_rng(1)
    vectors = {name: rng.normal(size=16) for name in ("sst2", "mrpc", "rte", "qqp")}
    for task, vector in vectors.items():
        write_embedding(tmp_path / "emb", f"{task}_dte", task, "DTE", "fim-fute", vector, {"task_emb_type": "fim"})
    write_embedding(tmp_path / "emb", "sst2_mte", "sst2", "MTE", "fim-fute", vectors["sst2"] + rng.normal(size=16),
                    {"task_emb_type": "fim"})
    write_embedding(tmp_path / "emb", "llm", "sentiment", "MTE", "fim-fute", rng.normal(size=16),
                    {"task_emb_type": "fim", "task_type": "sentiment", "llm_mode": True, "lm_model_name": "llama",
                     "prompt_number": 0})
    save = tmp_path / "space"
    run_eval.main(["space", "--emb_dir", str(tmp_path / "emb"), "--dtes", "sst2,mrpc,rte", "--mtes", "sst2",
                   "--save_path", str(save)])
    table = json.loads(save.with_suffix(".json").read_text())
    assert [row["mte"] for row in table["ranks"]] == ["sst2"]
    mte = np.load(tmp_path / "emb" / "sst2_mte.npy").astype(np.float64)
    kept = {t: np.load(tmp_path / "emb" / f"{t}_dte.npy").astype(np.float64) for t in ("sst2", "mrpc", "rte")}
    order = direct_ranks(mte, kept)
    assert table["ranks"][0]["own_rank"] == order.index("sst2") + 1 and table["ranks"][0]["nearest"] == order[0]
    with pytest.raises(FuteError, match=r"MTE llama:p1, DTE cola of method fim-fute not in .*--mtes/--dtes"):
        run_eval.main(["space", "--emb_dir", str(tmp_path / "emb"), "--dtes", "sst2,cola", "--mtes",
                       "sst2,llama:p1", "--save_path", str(tmp_path / "other")])


def test_displacements_find_the_own_task_where_raw_cosines_find_the_shared_start(tmp_path, tiny_bert):
    """Prefix embeddings as the demo makes them: DTEs moved far from e0 except rte's, MTEs barely moved but
    along their own task's direction. Raw cosines send every MTE to rte; displacements to its own task."""
    rng = np.random.default_rng(1)
    e0 = initial_embedding(str(tiny_bert), 42).astype(np.float64)
    scale = np.linalg.norm(e0)
    tasks = ["sst2", "rotten_tomatoes", "mrpc", "qqp", "rte"]
    directions = {t: (lambda v: v / np.linalg.norm(v))(rng.normal(size=e0.size)) for t in tasks}
    config = {"task_emb_type": "prefix", "task_emb_model_lm_name": str(tiny_bert), "seed": 42}
    emb_dir = tmp_path / "emb"
    for task in tasks:
        moved = 0.3 if task == "rte" else 2.0
        write_embedding(emb_dir, f"{task}_dte", task, "DTE", "prefix-fute", e0 + moved * scale * directions[task],
                        config)
    for task in ("sst2", "mrpc", "qqp"):
        noise = 0.2 * rng.normal(size=e0.size) / np.sqrt(e0.size)
        write_embedding(emb_dir, f"{task}_mte", task, "MTE", "prefix-fute",
                        e0 + 0.1 * scale * (directions[task] + noise), config)
    out = run_eval.main(["space", f"--emb_dir={emb_dir}", f"--save_path={tmp_path / 'space'}"])
    rows = {(r["method"], r["view"]): r for r in out["summary"]}
    raw, moved = rows[("prefix-fute", "raw")], rows[("prefix-fute", "displacement")]
    assert all(r["nearest"] == "rte" for r in out["ranks"] if r["view"] == "raw")
    assert raw["own_mrr"]["mean"] < 0.6 and moved["own_mrr"]["mean"] == 1.0 and moved["family_mrr"]["mean"] == 1.0
    assert moved["lm_mtes"] == 3 and moved["llm_mtes"] == 0 and moved["llm_family_mrr"]["mean"] is None
    assert (moved["own_mrr"]["low"], moved["own_mrr"]["high"], moved["own_mrr"]["targets"]) == (1.0, 1.0, 3)
    # Every output is written; the CSV and JSON hold the same numbers.
    summary_csv = list(csv.DictReader((tmp_path / "space.csv").read_text(encoding="utf-8").splitlines()))
    assert float(summary_csv[1]["own_mrr"]) == pytest.approx(moved["own_mrr"]["mean"])
    assert float(summary_csv[0]["own_mrr_low"]) == pytest.approx(raw["own_mrr"]["low"])
    # Each MRR is flattened as the control's CSV flattens its Estimate: mean, bounds, targets, seeds.
    assert (summary_csv[1]["family_mrr_targets"], summary_csv[1]["family_mrr_seeds"]) == ("3", "1")
    assert json.loads((tmp_path / "space.json").read_text())["summary"] == out["summary"]
    assert (tmp_path / "space_ranks.csv").read_text().count("\n") == 1 + 2 * 3
    row = "| prefix-fute | displacement | 3 | 1.000 ± 0.000 | 1.000 ± 0.000 | 0 | - | 1 |"
    assert row in (tmp_path / "space.md").read_text()
    assert Path(out["plots"]["prefix-fute"]).read_bytes().startswith(b"\x89PNG")

    raw_only = run_eval.main(["space", f"--emb_dir={emb_dir}", f"--save_path={tmp_path / 'raw'}",
                              "--displacement", "False"])
    assert {r["view"] for r in raw_only["summary"]} == {"raw"}


def test_space_needs_both_kinds_and_one_initialisation(tmp_path, tiny_bert):
    only_dtes = tmp_path / "dtes"
    write_embedding(only_dtes, "a", "sst2", "DTE", "prefix-fute", np.ones(4), {})
    with pytest.raises(FuteError, match="needs both kinds"):
        run_eval.main(["space", f"--emb_dir={only_dtes}", f"--save_path={tmp_path / 's'}"])
    mixed = tmp_path / "mixed"
    write_embedding(mixed, "d", "sst2", "DTE", "prefix-fute", np.ones(4),
                    {"task_emb_type": "prefix", "task_emb_model_lm_name": "a", "seed": 42})
    write_embedding(mixed, "m", "sst2", "MTE", "prefix-fute", np.ones(4),
                    {"task_emb_type": "prefix", "task_emb_model_lm_name": "a", "seed": 7})
    with pytest.raises(FuteError, match=r"no DTEs and MTEs .* \(seed 7\); the unified space needs both kinds"):
        run_eval.main(["space", f"--emb_dir={mixed}", f"--save_path={tmp_path / 's'}"])


def test_an_initialisation_of_another_size_is_refused_not_broadcast(tmp_path, tiny_bert):
    """Records that name another surrogate than the embeddings were learned on: e0 has another size."""
    folder = tmp_path / "emb"
    config = {"task_emb_type": "prefix", "task_emb_model_lm_name": str(tiny_bert), "seed": 42}
    size = initial_embedding(str(tiny_bert), 42).size
    write_embedding(folder, "d", "sst2", "DTE", "prefix-fute", np.ones(size + 1), config)
    write_embedding(folder, "m", "sst2", "MTE", "prefix-fute", np.ones(size + 1), config)
    with pytest.raises(FuteError, match=f"e0 has {size} values.*another surrogate.*--displacement False"):
        run_eval.main(["space", f"--emb_dir={folder}", f"--save_path={tmp_path / 's'}"])


def test_under_trained_embeddings_are_counted_marked_and_listed(tmp_path, caplog):
    rng = np.random.default_rng(3)
    flagged = {"task_emb_type": "fim", "diagnostics": {"undertrained": True, "undertrained_reasons": [
        "surrogate dev score 0.533 <= 0.533 of the guess 'always positive'"]}}
    plain = {"task_emb_type": "fim", "diagnostics": {"undertrained": False, "undertrained_reasons": []}}
    old = {"task_emb_type": "prefix", "diagnostics": {"undertrained": True, "relative_displacement": 0.31}}
    for name, task, kind, config in (("a", "sst2", "DTE", flagged), ("b", "mrpc", "DTE", plain),
                                     ("c", "sst2", "MTE", old), ("d", "mrpc", "MTE", plain)):
        write_embedding(tmp_path / "emb", name, task, kind, "fim-fute", rng.normal(size=8), config)
    with caplog.at_level("WARNING", logger="task_emb.space_eval"):
        out = run_eval.main(["space", f"--emb_dir={tmp_path / 'emb'}", f"--save_path={tmp_path / 'space'}"])
    assert out["summary"][0]["undertrained"] == 2
    assert {r["mte"]: r["undertrained"] for r in out["ranks"]} == {"sst2": True, "mrpc": False}
    assert [(row["embedding"], row["kind"], row["reasons"]) for row in out["undertrained"]] == [
        ("sst2", "MTE", "relative displacement from e0 0.31"),  # a record written before reasons were recorded
        ("sst2", "DTE", "surrogate dev score 0.533 <= 0.533 of the guess 'always positive'")]
    markdown = (tmp_path / "space.md").read_text()
    rows = {line.split(" | ")[3]: line for line in markdown.splitlines() if line.startswith("| fim-fute | raw | 42 | ")
            and line.count("|") == 11}
    # Records with no pool and no fingerprint: their x' are not known to be clean ("?", task_emb/leaks.py).
    assert rows["sst2"].endswith(" | yes | ? |") and rows["mrpc"].endswith(" |  | ? |")
    assert "## Under-trained embeddings" in markdown
    assert "| fim-fute | raw | 2 |" in markdown and "2 embedding(s) flagged as under-trained" in caplog.text


def test_a_method_with_dtes_only_is_named_as_left_out(tmp_path, caplog):
    """A folder with FIM DTEs but no FIM MTE (the README's own-data walk-through): the table ranks the prefix
    MTEs and says, in its notes and the log, that fim-fute was left out and why."""
    rng = np.random.default_rng(2)
    for method in ("prefix-fute", "fim-fute"):
        for task in ("sst2", "mrpc"):
            write_embedding(tmp_path / "emb" / method, f"{task}_dte", task, "DTE", method, rng.normal(size=8),
                            {"task_emb_type": method.split("-")[0]})
    write_embedding(tmp_path / "emb" / "prefix-fute", "sst2_mte", "sst2", "MTE", "prefix-fute", rng.normal(size=8),
                    {"task_emb_type": "prefix"})
    with caplog.at_level("WARNING", logger="task_emb.space_eval"):
        run_eval.main(["space", "--emb_dir", str(tmp_path / "emb"), "--displacement", "False",
                       "--save_path", str(tmp_path / "space")])
    table = json.loads((tmp_path / "space.json").read_text())
    assert {row["method"] for row in table["ranks"]} == {"prefix-fute"}
    note = "fim-fute is left out: " + str(tmp_path / "emb") + " holds its DTEs only"
    assert any(line.startswith(note) for line in table["notes"]) and note in caplog.text
    assert note in (tmp_path / "space.md").read_text()


def test_an_llm_prompts_sa_and_nli_mtes_are_two_targets_of_the_summary():
    """One label (llama:p0) names two MTEs, one per genre: both count, in the MRR and its interval's n."""
    ranks = [SpaceRank("prefix-fute", "llama:p0", "raw", True, family, None, rank, "x", False)
             for family, rank in (("nli", 1), ("sentiment", 4))]
    row = summarise(ranks)[0]
    assert row["llm_mtes"] == 2 and row["llm_family_mrr"].targets == 2
    assert row["llm_family_mrr"].mean == pytest.approx((1 + 1 / 4) / 2)


def test_a_plot_over_several_seeds_draws_each_seed_from_its_own_initialisation(tmp_path, tiny_bert):
    """A sweep with --seeds plots every seed's prefix embeddings: one set of plots per seed, each seed's
    displacements taken from that seed's e0 (one plot of all seeds has no common e0 and shows each task twice)."""
    rng = np.random.default_rng(2)
    tasks = ["sst2", "rotten_tomatoes", "mrpc", "qqp"]
    vectors = {}
    for seed in (1, 2):
        e0 = initial_embedding(str(tiny_bert), seed).astype(np.float64)
        config = {"task_emb_type": "prefix", "task_emb_model_lm_name": str(tiny_bert), "seed": seed}
        for task in tasks:
            vectors[seed, task] = e0 + np.linalg.norm(e0) * rng.normal(size=e0.size) / np.sqrt(e0.size)
            write_embedding(tmp_path / f"seed{seed}", f"{task}_dte", task, "DTE", "prefix-fute",
                            vectors[seed, task], config)
    folders = f"{tmp_path / 'seed1'},{tmp_path / 'seed2'}"
    paths = run_eval.main(["plot", f"--emb_dir={folders}", "--method=prefix-fute", f"--save_path={tmp_path / 'p'}"])
    assert sorted(paths) == sorted(f"{plot}_seed{seed}" for seed in (1, 2)
                                   for plot in ("heatmap", "pca", "tsne", "displacement_heatmap"))
    assert all(Path(path).read_bytes().startswith(b"\x89PNG") for path in paths.values())
    assert not (tmp_path / "p_heatmap.png").exists()
