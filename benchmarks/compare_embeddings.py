"""How close two copies of one task embedding are: cosine, relative L2 difference, and top-1% overlap.

    python benchmarks/compare_embeddings.py A.npy B.npy [C.npy D.npy ...]   # pairs

Used to compare one embedding learned on two devices (benchmarks/task_emb_cli_runs.sh), where the
files may be bare arrays without records (the `*_every64.npy` slices that travel back from a remote
machine) and agreement needs more than a cosine. To compare recorded embeddings with each other
(different tasks, models or prompts; raw and as displacements from e0; Markdown, CSV, JSON and a
heatmap), use `python run_eval.py compare`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data_utils.similarity import cosine  # noqa: E402


def compare(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} vs {b.shape}"
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    relative = np.linalg.norm(a - b) / np.linalg.norm(a)
    k = max(1, a.size // 100)
    top = len(np.intersect1d(np.argpartition(-np.abs(a), k)[:k], np.argpartition(-np.abs(b), k)[:k])) / k
    return f"{a.size} values: cosine {cosine(a, b):.4f}, |a-b|/|a| {relative:.3f}, top-1% overlap {top:.2f}"


def main() -> None:
    paths = sys.argv[1:]
    if not paths or len(paths) % 2:
        sys.exit("usage: compare_embeddings.py A.npy B.npy [C.npy D.npy ...] (pairs of .npy files)")
    for first, second in zip(paths[::2], paths[1::2]):
        print(f"{first} vs {second}: {compare(np.load(first), np.load(second))}")


if __name__ == "__main__":
    main()
