"""Plots: PNG files are written and non-empty; projections agree with sklearn; styles follow the records."""
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

from data_utils.errors import FuteError
from task_emb import plots
from task_emb.records import Embedding, load_embeddings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _write(folder: Path, name: str, task: str, kind: str, vector, config=None) -> None:
    np.save(folder / f"{name}.npy", np.asarray(vector, dtype=np.float32))
    record = {"command": "", "config": config or {}, "versions": {},
              "embedding": {"task": task, "kind": kind, "method": "prefix-fute", "dim": len(vector)}}
    (folder / f"{name}.record.json").write_text(json.dumps(record))


def _assert_png(path: Path) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1024


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_pca_from_cosine_matches_sklearn_pca_of_unit_vectors():
    x = np.random.default_rng(0).normal(size=(7, 20))
    units = _unit(x)
    ours = plots.pca_from_cosine(units @ units.T)
    reference = PCA(n_components=2).fit_transform(units)
    # Eigenvectors are defined up to sign: compare column by column with the sign aligned.
    for column in range(2):
        sign = np.sign(ours[:, column] @ reference[:, column])
        np.testing.assert_allclose(sign * ours[:, column], reference[:, column], atol=1e-9)


def test_tsne_is_reproducible_and_separates_two_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(2, 30)) * 5
    x = _unit(np.vstack([centres[0] + rng.normal(size=(4, 30)) * 0.1, centres[1] + rng.normal(size=(4, 30)) * 0.1]))
    similarity = x @ x.T
    first, second = plots.tsne_from_cosine(similarity, seed=5), plots.tsne_from_cosine(similarity, seed=5)
    np.testing.assert_array_equal(first, second)
    within = np.linalg.norm(first[:4] - first[:4].mean(0), axis=1).max()
    between = np.linalg.norm(first[:4].mean(0) - first[4:].mean(0))
    assert between > within


def test_dataset_and_model_embeddings_are_plotted(tmp_path):
    rng = np.random.default_rng(2)
    for task in ("mrpc", "rte", "squad", "boolq"):
        _write(tmp_path, f"{task}_dte", task, "DTE", rng.normal(size=12))
    _write(tmp_path, "mrpc_mte", "mrpc", "MTE", rng.normal(size=12))
    embeddings = load_embeddings(tmp_path)
    paths = plots.plot_embeddings(embeddings, tmp_path / "out" / "lm", seed=0)
    assert sorted(p.name for p in paths.values()) == ["lm_heatmap.png", "lm_pca.png", "lm_tsne.png"]
    for path in paths.values():
        _assert_png(path)
    styles = {e.path.stem: plots.point_style(e) for e in embeddings}
    assert styles["squad_dte"] == ("qa", "o") and styles["boolq_dte"] == ("cr", "o")
    assert styles["mrpc_mte"] == ("cr", plots.MTE_MARKER)
    assert "mrpc (MTE)" in plots.embedding_labels(embeddings)


def test_llm_prompts_are_coloured_by_prompt_with_cot_marked(tmp_path):
    rng = np.random.default_rng(3)
    for prompt in range(13):
        # The brief's layout (top-level prompt_number) and run_task_emb.py's (provenance under "llm").
        _write(tmp_path, f"llama_sa_{prompt}", f"llama-13b:p{prompt}", "MTE", rng.normal(size=10),
               {"prompt_number": prompt, "task_type": "sa"})
        _write(tmp_path, f"llama_nli_{prompt}", f"llama-13b:p{prompt}", "MTE", rng.normal(size=10),
               {"llm": {"model": "llama-13b", "prompt_number": prompt}, "task_type": "nli"})
    embeddings = load_embeddings(tmp_path)
    styles = [plots.point_style(e) for e in embeddings]
    assert {marker for (group, marker) in styles if "CoT" in group} == {"^"}
    assert {group for group, marker in styles if marker == "^"} == {f"prompt {p} (CoT)" for p in (10, 11, 12)}
    assert len({group for group, _ in styles}) == 13
    labels = plots.embedding_labels(embeddings)
    assert "llama-13b:p3 (nli)" in labels and "llama-13b:p3 (sa)" in labels
    for path in plots.plot_embeddings(embeddings, tmp_path / "llm", seed=0).values():
        _assert_png(path)


def test_too_few_embeddings_is_refused(tmp_path):
    embedding = Embedding(path=tmp_path / "a.npy", task="mrpc", kind="DTE", method="textemb", dim=2)
    with pytest.raises(FuteError, match="at least 3"):
        plots.plot_embeddings([embedding, embedding], tmp_path / "x")


def test_prompt_number_from_the_task_name_when_the_record_has_none(tmp_path):
    mte = Embedding(path=tmp_path / "m.npy", task="mixtral:p11", kind="MTE", method="fim-fute", dim=4)
    dte = Embedding(path=tmp_path / "d.npy", task="sst2", kind="DTE", method="fim-fute", dim=4)
    assert plots.prompt_number(mte) == 11 and plots.point_style(mte) == ("prompt 11 (CoT)", "^")
    assert plots.prompt_number(dte) is None and plots.point_style(dte) == ("cr", "o")


def test_prompts_come_in_natural_order(tmp_path):
    """p2 before p10 (the demo's heatmap listed p0, p1, p10, p11, p12, p2, ...)."""
    from task_emb.records import natural_key

    assert sorted(["p10", "p2", "p1", "a10b2", "a10b10", "a9"], key=natural_key) == [
        "a9", "a10b2", "a10b10", "p1", "p2", "p10"]
    for prompt in (10, 2, 0, 12, 1):
        np.save(tmp_path / f"smollm2_sa_p{prompt}.npy", np.ones(3, dtype=np.float32))
        (tmp_path / f"smollm2_sa_p{prompt}.record.json").write_text(json.dumps(
            {"config": {"task_type": "sa", "llm_mode": True},
             "embedding": {"task": f"smollm2:p{prompt}", "kind": "MTE", "method": "prefix-fute", "dim": 3}}))
    labels = plots.embedding_labels(load_embeddings(tmp_path))
    assert labels == [f"smollm2:p{k} (sa)" for k in (0, 1, 2, 10, 12)]
