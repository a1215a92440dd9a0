"""Tables read from two seeds' folders: each seed ranked on its own, the summary pooled over targets and seeds
(checked against numpy and sklearn here), and what the seeds lack or hold twice named in an error."""
import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

import run_eval
from data_utils.errors import FuteError
from test_run_eval import CLASSES, DIM, SIZES, write_embedding

SEEDS = (1, 2)


def write_score(folder, name, target, source, best, seed):
    (folder / f"{name}.json").write_text(json.dumps({"accuracy": best, "loss": 0.5, "best": best}))
    config = {"to_train_dataset": target, "source_dataset": source, "num_train_examples": SIZES[target],
              "load_path": f"result/{source}_checkpoint" if source else None, "seed": seed}
    (folder / f"{name}.record.json").write_text(json.dumps({"command": "run_cr_train.py", "config": config}))


@pytest.fixture()
def two_seeds(tmp_path):
    """<tmp>/seed<k>/{emb,scores}: prefix-fute DTEs and MTEs, plain and transfer fine-tunes, other numbers per seed."""
    rng = np.random.default_rng(11)
    vectors, truth = {}, {}
    for seed in SEEDS:
        emb, scores = tmp_path / f"seed{seed}" / "emb", tmp_path / f"seed{seed}" / "scores"
        emb.mkdir(parents=True)
        scores.mkdir()
        for task in CLASSES:
            for kind in ("DTE", "MTE"):
                vectors[seed, kind, task] = rng.normal(size=DIM)
                write_embedding(emb, f"{task}_{kind}", task, kind, "prefix-fute", vectors[seed, kind, task],
                                {"seed": seed, "task_emb_type": "prefix"})
            write_score(scores, task, task, None, 0.5, seed)
            for source in CLASSES:
                if source != task:
                    truth[seed, task, source] = float(rng.uniform(0.2, 0.9))
                    write_score(scores, f"{source}_to_{task}", task, source, truth[seed, task, source], seed)
    folders = {part: ",".join(str(tmp_path / f"seed{s}" / part) for s in SEEDS) for part in ("emb", "scores")}
    return {"root": tmp_path, "vectors": vectors, "truth": truth, **folders}


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def transfer(s, save_path, *extra):
    return run_eval.main(["transfer", f"--emb_dir={s['emb']}", f"--score_dir={s['scores']}",
                          f"--save_path={save_path}", "--datasize=False", *extra])


def test_two_seeds_are_ranked_apart_and_pooled_over_targets_and_seeds(two_seeds):
    s = two_seeds
    report = transfer(s, s["root"] / "out" / "transfer")
    for cls in ("cr", "qa"):
        per_target = {}  # target -> [ndcg of seed 1, of seed 2] (all-class)
        for seed in SEEDS:
            for target in (t for t in CLASSES if CLASSES[t] == cls):
                sources = [x for x in CLASSES if x != target]
                predicted = [cosine(s["vectors"][seed, "MTE", x], s["vectors"][seed, "DTE", target]) for x in sources]
                relevance = [s["truth"][seed, target, x] for x in sources]
                got = report["targets"]["prefix-fute"][str(seed)]["all_class"][target]
                assert [r["source"] for r in got["ranking"]] == [sources[i] for i in np.argsort(predicted)[::-1]]
                per_target.setdefault(target, []).append(ndcg_score([relevance], [predicted]))
        summary = report["summary"]["prefix-fute"][cls]["all_class"]["ndcg"]
        assert summary["mean"] == pytest.approx(np.mean([np.mean(v) for v in per_target.values()]))
        assert (summary["targets"], summary["seeds"]) == (len(per_target), 2)
        assert summary["low"] <= summary["mean"] <= summary["high"]
    stem = s["root"] / "out" / "transfer"
    row = next(r for r in stem.with_suffix(".csv").read_text().splitlines() if r.startswith("prefix-fute,"))
    assert f",{report['summary']['prefix-fute']['cr']['all_class']['ndcg']['low']}," in row
    assert "### all-class, seed 2" in stem.with_suffix(".md").read_text()


