"""Pictures of a set of task embeddings: a cosine-similarity heatmap and 2-D projections (PCA, t-SNE).

Both projections are computed from the [n, n] cosine matrix alone, i.e. on the
L2-normalised embeddings (the space where the paper compares tasks), so a
2e8-float FIM vector is never held in memory n times:
- PCA: K = cosine matrix = Gram matrix of the unit vectors; centred Kc = H K H with
  H = I - 11^T / n; coordinates = top-2 eigenvectors of Kc times sqrt(eigenvalue),
  which equals PCA scores of the unit vectors.
- t-SNE: precomputed distances |u_i - u_j| = sqrt(2 - 2 cos_ij), fixed random_state,
  perplexity min(30, max(1, (n - 1) / 3)) (sklearn needs perplexity < n), exact gradients
  up to 500 points.

The heatmap's colour scale spans the off-diagonal cells only (the diagonal is 1 by definition):
barely trained prefix embeddings all start from one seeded initialisation e0 and their raw
cosines lie within 0.99-1.00. For them a second heatmap shows the cosines of the
displacements e - e0 (as the unified space does, task_emb/space_eval.py), i.e. what training added.

Points are coloured by class (cr / qa, as the records name the data); LLM + prompt MTEs are
coloured by prompt, CoT prompts (10-12) with a triangle. Datasets of one name made from different
data are told apart in every label, with a warning (data_utils/artifacts/data_identity.py).
"""
from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never open a window, work on machines without a display
import numpy as np  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from configs.datasets import is_cot_prompt  # noqa: E402
from configs.hparams import PLOT_MIN_POINTS as MIN_POINTS  # noqa: E402
from data_utils.artifacts.data_identity import TaskLabels, dataset_of  # noqa: E402
from data_utils.artifacts.embeddings import Embedding, check_same_dim  # noqa: E402
from data_utils.artifacts.seeds import group_by_seed  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from data_utils.io import atomic_open  # noqa: E402
from data_utils.similarity import cosine_matrix  # noqa: E402
from task_emb.displacement import displaced, initial_embedding_of  # noqa: E402

logger = logging.getLogger(__name__)

EXACT_TSNE_MAX_POINTS = 500
MTE_MARKER = "s"  # an MTE of a fine-tuned model, beside the dataset embeddings (circles)


# ---------------------------------------------------------------- labels and styles


def embedding_labels(embeddings: Sequence[Embedding], labels: TaskLabels | None = None) -> list[str]:
    """The task (as `labels` names it: datasets of one name with different data told apart, data_identity.py);
    "(MTE)" added for an MTE of a fine-tuned model, the task type (sa/nli) for an LLM MTE.

    A label that would still repeat gets its file name, and one that still repeats then (files of one name in
    several folders) its path below the folders' common parent.
    """
    labels = labels or TaskLabels.of_embeddings(embeddings)
    shown = []
    for e in embeddings:
        if e.info.llm:
            shown.append(f"{e.info.label} ({e.genre})")
        else:
            shown.append(labels.of(e) if e.kind == "DTE" else f"{labels.of(e)} (MTE)")
    counts = Counter(shown)
    named = [f"{label} [{e.path.stem}]" if counts[label] > 1 else label for label, e in zip(shown, embeddings)]
    counts = Counter(named)
    if len(counts) == len(named):
        return named
    root = os.path.commonpath([e.path.resolve().parent for e in embeddings])
    return [f"{label} [{os.path.relpath(e.path.resolve(), root)}]" if counts[name] > 1 else name
            for label, name, e in zip(shown, named, embeddings)]


def point_style(embedding: Embedding) -> tuple[str, str]:
    """(colour group, marker): class for datasets, prompt for LLM MTEs (CoT prompts as triangles)."""
    prompt = embedding.info.prompt
    if embedding.info.llm and prompt is not None:
        cot = is_cot_prompt(prompt)
        return f"prompt {prompt}{' (CoT)' if cot else ''}", "^" if cot else "o"
    identity = dataset_of(embedding)
    return (identity and identity.task_class or "other"), (MTE_MARKER if embedding.kind == "MTE" else "o")


# ---------------------------------------------------------------- projections


def pca_from_cosine(similarity: np.ndarray) -> np.ndarray:
    """[n, 2] PCA scores of the unit vectors whose Gram matrix is `similarity` ([n, n])."""
    n = similarity.shape[0]
    centring = np.eye(n) - np.full((n, n), 1.0 / n)
    eigenvalues, eigenvectors = np.linalg.eigh(centring @ similarity @ centring)
    top = np.argsort(eigenvalues)[::-1][:2]
    coords = eigenvectors[:, top] * np.sqrt(np.clip(eigenvalues[top], 0.0, None))
    return np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))


