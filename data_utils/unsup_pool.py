"""The unsupervised pool U and the model inputs x' drawn from it.

A pool example is one text or a pair of texts plus the dataset it came from. The pool
comes from local JSONL files (`read_local_pool`) or from the CrossFit datasets of the
hub (`load_hub_pool`, table in `configs.unsup_pool`), at most N examples per dataset.
Both return the sources that failed with their one-line errors, so a run can record
what its pool was made of (`pool_record`) and refuse one that shrank too far
(`check_pool_failures`): the reference skipped failing sources without a trace.
data_utils/pool_inputs.py turns examples into x' for one task type.

Order: every function here returns examples sorted by source, then by position in
that source, so the pool does not depend on file order or process count. The
reference shuffled the pool once (seed 42) before use, for training and for writing
x' alike: `load_pool`, the pool as a run reads it, shuffles it once. Every draw (which
examples of a source, their order) follows the run's seed, so that runs with several
seeds see different x'; the reference's 42 is every script's default --seed.
"""
from __future__ import annotations

import logging
import multiprocessing
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from string import Formatter
from typing import Any

import numpy as np

from configs.hparams import DEFAULT_SEED, UNSUP_POOL
from configs.unsup_pool import (
    EXCLUDE_FOR_LLM,
    EXCLUDE_FOR_TRANSFER,
    POOL_SOURCES,
    PoolSource,
)
from data_utils.artifacts.completion import recorded
from data_utils.artifacts.paths import record_path
from data_utils.errors import FuteError
from data_utils.hub_read import HubRead, describe_error, read_split
from data_utils.io import (
    emptiness,
    iter_jsonl_lines,
    read_json,
    write_json,
    write_jsonl,
)
from data_utils.progress import progress

logger = logging.getLogger(__name__)

# A pool with more failed sources than this fraction is refused unless the user allows it.
MAX_FAILED_FRACTION = 0.1
EXCLUDE_CHOICES = ("transfer", "sa", "nli", "none")

# A loader takes a table entry and returns an indexable dataset (`datasets.Dataset`, an
# archive's table, or anything with __len__, select(indices) and iteration over dict rows).
Loader = Callable[[PoolSource], Any]


@dataclass
class PoolExample:
    text: str
    text_pair: str | None
    source: str


# ---------------------------------------------------------------------------
# Reading the pool
# ---------------------------------------------------------------------------

