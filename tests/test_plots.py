"""Plots: PNG files are written and non-empty; projections agree with sklearn; styles follow the records;
the heatmap's colours span the off-diagonal cosines; prefix embeddings get a heatmap of e - e0."""
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

import run_eval

from configs.methods import METHODS_BY_ID
from data_utils.artifacts.embeddings import Embedding, EmbeddingInfo, load_embeddings, natural_key, write_embedding
from data_utils.errors import FuteError
from task_emb import plots
from task_emb.prefix import initial_embedding

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _info(task: str, kind: str, dim: int, method: str = "prefix-fute", llm: str | None = None,
          prompt: int | None = None, surrogate: str = "t5-base") -> EmbeddingInfo:
    family = METHODS_BY_ID[method].family
    return EmbeddingInfo(method=method, family=family, fute=METHODS_BY_ID[method].fute, kind=kind,
                         dataset=None if llm else task, genre=task if llm else None,
                         model=llm, llm=llm is not None, prompt=prompt, surrogate=surrogate, seed=42, dim=dim)


def _write(folder: Path, name: str, task: str, kind: str, vector, llm: str | None = None,
           prompt: int | None = None, method: str = "prefix-fute", surrogate: str = "t5-base") -> None:
    """Through the one writer run_task_emb.py uses, so the plots read the layout really written."""
    vector = np.asarray(vector, dtype=np.float32)
    info = _info(task, kind, vector.size, method=method, llm=llm, prompt=prompt, surrogate=surrogate)
    write_embedding(folder / f"{name}.npy", vector, info, {"command": "run_task_emb.py", "config": {}, "versions": {}})


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


# ---------------------------------------------------------------- colour scale and displacements


def _numpy_cosines(x: np.ndarray) -> np.ndarray:
    return _unit(x) @ _unit(x).T


def _off_diagonal(matrix: np.ndarray) -> np.ndarray:
    return matrix[~np.eye(len(matrix), dtype=bool)]


@pytest.fixture()
def drawn(monkeypatch) -> dict:
    """file name -> the figure saved under it (the PNG is still written)."""
    figures, save = {}, plots._save

    def spy(figure, path):
        figures[Path(path).name] = figure
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", spy)
    return figures


def _heatmap_parts(figure):
    """(image, colour bar label, {(row, column): text colour}) of a heatmap figure."""
    axes, colour_bar = figure.axes
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_color() for t in axes.texts}
    return axes.images[0], colour_bar.get_ylabel(), cells


def test_colour_limits_are_the_off_diagonal_range_of_a_square_matrix_and_all_cells_otherwise():
    x = np.random.default_rng(4).normal(size=(5, 8))
    square = _numpy_cosines(x)
    off = _off_diagonal(square)
    assert plots.colour_limits(square) == (off.min(), off.max()) and off.max() < 1.0
    rectangle = square[:2, 2:]
    assert plots.colour_limits(rectangle, self_similarity=False) == (rectangle.min(), rectangle.max())
    assert plots.colour_limits(np.ones((1, 1))) == (1.0, 1.0)


def test_heatmap_colours_span_the_off_diagonal_cosines_of_nearly_equal_embeddings(tmp_path, drawn):
    """Embeddings near one shared start: every cosine within 0.98-1.00, yet the colours use the whole scale."""
    rng = np.random.default_rng(5)
    start = rng.normal(size=16)
    vectors = start + 0.05 * rng.normal(size=(5, 16))
    for index, (task, vector) in enumerate(zip(("mrpc", "rte", "cola", "squad", "boolq"), vectors)):
        _write(tmp_path, f"{index}_{task}", task, "DTE", vector)  # files, hence rows, in the order of `vectors`
    plots.plot_embeddings(load_embeddings(tmp_path), tmp_path / "near", seed=0)
    image, label, text_colours = _heatmap_parts(drawn["near_heatmap.png"])
    cosines = _numpy_cosines(vectors.astype(np.float32).astype(np.float64))
    low, high = _off_diagonal(cosines).min(), _off_diagonal(cosines).max()
    assert low > 0.98
    np.testing.assert_allclose(image.get_clim(), (low, high), rtol=0, atol=1e-9)
    assert f"colour scale: off-diagonal range {low:.3f} to {high:.3f}" in label
    # Cell text follows the same scale: dark on the brightest off-diagonal cell, light on the darkest.
    masked = np.where(np.eye(5, dtype=bool), np.nan, cosines)
    brightest = np.unravel_index(np.nanargmax(masked), cosines.shape)
    darkest = np.unravel_index(np.nanargmin(masked), cosines.shape)
    assert text_colours[brightest] == "black" and text_colours[darkest] == "white"
    assert text_colours[(0, 0)] == "black"  # the diagonal, above the scale, is in the top colour