def tsne_from_cosine(similarity: np.ndarray, seed: int) -> np.ndarray:
    """[n, 2] t-SNE of the unit vectors, from their pairwise distances sqrt(2 - 2 cos)."""
    n = similarity.shape[0]
    distances = np.sqrt(np.clip(2.0 - 2.0 * similarity, 0.0, None))
    np.fill_diagonal(distances, 0.0)
    perplexity = min(30.0, max(1.0, (n - 1) / 3))
    # Exact gradients: faster than Barnes-Hut (and not approximate) for the tens of points plotted here.
    method = "exact" if n <= EXACT_TSNE_MAX_POINTS else "barnes_hut"
    tsne = TSNE(n_components=2, metric="precomputed", init="random", perplexity=perplexity, random_state=seed,
                method=method)
    return tsne.fit_transform(distances)


# ---------------------------------------------------------------- drawing


def _save(figure: Figure, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=150, bbox_inches="tight")
    logger.info("wrote %s", path)
    return path


def colour_limits(similarity: np.ndarray, self_similarity: bool = True) -> tuple[float, float]:
    """(min, max) of the cells that set the colour scale of a [rows, columns] similarity matrix.

    For a self-similarity matrix (square, ones on the diagonal by definition) only the off-diagonal cells
    count: barely trained prefix embeddings all lie within 0.99-1.00 of one another, and only a scale fitted
    to their range tells them apart. Otherwise (or with one cell) all cells count.
    """
    cells = similarity
    if self_similarity and similarity.shape[0] > 1:
        cells = similarity[~np.eye(similarity.shape[0], dtype=bool)]
    return float(cells.min()), float(cells.max())


def cell_decimals(low: float, high: float) -> int:
    """Decimals of the values written in the cells: 2, or enough to tell apart values within a narrow range."""
    span = high - low
    return 2 if span >= 0.1 or span <= 0.0 else min(4, 1 - math.floor(math.log10(span)))


def plot_heatmap(similarity: np.ndarray, labels: Sequence[str], path: Path, title: str,
                 column_labels: Sequence[str] | None = None) -> Path:
    """Cosine-similarity matrix [rows, columns] as a heatmap (square unless `column_labels` are given),
    values written in the cells when there are few.

    The colour scale spans `colour_limits` (the off-diagonal range of a square matrix, its diagonal then
    shown in the top colour), and the colour bar says so.
    """
    self_similarity = column_labels is None
    column_labels = labels if column_labels is None else column_labels
    rows, columns = len(labels), len(column_labels)
    low, high = colour_limits(similarity, self_similarity)
    # A constant matrix still needs a scale with a span: its one value is drawn in the middle colour.
    norm = Normalize(low, high) if high > low else Normalize(low - 0.5, high + 0.5)
    figure = Figure(figsize=(max(4.0, 0.45 * columns + 2.0) + 1.0, max(4.0, 0.45 * rows + 2.0)))
    axes = figure.add_subplot()
    image = axes.imshow(similarity, cmap="viridis", norm=norm)
    scope = "off-diagonal" if self_similarity else "all cells"
    figure.colorbar(image, ax=axes, label=f"cosine similarity (colour scale: {scope} range {low:.3f} to {high:.3f})")
    axes.set_xticks(range(columns), column_labels, rotation=90, fontsize=8)
    axes.set_yticks(range(rows), labels, fontsize=8)
    if max(rows, columns) <= 20:
        decimals = cell_decimals(low, high)
        for i in range(rows):
            for j in range(columns):
                colour = "black" if norm(similarity[i, j]) > 0.5 else "white"  # dark text on the bright half of viridis
                axes.text(j, i, f"{similarity[i, j]:.{decimals}f}", ha="center", va="center", fontsize=6,
                          color=colour)
    axes.set_title(title)
    return _save(figure, path)


def plot_projection(coords: np.ndarray, labels: Sequence[str], styles: Sequence[tuple[str, str]], path: Path,
                    title: str) -> Path:
    """Scatter of [n, 2] coordinates, one colour per group, each point annotated with its label."""
    figure = Figure(figsize=(7.0, 6.0))
    axes = figure.add_subplot()
    groups = sorted({group for group, _ in styles}, key=lambda g: (len(g), g))
    colours = matplotlib.colormaps["tab20" if len(groups) > 10 else "tab10"]
    for index, group in enumerate(groups):
        for marker in sorted({m for g, m in styles if g == group}):
            chosen = [i for i, style in enumerate(styles) if style == (group, marker)]
            axes.scatter(coords[chosen, 0], coords[chosen, 1], color=colours(index), marker=marker, s=50,
                         label=f"{group} (MTE)" if marker == MTE_MARKER else group)
    for (x, y), label in zip(coords, labels):
        axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: never hides a point
    axes.set_title(title)
    return _save(figure, path)