def read_local_pool(path: str | Path) -> tuple[list[PoolExample], dict[str, str]]:
    """(examples, failed files) from a JSONL file, or from every `*.jsonl` in a folder.

    Each line: {"text": str, "text_pair": str (optional), "source": str (optional,
    default the file stem)}. A line without a non-empty "text" is an error naming
    file and line: for a single file it stops the run; in a folder the file is left
    out and returned in `failed` (file name -> error). Examples: sorted by source,
    file order within a source.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise FuteError(f"no *.jsonl file in the pool folder {path}; write the pool as JSONL with a 'text' field")
    elif path.is_file():
        return sorted(_read_pool_file(path), key=lambda e: e.source), {}
    else:
        raise FuteError(f"pool file not found: {path}; give a JSONL file or a folder of them")
    examples, failed = [], {}
    for file in files:
        try:
            examples.extend(_read_pool_file(file))
        except FuteError as err:
            logger.warning("pool file %s left out: %s", file.name, err)
            failed[file.name] = str(err)
    return sorted(examples, key=lambda e: e.source), failed  # stable: keeps file order within a source


def load_pool(exclude: str, per_source: int, seed: int, local_path: str | Path | None = None, processes: int = 1,
              allow_partial: bool = False) -> tuple[list[PoolExample], dict[str, Any]]:
    """(x', its `pool_record`) as a run with `seed` reads it: `read_pool`, `check_pool_failures`, shuffled once
    with `seed`. A pool file saved with a record (`save_hub_pool`, data_utils.pool_targets.save_folder_pool) adds
    what that record says of it: the data digests of the sources used ("digests") and the targets left out
    ("left_out")."""
    examples, failed, total = read_pool(exclude, per_source, seed, local_path, processes)
    check_pool_failures(failed, total, allow_partial)
    about = pool_record(examples, failed, seed)
    saved = record_path(local_path) if local_path is not None and Path(local_path).is_file() else None
    if saved is not None and saved.is_file():
        saved_about = read_json(saved)
        about.update({key: saved_about[key] for key in ("left_out",) if key in saved_about})
        if "digests" in saved_about:
            about["digests"] = {name: digest for name, digest in saved_about["digests"].items()
                                if name in about["sources"]}
    return shuffle_examples(examples, seed), about


def read_pool(exclude: str, per_source: int, seed: int, local_path: str | Path | None = None,
              processes: int = 1) -> tuple[list[PoolExample], dict[str, str], int]:
    """(examples sorted by source, failed sources, sources read): the JSONL pool at `local_path`, else the hub's (in
    `processes` workers), minus the sources `exclude` leaves out, at most `per_source` of each (a sample drawn
    with `seed`)."""
    if local_path is None:
        names = pool_names(exclude)
        return (*load_hub_pool(names, per_source, seed, processes), len(names))
    examples, failed = read_local_pool(local_path)
    kept = drop_excluded_sources(examples, exclude)
    if not kept:
        raise FuteError(f"every example of --unsup_data_path {local_path} comes from a source excluded for "
                        f"{exclude!r} (configs/unsup_pool.py); add examples of other sources")
    total = len({example.source for example in kept}) + len(failed)
    return sample_per_source(kept, per_source, seed), failed, total


def pool_record(examples: Sequence[PoolExample], failed: dict[str, str], seed: int) -> dict[str, Any]:
    """What a run's pool was made of: {"sources": {source: examples used}, "failed": {source: error}, "seed": the
    seed its examples were drawn and ordered with}."""
    counts: dict[str, int] = defaultdict(int)
    for example in examples:
        counts[example.source] += 1
    return {"sources": dict(sorted(counts.items())), "failed": dict(sorted(failed.items())), "seed": seed}


def check_pool_failures(failed: dict[str, str], total: int, allow_partial: bool) -> None:
    """Refuse a pool where more than MAX_FAILED_FRACTION of `total` sources failed, unless allowed."""
    if failed and len(failed) > MAX_FAILED_FRACTION * total and not allow_partial:
        raise FuteError(f"{len(failed)} of {total} pool sources could not be read ({', '.join(sorted(failed))}); "
                        f"fix them (python scripts/check_hub.py --pool tells why) or pass --allow_partial_pool True "
                        f"to go on without them (they are recorded)")


def check_failures_per_exclusion(failed: dict[str, str], excludes: Iterable[str], allow_partial: bool) -> None:
    """`check_pool_failures` for a hub pool loaded once (`pool_names("none")`) and read by runs that each leave out
    one exclusion list: a run reads `pool_names(exclude)`, so its share is the failures among those over their
    number; a failed source the run leaves out anyway does not count against it."""
    for exclude in excludes:
        read = set(pool_names(exclude))
        check_pool_failures({name: error for name, error in failed.items() if name in read}, len(read), allow_partial)


def write_local_pool(path: str | Path, examples: Sequence[PoolExample]) -> int:
    """Write pool examples as the JSONL `read_local_pool` reads ({"text", "text_pair" when a pair,
    "source"}), atomically, in the order given; return how many. A hub pool saved once this way
    serves every later run through --unsup_data_path (exclusions still apply by source name)."""
    if not examples:
        raise FuteError(f"no pool examples to write to {path}; check the pool source and exclusion list")
    return write_jsonl(path, pool_lines(examples))


def pool_lines(examples: Sequence[PoolExample]) -> list[dict]:
    """The JSONL lines `write_local_pool` writes for `examples`, in their order."""
    return [{"text": e.text, **({"text_pair": e.text_pair} if e.text_pair is not None else {}), "source": e.source}
            for e in examples]


def _read_pool_file(path: Path) -> list[PoolExample]:
    examples = []
    for where, record in iter_jsonl_lines(path):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FuteError(f"{where}: missing or empty 'text'; every pool line needs a non-empty 'text'")
        pair = record.get("text_pair")
        if pair is not None and not isinstance(pair, str):
            raise FuteError(f"{where}: 'text_pair' must be a string or absent")
        source = record.get("source") or path.stem
        examples.append(PoolExample(text=text, text_pair=pair or None, source=str(source)))
    if not examples:
        raise FuteError(f"{path} holds no pool lines ({emptiness(path)}); write one JSON object with a non-empty "
                        f"'text' per line")
    return examples


def sample_per_source(examples: Sequence[PoolExample], max_per_source: int, seed: int) -> list[PoolExample]:
    """Keep at most `max_per_source` examples of each source, chosen at random.

    Each source is sampled with its own `random.Random(seed)` (as the reference seeded
    each dataset alike), so the choice for one source does not depend on which other
    sources are present. Result: sorted by source, then by original position.
    """
    if max_per_source < 1:
        raise FuteError(f"max_per_source must be >= 1, got {max_per_source}")
    by_source: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_source[example.source].append(index)
    kept = []
    for source in sorted(by_source):
        indices = by_source[source]
        if len(indices) > max_per_source:
            indices = sorted(random.Random(seed).sample(indices, max_per_source))
        kept.extend(examples[i] for i in indices)
    return kept


def shuffle_examples(examples: Iterable[PoolExample], seed: int) -> list[PoolExample]:
    """A new list in a random order drawn with `seed` (the reference shuffled the pool with seed 42)."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def pool_names(exclude: str) -> list[str]:
    """The pool's dataset names minus an exclusion list.

    exclude: "transfer" (the CR/QA transfer targets), "sa" or "nli" (the LLM test sets
    of that task type), or "none".
    """
    if exclude == "transfer":
        excluded = set(EXCLUDE_FOR_TRANSFER)
    elif exclude in EXCLUDE_FOR_LLM:
        excluded = set(EXCLUDE_FOR_LLM[exclude])
    elif exclude == "none":
        excluded = set()
    else:
        raise FuteError(f"unknown pool exclusion {exclude!r}; choose one of {', '.join(EXCLUDE_CHOICES)}")
    return sorted(name for name in POOL_SOURCES if name not in excluded)


