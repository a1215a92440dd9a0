"""The unsupervised pool U and the model inputs x' drawn from it.

A pool example is one text or a pair of texts plus the dataset it came from. The pool
comes from local JSONL files (`read_local_pool`) or from the CrossFit datasets of the
hub (`load_hub_pool`, table in `configs.unsup_pool`), at most N examples per dataset.
Both return the sources that failed with their one-line errors, so a run can record
what its pool was made of (`pool_record`) and refuse one that shrank too far
(`check_pool_failures`): the reference skipped failing sources without a trace.
`build_inputs` turns examples into x' for one task type, and `select_model_inputs`
chooses the x' lines an LLM answers (`run_llm_inference_for_te.py`; their file:
data_utils/artifacts/model_inputs.py).

Order: every function here returns examples sorted by source, then by position in
that source, so the pool does not depend on file order or process count. The
reference shuffled the pool once (seed 42) before use, for training and for writing
x' alike: `load_pool`, the pool as a run reads it, shuffles it once.
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

from configs.datasets import TASK_TYPES
from configs.hparams import UNSUP_POOL
from configs.unsup_pool import EXCLUDE_FOR_LLM, EXCLUDE_FOR_TRANSFER, POOL_SOURCES, PoolSource
from data_utils.artifacts.model_inputs import ModelInput
from data_utils.errors import FuteError
from data_utils.hub_read import HubRead, describe_error, read_split
from data_utils.io import emptiness, iter_jsonl_lines, write_jsonl
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


def load_pool(exclude: str, per_source: int, local_path: str | Path | None = None, processes: int = 1,
              allow_partial: bool = False) -> tuple[list[PoolExample], dict[str, Any]]:
    """(x', its `pool_record`) as a run reads it: `read_pool`, `check_pool_failures`, shuffled once (seed 42)."""
    examples, failed, total = read_pool(exclude, per_source, local_path, processes)
    check_pool_failures(failed, total, allow_partial)
    return shuffle_examples(examples, UNSUP_POOL["seed"]), pool_record(examples, failed)


def read_pool(exclude: str, per_source: int, local_path: str | Path | None = None,
              processes: int = 1) -> tuple[list[PoolExample], dict[str, str], int]:
    """(examples sorted by source, failed sources, sources read): the JSONL pool at `local_path`, else the hub's (in
    `processes` workers), minus the sources `exclude` leaves out, at most `per_source` of each (seeded sample)."""
    if local_path is None:
        names = pool_names(exclude)
        return (*load_hub_pool(names, per_source, UNSUP_POOL["seed"], processes), len(names))
    examples, failed = read_local_pool(local_path)
    kept = drop_excluded_sources(examples, exclude)
    if not kept:
        raise FuteError(f"every example of --unsup_data_path {local_path} comes from a source excluded for "
                        f"{exclude!r} (configs/unsup_pool.py); add examples of other sources")
    total = len({example.source for example in kept}) + len(failed)
    return sample_per_source(kept, per_source, UNSUP_POOL["seed"]), failed, total


def pool_record(examples: Sequence[PoolExample], failed: dict[str, str]) -> dict[str, Any]:
    """What a run's pool was made of: {"sources": {source: examples used}, "failed": {source: error}}."""
    counts: dict[str, int] = defaultdict(int)
    for example in examples:
        counts[example.source] += 1
    return {"sources": dict(sorted(counts.items())), "failed": dict(sorted(failed.items()))}


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
    return write_jsonl(path, ({"text": e.text, **({"text_pair": e.text_pair} if e.text_pair is not None else {}),
                               "source": e.source} for e in examples))


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
    """A new list in a seeded random order (the reference shuffled the pool with seed 42)."""
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
    seed: int = 42,
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
        raise FuteError("no pool dataset could be loaded (offline?); connect to the hub or build the pool from local JSONL files")
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


# ---------------------------------------------------------------------------
# x' for a task type
# ---------------------------------------------------------------------------

def build_inputs(
    examples: Sequence[PoolExample],
    task_type: str,
    cr_is_pair: bool = False,
    tokenizer: Any = None,
    max_length: int = 512,
) -> list[dict]:
    """x' records for `task_type`, one per example, in the given order.

    - cr, single-input target: {"text"}; for a pair, the *second* text (the reference
      took the last segment, e.g. the passage of a question/passage pair).
    - cr pair target, and qa: {"text", "text_pair"}; "" when the example has no pair.
    - sa: {"content"}; for a pair, the second text (as the reference).
    - nli: {"premise", "hypothesis"}; a single text is split as the reference did
      (`split_for_nli`).
    With a `tokenizer` (the surrogate's), sa/nli texts longer than the reference's
    budget are cut to it: sa max_length - 1 tokens; nli max_length - 2 tokens shared,
    each side cut to max(budget // 2, budget - shorter side). Texts within the budget
    are left untouched (the reference re-decoded every text, which silently dropped
    characters outside the tokenizer's vocabulary).
    """
    return [_build_one(example, task_type, cr_is_pair, tokenizer, max_length)[0] for example in examples]


def split_for_nli(text: str) -> tuple[str, str, int]:
    """Split one text into (premise, hypothesis, kind), the reference's rule.

    kind 1: the text contains "premise:" (any case). The hypothesis starts at
    "hypothesis:" (exact case) or, without it, at (index of "premise:" + 7 + len) // 2;
    if that point comes before "premise:", the text before "premise:" is the hypothesis
    and the rest the premise. kind 3: otherwise the text is cut at its middle
    *character* (len // 2), even inside a word. Both halves are stripped.
    """
    premise_at = text.lower().find("premise:")
    if premise_at == -1:
        middle = len(text) // 2
        return text[:middle].strip(), text[middle:].strip(), 3
    hypothesis_at = text.find("hypothesis:")
    if hypothesis_at == -1:
        hypothesis_at = (premise_at + len("premise") + len(text)) // 2
    if hypothesis_at > premise_at:
        return text[:hypothesis_at].strip(), text[hypothesis_at:].strip(), 1
    return text[premise_at:].strip(), text[:premise_at].strip(), 1


def _build_one(example: PoolExample, task_type: str, cr_is_pair: bool, tokenizer: Any, max_length: int) -> tuple[dict, int]:
    """(record, kind). kind ranks examples for the line cap as the reference did:
    nli 1 "premise:" split < 2 natural pair < 3 middle split; sa 1 single < 2 pair."""
    pair = example.text_pair
    if task_type == "cr" and not cr_is_pair:
        return {"text": pair or example.text}, 0
    if task_type in ("cr", "qa"):
        return {"text": example.text, "text_pair": pair or ""}, 0
    if task_type == "sa":
        content = _truncate(tokenizer, pair or example.text, max_length - 1)
        return {"content": content}, 2 if pair else 1
    if task_type == "nli":
        if pair:
            premise, hypothesis, kind = example.text, pair, 2
        else:
            premise, hypothesis, kind = split_for_nli(example.text)
        if tokenizer is not None:
            premise, hypothesis = _truncate_pair(tokenizer, premise, hypothesis, max_length - 2)
        return {"premise": premise, "hypothesis": hypothesis}, kind
    raise FuteError(f"unknown task type {task_type!r}; choose one of {', '.join(TASK_TYPES)}")


def _truncate(tokenizer: Any, text: str, budget: int) -> str:
    if tokenizer is None:
        return text
    ids = tokenizer.encode(text, add_special_tokens=False)
    return text if len(ids) <= budget else tokenizer.decode(ids[:budget], skip_special_tokens=True)


def _truncate_pair(tokenizer: Any, premise: str, hypothesis: str, budget: int) -> tuple[str, str]:
    p_ids = tokenizer.encode(premise, add_special_tokens=False)
    h_ids = tokenizer.encode(hypothesis, add_special_tokens=False)
    if len(p_ids) + len(h_ids) <= budget:
        return premise, hypothesis
    # The shorter side keeps all of itself when it fits in half the budget.
    per_side = max(budget // 2, budget - min(len(p_ids), len(h_ids)))
    return (
        tokenizer.decode(p_ids[:per_side], skip_special_tokens=True),
        tokenizer.decode(h_ids[:per_side], skip_special_tokens=True),
    )


def select_model_inputs(
    examples: Sequence[PoolExample],
    task_type: str,
    max_lines: int = UNSUP_POOL["max_llm_lines"],
    seed: int = 42,
    cr_is_pair: bool = False,
    tokenizer: Any = None,
    max_length: int = 512,
) -> list[ModelInput]:
    """The x' lines of `examples`, numbered 0..n-1 (data_utils.artifacts.model_inputs.write_model_inputs writes them).

    As the reference: the examples are written in the order given (the pool, shuffled
    once by the caller); when more than `max_lines` remain, they are ranked by kind
    (see `_build_one`; stable, so the given order decides within a kind), the first
    `max_lines` kept and shuffled with `seed`. Field names are the reference's
    ({"content"} for sa, {"premise", "hypothesis"} for nli).
    """
    if max_lines < 1:
        raise FuteError(f"max_lines must be >= 1, got {max_lines}")
    if not examples:
        raise FuteError("no pool examples to write x' from; check the pool source and exclusion list")
    built = [_build_one(e, task_type, cr_is_pair, tokenizer, max_length)
             for e in progress(examples, desc=f"{task_type} x'", unit="examples")]
    if len(built) > max_lines:
        built = sorted(built, key=lambda pair: pair[1])[:max_lines]
        random.Random(seed).shuffle(built)
    return [ModelInput(index, record) for index, (record, _) in enumerate(built)]
