"""Plots: PNG files are written and non-empty; projections agree with sklearn; styles follow the records."""
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

from configs.methods import METHODS_BY_ID
from data_utils.artifacts.embeddings import Embedding, EmbeddingInfo, load_embeddings, natural_key, write_embedding
from data_utils.errors import FuteError
from task_emb import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _info(task: str, kind: str, dim: int, method: str = "prefix-fute", llm: str | None = None,
          prompt: int | None = None) -> EmbeddingInfo:
    family = METHODS_BY_ID[method].family
    return EmbeddingInfo(method=method, family=family, fute=METHODS_BY_ID[method].fute, kind=kind, task=task,
                         model=llm, llm=llm is not None, prompt=prompt, surrogate="t5-base", seed=42, dim=dim)


def _write(folder: Path, name: str, task: str, kind: str, vector, llm: str | None = None,
           prompt: int | None = None) -> None:
    """Through the one writer run_task_emb.py uses, so the plots read the layout really written."""
    vector = np.asarray(vector, dtype=np.float32)
    write_embedding(folder / f"{name}.npy", vector, _info(task, kind, vector.size, llm=llm, prompt=prompt),
                    {"command": "run_task_emb.py", "config": {}, "versions": {}})


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
        for genre in ("sa", "nli"):
            _write(tmp_path, f"llama_{genre}_{prompt}", genre, "MTE", rng.normal(size=10), "llama-13b", prompt)
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
    embedding = Embedding(path=tmp_path / "a.npy", info=_info("mrpc", "DTE", 2, method="textemb"))
    with pytest.raises(FuteError, match="at least 3"):
        plots.plot_embeddings([embedding, embedding], tmp_path / "x")


def test_point_style_follows_the_record_not_the_name(tmp_path):
    mte = Embedding(path=tmp_path / "sst2.npy", info=_info("sa", "MTE", 4, method="fim-fute", llm="mixtral",
                                                           prompt=11))
    dte = Embedding(path=tmp_path / "mixtral_p11.npy", info=_info("sst2", "DTE", 4, method="fim-fute"))
    assert plots.point_style(mte) == ("prompt 11 (CoT)", "^") and plots.embedding_labels([mte]) == ["mixtral:p11 (sa)"]
    assert plots.point_style(dte) == ("cr", "o")


def test_prompts_come_in_natural_order(tmp_path):
    """p2 before p10 (the demo's heatmap listed p0, p1, p10, p11, p12, p2, ...)."""
    assert sorted(["p10", "p2", "p1", "a10b2", "a10b10", "a9"], key=natural_key) == [
        "a9", "a10b2", "a10b10", "p1", "p2", "p10"]
    for prompt in (10, 2, 0, 12, 1):
        _write(tmp_path, f"smollm2_sa_p{prompt}", "sa", "MTE", np.ones(3), "smollm2", prompt)
    labels = plots.embedding_labels(load_embeddings(tmp_path))
    assert labels == [f"smollm2:p{k} (sa)" for k in (0, 1, 2, 10, 12)]