def drop_excluded_sources(examples: Sequence[PoolExample], exclude: str) -> list[PoolExample]:
    """A local pool minus the examples whose source is a pool dataset that `exclude` leaves out.

    The same lists as the hub pool (`pool_names`), matched by source name, so a local
    copy of e.g. glue_sst2.jsonl never feeds the evaluation set it belongs to. Sources
    outside the pool's names are kept. The count dropped is logged.
    """
    excluded = set(POOL_SOURCES) - set(pool_names(exclude))
    kept = [example for example in examples if example.source not in excluded]
    dropped = sorted({example.source for example in examples} & excluded)
    if dropped:
        logger.info("pool: dropped %d local examples of excluded source(s) %s (exclusion list %r)",
                    len(examples) - len(kept), ", ".join(dropped), exclude)
    return kept


def load_hub_pool(
    names: Iterable[str],
    max_per_source: int = UNSUP_POOL["max_per_source"],
    seed: int = DEFAULT_SEED,
    num_processes: int = 1,
    loader: Loader | None = None,
) -> tuple[list[PoolExample], dict[str, str]]:
    """(examples, failed sources): at most `max_per_source` examples from each named hub dataset.

    Per dataset: a seeded random permutation of row indices is walked in blocks of
    `max_per_source` rows (`select` by index: a large dataset is never turned into a
    Python list) until that many non-empty examples are found; they are returned in
    row order. Names are sorted and handed out to `num_processes` workers in order,
    so the result does not depend on the process count. A dataset that fails to
    load is skipped with a warning and returned in `failed` (name -> one-line error);
    a summary is logged.
    `loader` replaces the hub read (`data_utils.hub_read.read_split`; tests use a fake one); with
    num_processes > 1 it must be picklable (a module-level function).
    """
    names = sorted(set(names))
    unknown = [name for name in names if name not in POOL_SOURCES]
    if unknown:
        raise FuteError(
            f"unknown pool dataset(s) {', '.join(unknown)}; the {len(POOL_SOURCES)} known names are the keys of "
            "configs.unsup_pool.POOL_SOURCES (python -c 'from configs.unsup_pool import POOL_SOURCES; print(*POOL_SOURCES)')"
        )
    if max_per_source < 1:
        raise FuteError(f"max_per_source must be >= 1, got {max_per_source}")
    work = partial(_load_one, max_per_source=max_per_source, seed=seed, loader=loader or _hub_loader)
    if num_processes > 1 and len(names) > 1:
        with multiprocessing.Pool(min(num_processes, len(names))) as pool:
            ordered = pool.imap(work, names)  # in the input order, each as it is done
            results = list(progress(ordered, total=len(names), desc="pool", unit="datasets"))
    else:
        results = [work(name) for name in progress(names, desc="pool", unit="datasets")]

    examples, failed = [], {}
    for name, loaded, error in results:
        if error is not None:
            logger.warning("pool dataset %s skipped: %s", name, error)
            failed[name] = error
        else:
            examples.extend(loaded)
    logger.info("pool: %d of %d datasets loaded, %d examples%s", len(names) - len(failed), len(names),
                len(examples), f"; skipped: {', '.join(failed)}" if failed else "")
    if names and len(failed) == len(names):
        raise FuteError("no pool dataset could be loaded (offline?); connect to the hub, or pass a local x' pool: "
                        "--unsup_data_path FILE.jsonl (one JSON line per example: text, optional text_pair)")
    return examples, failed