def displacement_cosines(embeddings: Sequence[Embedding], e0: np.ndarray) -> np.ndarray:
    """[n, n] cosines of the displacements e_i - e0 from the shared initialisation e0 ([dim])."""
    return cosine_matrix(displaced(embeddings, e0))


def plot_embeddings(embeddings: Sequence[Embedding], stem: str | Path, seed: int = 42,
                    title: str = "task embeddings", e0: np.ndarray | None = None) -> dict[str, Path]:
    """Write <stem>_heatmap.png, <stem>_pca.png and <stem>_tsne.png, and with `e0` (the shared initialisation
    of prefix embeddings, [dim]) <stem>_displacement_heatmap.png, the cosines of e - e0; return them by name."""
    if len(embeddings) < MIN_POINTS:
        raise FuteError(f"{len(embeddings)} embedding(s) selected; a plot needs at least {MIN_POINTS}")
    labels = embedding_labels(embeddings)
    styles = [point_style(e) for e in embeddings]
    similarity = cosine_matrix([e.vector() for e in embeddings])
    stem = Path(stem)
    paths = {
        "heatmap": plot_heatmap(similarity, labels, stem.with_name(stem.name + "_heatmap.png"), title),
        "pca": plot_projection(pca_from_cosine(similarity), labels, styles,
                               stem.with_name(stem.name + "_pca.png"), f"{title}: PCA"),
        "tsne": plot_projection(tsne_from_cosine(similarity, seed), labels, styles,
                                stem.with_name(stem.name + "_tsne.png"), f"{title}: t-SNE"),
    }
    if e0 is not None:
        paths["displacement_heatmap"] = plot_heatmap(
            displacement_cosines(embeddings, e0), labels, stem.with_name(stem.name + "_displacement_heatmap.png"),
            f"{title}: displacement from e0 (cosine of e - e0)")
    return paths


def choose(embeddings: Sequence[Embedding], method: str | None, kinds: Sequence[str], tasks: Sequence[str] | None,
           where: str | Path) -> list[Embedding]:
    """The embeddings of one method (the only one there when None) of `kinds`, restricted to `tasks` (as tables
    name them: a dataset, "<name>@<digest>" or a declaration file, or "<llm>:p<k>"), of one dimension; a task or
    method with none is an error."""
    methods = sorted({e.method for e in embeddings})
    method = method or (methods[0] if len(methods) == 1 else None)
    if method is None:
        raise FuteError(f"{where} holds embeddings of several methods ({', '.join(methods)}); choose one with --method")
    candidates = [e for e in embeddings if e.method == method and e.kind in kinds]
    labels = TaskLabels.of_embeddings(candidates, warn=False)  # the plot or comparison of those chosen warns
    wanted = None if tasks is None else labels.named(tasks)
    chosen = [e for e in candidates if wanted is None or labels.of(e) in wanted]
    missing = sorted(set(wanted or ()) - {labels.of(e) for e in chosen})
    if missing:
        raise FuteError(f"missing embedding: no {'/'.join(kinds)} of method {method} for task(s) "
                        f"{', '.join(missing)} in {where}")
    if not chosen:
        raise FuteError(f"no {'/'.join(kinds)} embeddings of method {method} in {where}; check --method "
                        f"and --kinds (methods there: {', '.join(methods)})")
    check_same_dim(chosen, f"method {method}")
    return chosen


def plot_selected(embeddings: Sequence[Embedding], method: str | None, kinds: Sequence[str],
                  tasks: Sequence[str] | None, stem: Path, seed: int, title: str | None,
                  where: str | Path, displacement: bool = True, surrogate: str | None = None
                  ) -> tuple[dict[str, Path], list[Embedding]]:
    """Plot the embeddings `choose` picks; returns the plots and the embeddings drawn.

    With `displacement`, a method whose family starts from a shared initialisation (prefix) also gets the
    displacement heatmap (e0 rebuilt from the surrogate the records name, or from `surrogate`, a copy of it,
    as the unified space does). Embeddings of several seeds are drawn one seed at a time, as
    <stem>_seed<k>_*.png (named "<plot>_seed<k>"): each seed's prefixes start from its own e0, and one picture
    of every seed would show each task several times. `seed` seeds t-SNE.
    """
    chosen = choose(embeddings, method, kinds, tasks, where)
    method = chosen[0].method
    by_seed = group_by_seed(chosen, lambda e: e.info.seed)
    single, paths = len(by_seed) == 1, {}
    for run_seed, of_seed in by_seed.items():
        e0 = initial_embedding_of(of_seed, method, surrogate) if displacement else None
        drawn = plot_embeddings(of_seed, stem if single else stem.with_name(f"{stem.name}_seed{run_seed}"), seed=seed,
                                title=(title or method) + ("" if single else f" (seed {run_seed})"), e0=e0)
        paths.update(drawn if single else {f"{name}_seed{run_seed}": path for name, path in drawn.items()})
    return paths, chosen