def test_mte_by_dte_heatmap_scales_to_all_cells(tmp_path, drawn):
    matrix = np.array([[0.2, 0.5, 0.9], [0.4, 0.3, 0.1]])
    plots.plot_heatmap(matrix, ["a", "b"], tmp_path / "rect.png", "t", column_labels=["x", "y", "z"])
    image, label, _ = _heatmap_parts(drawn["rect.png"])
    assert image.get_clim() == (0.1, 0.9) and "all cells range 0.100 to 0.900" in label


def test_a_constant_matrix_is_drawn_without_error_or_warning(tmp_path, drawn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plots.plot_heatmap(np.ones((4, 4)), list("abcd"), tmp_path / "flat.png", "flat")
    _assert_png(path)
    image, label, _ = _heatmap_parts(drawn["flat.png"])
    low, high = image.get_clim()
    assert low < 1.0 < high and "range 1.000 to 1.000" in label


def test_prefix_embeddings_get_a_heatmap_of_their_displacements_from_e0(tmp_path, tiny_bert, drawn):
    """Barely moved from e0 in different directions: raw cosines all near 1, displacements as far apart as
    the directions (computed here with numpy from e0 and the vectors written)."""
    rng = np.random.default_rng(6)
    e0 = initial_embedding(str(tiny_bert), 42).astype(np.float64)
    tasks = ("sst2", "mrpc", "rte", "squad")
    moves = 0.02 * np.linalg.norm(e0) * _unit(rng.normal(size=(len(tasks), e0.size)))
    for task, move in zip(tasks, moves):
        _write(tmp_path / "emb", task, task, "DTE", e0 + move, surrogate=str(tiny_bert))
    paths = run_eval.main(["plot", f"--emb_dir={tmp_path / 'emb'}", f"--save_path={tmp_path / 'prefix'}"])
    assert set(paths) == {"heatmap", "pca", "tsne", "displacement_heatmap"}
    assert paths["displacement_heatmap"].name == "prefix_displacement_heatmap.png"
    _assert_png(paths["displacement_heatmap"])
    written = np.stack([np.load(tmp_path / "emb" / f"{task}.npy").astype(np.float64) for task in sorted(tasks)])
    expected = _numpy_cosines(written - e0)
    np.testing.assert_allclose(plots.displacement_cosines(load_embeddings(tmp_path / "emb"), e0), expected,
                               rtol=0, atol=1e-9)
    image, label, _ = _heatmap_parts(drawn["prefix_displacement_heatmap.png"])
    np.testing.assert_allclose(image.get_array(), expected, rtol=0, atol=1e-9)
    assert "displacement from e0" in drawn["prefix_displacement_heatmap.png"].axes[0].get_title()
    assert _off_diagonal(_numpy_cosines(written)).min() > 0.99 and _off_diagonal(expected).max() < 0.9


@pytest.mark.parametrize("method", ["fim-fute", "textemb"])
def test_no_displacement_heatmap_without_a_shared_initialisation(tmp_path, method):
    rng = np.random.default_rng(7)
    for task in ("sst2", "mrpc", "rte"):
        _write(tmp_path / "emb", task, task, "DTE", rng.normal(size=6), method=method)
    paths, _ = plots.plot_selected(load_embeddings(tmp_path / "emb"), None, ["DTE"], None, tmp_path / "x", 0, None,
                                   tmp_path / "emb")
    assert set(paths) == {"heatmap", "pca", "tsne"}
    assert not (tmp_path / "x_displacement_heatmap.png").exists()
