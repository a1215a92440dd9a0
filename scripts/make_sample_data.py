"""Write the project's small sample datasets under data/samples/ (deterministic).

Real hub datasets cannot be downloaded offline, so each sample set stands in for one
dataset of the registry, configs/datasets.yaml, which says what the set looks like: its
split names (training, dev and LLM evaluation split), its input fields, its label field
and label names in index order, and whether it is a regression or a QA set. What the
registry does not hold is data beside this script, in scripts/sample_data/ (one YAML file
per set): the English text (word lists and templates), the size of each split, the hub's
id fields and a line for the README; sample_data/makers.py fills the templates with slots
that sample_data/words.py draws. Every set is drawn from its own
``random.Random(f"{seed}/{name}")``, so changing one set never changes the others, and a
rerun rewrites identical bytes.

Layout written (the loader reads ``<out_dir>/<name>/<split>.jsonl``)::

    <out_dir>/<name>/<split>.jsonl   one JSON object per line, UTF-8
    <out_dir>/unsup_pool.jsonl       the unlabelled x' pool: {"text", "source"[, "text_pair"]}
    <out_dir>/README.md              what each set is (scripts/sample_data/readme_template.md)

Usage: ``python scripts/make_sample_data.py [--out_dir DIR] [--seed 42]``.
The committed files are made with the defaults; tests/test_sample_data.py checks that.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from string import Template
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # the project's packages, and sample_data/ beside this script

from configs.datasets import GENRE_LABELS, DatasetSpec  # noqa: E402
from data_utils.declarations import DATASETS  # noqa: E402
from data_utils.errors import FuteError  # noqa: E402
from sample_data.makers import MAKERS, generate_pool, generate_set, row_fields, split_sizes  # noqa: E402
from sample_data.words import DATA_DIR, load  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_OUT_DIR = HERE.parent / "data" / "samples"
DEFAULT_SEED = 42
SAMPLES = tuple(MAKERS)  # the sample sets, in the README's order


def _jsonl(rows: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _labels_note(spec: DatasetSpec, data: dict[str, Any]) -> str:
    """The README's "labels" column, from the registry's label names."""
    if spec.task_class == "qa":
        return "SQuAD v2 answers; about 15% unanswerable (empty lists)"
    if spec.regression:
        return "float similarity 0.0-5.0"
    if data.get("label_as_name"):
        return f"{spec.label_field} is the string " + " / ".join(f'"{label}"' for label in spec.labels)
    note = ", ".join(f"{i} {label}" for i, label in enumerate(spec.labels))
    if spec.llm_genre and spec.labels != GENRE_LABELS[spec.llm_genre]:
        note += " (the hub's order)"  # differs from the order the LLM genre uses
    return note


def _readme(seed: int) -> str:
    """data/samples/README.md: readme_template.md with the table of sets and the pool's numbers."""
    rows = []
    for name in SAMPLES:
        spec, data = DATASETS[name], load(name)
        splits = ", ".join(f"{k} {v}" for k, v in split_sizes(spec, data).items())
        fields = ", ".join(f"`{f}`" for f in row_fields(spec, data))
        rows.append(f"| `{name}` | {splits} | {fields} | {_labels_note(spec, data)} | {data['about']} |")
    pool = load("unsup_pool")
    return Template((DATA_DIR / "readme_template.md").read_text(encoding="utf-8")).substitute(
        seed=seed, table="\n".join(rows), pool_size=pool["per_source"] * len(pool["sources"]),
        sources=", ".join(pool["sources"]), per_source=pool["per_source"])


def write_samples(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate every sample set, the pool and the README under ``out_dir``; return the paths."""
    written = []
    all_texts: set[str] = set()
    for name in SAMPLES:
        for split, rows in generate_set(name, seed).items():
            path = out_dir / name / f"{split}.jsonl"
            _write_atomic(path, _jsonl(rows))
            written.append(path)
            all_texts.update(str(r[f]) for r in rows for f in DATASETS[name].inputs)
    pool_path = out_dir / "unsup_pool.jsonl"
    _write_atomic(pool_path, _jsonl(generate_pool(seed, all_texts)))
    readme_path = out_dir / "README.md"
    _write_atomic(readme_path, _readme(seed))
    return [*written, pool_path, readme_path]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", type=Path, default=DEFAULT_OUT_DIR,
                        help="folder to (re)write the sample sets into (default: data/samples)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="generator seed; the committed files use the default, 42")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    paths = write_samples(args.out_dir, args.seed)
    size = sum(p.stat().st_size for p in paths)
    logger.info("wrote %d files (%.1f KB) under %s", len(paths), size / 1024, args.out_dir)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FuteError as err:  # a data file of scripts/sample_data/ names a list that does not exist
        logger.error("%s", err)
        sys.exit(2)
