"""Cosine similarity of task embeddings, which can be long: a t5-base FIM has ~2e8 floats.

Vectors are read in float64 slices of _CHUNK elements (often from a memory-mapped float16
file), so no float64 copy of a whole vector is made; each norm can be computed once and
reused (`cosine_from_parts`, `artifacts.embeddings.CosineCache`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from data_utils.errors import FuteError

_CHUNK = 1 << 22


def _check_shapes(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise FuteError(f"cannot compare embeddings of shapes {a.shape} and {b.shape}; they come from different "
                        f"surrogates or methods")


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """a.b for 1-D arrays of equal length, accumulated in float64 slices (one pass over each)."""
    _check_shapes(a, b)
    total = 0.0
    for start in range(0, a.shape[0], _CHUNK):
        total += float(np.asarray(a[start:start + _CHUNK], dtype=np.float64)
                       @ np.asarray(b[start:start + _CHUNK], dtype=np.float64))
    return total


def squared_norm(a: np.ndarray) -> float:
    """|a|^2 of a 1-D array, accumulated in float64 slices."""
    total = 0.0
    for start in range(0, a.shape[0], _CHUNK):
        x = np.asarray(a[start:start + _CHUNK], dtype=np.float64)
        total += float(x @ x)
    return total


def cosine_from_parts(dot_ab: float, squared_norm_a: float, squared_norm_b: float) -> float:
    """a.b / sqrt(|a|^2 |b|^2); an all-zero embedding, or one holding NaN or inf, is an error."""
    if not (math.isfinite(squared_norm_a) and math.isfinite(squared_norm_b)):
        raise FuteError("an embedding holds NaN or inf values (or overflows float64), so its cosine similarity is "
                        "undefined; recompute it")
    if squared_norm_a == 0.0 or squared_norm_b == 0.0:
        raise FuteError("an embedding is all zeros, so its cosine similarity is undefined; recompute it")
    return dot_ab / math.sqrt(squared_norm_a * squared_norm_b)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b) = a.b / (|a| |b|) for 1-D arrays of equal length, accumulated in float64 slices."""
    _check_shapes(a, b)
    return cosine_from_parts(dot(a, b), squared_norm(a), squared_norm(b))


def cosine_matrix(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """[n, n] matrix of pairwise cosine similarities (symmetric, ones on the diagonal).

    Each vector's norm is computed once, so a pair costs one dot product.
    """
    n = len(vectors)
    norms = [squared_norm(v) for v in vectors]
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = cosine_from_parts(dot(vectors[i], vectors[j]), norms[i], norms[j])
    return matrix


def nearest_first(query: np.ndarray, candidates: Mapping[str, np.ndarray]) -> tuple[list[str], dict[str, float]]:
    """The names of `candidates` ordered by cosine with `query`, most similar first (ties broken by name), and
    each one's cosine."""
    similarity = {name: cosine(query, vector) for name, vector in candidates.items()}
    return sorted(similarity, key=lambda name: (-similarity[name], name)), similarity