def test_a_seed_lacking_or_doubling_an_artifact_is_an_error_naming_it(two_seeds):
    s, root = two_seeds, two_seeds["root"]
    out = root / "out" / "t"
    (root / "seed2" / "emb" / "rte_MTE.npy").rename(root / "rte_MTE.npy")
    with pytest.raises(FuteError, match=r"missing embedding: no MTE of method prefix-fute for task rte in .*"
                                        r" \(seed 2\)"):
        transfer(s, out)
    (root / "rte_MTE.npy").rename(root / "seed2" / "emb" / "rte_MTE.npy")
    # The same seed's transfer run in two folders: both files named.
    copy = root / "seed2" / "scores" / "again_mrpc_to_rte"
    shutil.copy(root / "seed1" / "scores" / "mrpc_to_rte.json", copy.with_suffix(".json"))
    shutil.copy(root / "seed1" / "scores" / "mrpc_to_rte.record.json", f"{copy}.record.json")
    with pytest.raises(FuteError, match=r"two transfer runs mrpc -> rte of seed 1: .*seed1/scores/mrpc_to_rte.json "
                                        r"and .*again_mrpc_to_rte.json"):
        transfer(s, out)
    copy.with_suffix(".json").unlink()
    # A seed with embeddings but no fine-tuning scores at all.
    with pytest.raises(FuteError, match=r"seeds 1, 2, but no fine-tuning scores of seed\(s\) 2"):
        run_eval.main(["transfer", f"--emb_dir={s['emb']}", f"--score_dir={root / 'seed1' / 'scores'}",
                       f"--save_path={out}", "--datasize=False"])


def test_the_space_table_ranks_each_seeds_mtes_among_that_seeds_dtes(two_seeds):
    s = two_seeds
    report = run_eval.main(["space", f"--emb_dir={s['emb']}", f"--save_path={s['root'] / 'space'}",
                            "--displacement=False"])
    reciprocal = {}
    for seed in SEEDS:
        for task in CLASSES:
            similarity = {d: cosine(s["vectors"][seed, "MTE", task], s["vectors"][seed, "DTE", d]) for d in CLASSES}
            rank = sorted(similarity, key=lambda d: -similarity[d]).index(task) + 1
            got = next(r for r in report["ranks"] if (r["mte"], r["seed"]) == (task, seed))
            assert got["own_rank"] == rank
            reciprocal.setdefault(task, []).append(1 / rank)
    own = report["summary"][0]["own_mrr"]
    assert own["mean"] == pytest.approx(np.mean([np.mean(v) for v in reciprocal.values()]))
    assert (own["targets"], own["seeds"], report["summary"][0]["lm_mtes"]) == (5, 2, 5)
    assert set(report["summary"][0]["metrics"]["own-task"]) >= {"rr", "hit@1", "regret@3", "ndcg@3", "kendall_w"}
    assert (s["root"] / "space_prefix-fute_seed2_heatmap.png").is_file()
    (s["root"] / "seed2" / "emb" / "rte_MTE.npy").unlink()
    with pytest.raises(FuteError, match=r"the seeds' embeddings differ: seed 2 has no MTE rte \(prefix-fute\)"):
        run_eval.main(["space", f"--emb_dir={s['emb']}", f"--save_path={s['root'] / 'space'}", "--displacement=False"])


def test_the_prompt_table_evaluates_each_seeds_inference_files_with_their_baseline_scores(tmp_path):
    import run_prompt_selection_baselines
    from test_selection_eval import CORRECT, synthetic_set

    performance = {}
    for seed, correct in zip(SEEDS, (CORRECT, CORRECT[::-1])):
        folder = tmp_path / f"seed{seed}" / "llm"
        folder.mkdir(parents=True)
        paths = synthetic_set(folder, dataset="sst2", correct=correct)["paths"]
        for path in paths:
            content = json.loads(path.read_text())
            content["seed"] = seed
            path.write_text(json.dumps(content))
        run_prompt_selection_baselines.main(["--paths", ",".join(map(str, paths)), "--seed", str(seed),
                                             "--save_path", str(tmp_path / f"seed{seed}" / "ps" / "sst2")])
        performance[seed] = np.array(correct) / 10
    inference = ",".join(str(tmp_path / f"seed{s}" / "llm") for s in SEEDS)
    baselines = ",".join(str(tmp_path / f"seed{s}" / "ps") for s in SEEDS)
    report = run_eval.main(["prompt", "--inference_dir", inference, "--baseline_scores", baselines,
                            "--save_path", str(tmp_path / "prompt")])
    assert [(d["dataset"], d["seed"]) for d in report["datasets"]] == [("sst2", 1), ("sst2", 2)]
    selected = [d["methods"]["mi"]["performance"] for d in report["datasets"]]
    for d, seed in zip(report["datasets"], SEEDS):
        assert d["performance"] == pytest.approx(performance[seed].tolist())
    mi = report["summary"]["llama-13b"]["sa"]["mi"]["performance"]
    assert mi["mean"] == pytest.approx(np.mean(selected)) and (mi["targets"], mi["seeds"]) == (1, 2)