def _hub_loader(source: PoolSource) -> Any:
    """The source's split from the hub, or from the archive its repository publishes (data_utils/hub_read.py)."""
    return read_split(HubRead.of_pool_source(source))


def _load_one(name: str, max_per_source: int, seed: int, loader: Loader) -> tuple[str, list[PoolExample], str | None]:
    """(name, examples, None) on success, (name, [], error message) on failure."""
    source = POOL_SOURCES[name]
    try:
        dataset = loader(source)
        order = np.random.default_rng(seed).permutation(len(dataset))
        kept: list[tuple[int, PoolExample]] = []
        for start in range(0, len(order), max_per_source):
            block = [int(i) for i in order[start:start + max_per_source]]
            for row_index, row in zip(block, dataset.select(block)):
                example = _example_from_row(row, source.templates, name)
                if example is not None:
                    kept.append((row_index, example))
            if len(kept) >= max_per_source:
                break
        # `kept` is in permutation order: its first max_per_source are the sample.
        sample = sorted(kept[:max_per_source], key=lambda pair: pair[0])
        return name, [example for _, example in sample], None
    except Exception as err:  # noqa: BLE001 - any failure of one dataset must not stop the pool
        return name, [], describe_error(err)


def _example_from_row(row: dict, templates: tuple[str, ...], name: str) -> PoolExample | None:
    """Render each template; empty segments are dropped (as the reference dropped empty
    "[SEP]" pieces); None when nothing is left."""
    values = {key: _field_text(value) for key, value in row.items()}
    segments = []
    for template in templates:
        literal = _clean("".join(text for text, *_ in Formatter().parse(template)))
        segment = _clean(template.format_map(values))
        if segment != literal:  # the fields added something
            segments.append(segment)
    if not segments:
        return None
    return PoolExample(text=segments[0], text_pair=segments[1] if len(segments) > 1 else None, source=name)


def _field_text(value: Any) -> Any:
    """A list of strings becomes one text; a missing value an empty one; dicts stay
    dicts so that `{a[b]}` can index them."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return value


def _clean(text: str) -> str:
    """Collapse newlines, tabs and runs of spaces (CrossFit's `clean`)."""
    return " ".join(text.replace("\\n", " ").split())


def save_hub_pool(path: Path, per_source: int, allow_partial: bool, excludes: Sequence[str],
                  processes: int = 1, leave_out: dict[str, str] | None = None) -> None:
    """The hub's CrossFit pool, at most `per_source` examples per dataset, saved once as the JSONL every step
    reads (each run_task_emb.py would otherwise load the ~150 datasets again; exclusions apply per step,
    by source name). The sources that failed are recorded in <path>.record.json, written after the pool; more
    than 10% of the sources a step reads (the pool minus each of `excludes`) failing stop the demo unless
    `allow_partial`. A saved pool is reused when it holds at least `per_source`; `processes` load the hub's
    datasets at once (the wait is the network's). It is drawn with DEFAULT_SEED whatever the steps' seeds: one
    saved pool serves every seed, each step drawing and ordering its x' from it with its own. `leave_out`
    ({source: the target it is}) are never loaded, and are named in the record ("left_out")."""
    record = record_path(path)
    if recorded(path):
        saved = read_json(record)
        if saved["max_per_source"] < per_source:
            raise FuteError(f"{path} holds at most {saved['max_per_source']} x' per source, fewer than the "
                            f"{per_source} asked for; delete it (and the model task embeddings) or choose a new --out")
        held = sorted(set(leave_out or {}) & set(saved["sources"]))
        if held:
            raise FuteError(f"{path} holds x' of {', '.join(held)}, which this run leaves out as targets; delete it "
                            f"(and the model task embeddings) or choose a new --out")
        check_failures_per_exclusion(saved["failed"], excludes, allow_partial)
        return
    leave_out = leave_out or {}
    names = [name for name in pool_names("none") if name not in leave_out]
    logger.info("saving the hub's x' pool (%d datasets, at most %d examples each; left out as targets: %s) to %s",
                len(names), per_source, ", ".join(leave_out) or "none", path)
    examples, failed = load_hub_pool(names, per_source, DEFAULT_SEED, processes)
    check_failures_per_exclusion(failed, excludes, allow_partial)
    write_local_pool(path, examples)
    write_json(record, {"max_per_source": per_source, **pool_record(examples, failed, DEFAULT_SEED),
                        "left_out": leave_out})
