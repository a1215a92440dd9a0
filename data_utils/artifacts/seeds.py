"""Seeds of the artifacts the tables read: each record names its run's seed; the tables evaluate each seed on its own.

A table command's folder flag takes one folder or several, comma-separated (one per seed, or any split):
`folders` reads it. `group_by_seed` sorts what was read by the seed each record names; a record without one
(written before seeds were recorded) reads as `DEFAULT_SEED`, every entry script's --seed default.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from configs.hparams import DEFAULT_SEED
from data_utils.errors import FuteError

# The end of every such flag's help.
SEEDS_HELP = ("; one folder or several, comma-separated (e.g. one per seed): what is read is grouped by the seed each "
              "record names")
T = TypeVar("T")


def seed_or_default(seed: int | None) -> int:
    """A record's seed; DEFAULT_SEED for one that names none."""
    return DEFAULT_SEED if seed is None else int(seed)


def folders(spec: str, flag: str) -> list[str]:
    """The folders of a comma-separated folder flag (a single folder is a list of one)."""
    found = [part.strip() for part in str(spec).split(",") if part.strip()]
    if not found:
        raise FuteError(f"{flag} names no folder; give one folder or several, comma-separated")
    return found


def group_by_seed(items: Iterable[T], seed_of: Callable[[T], int | None]) -> dict[int, list[T]]:
    """seed -> the items of that seed (in their order), seeds ascending."""
    grouped: dict[int, list[T]] = {}
    for item in items:
        grouped.setdefault(seed_or_default(seed_of(item)), []).append(item)
    return dict(sorted(grouped.items()))


def check_same_seeds(seeds: dict[str, Iterable[int]]) -> list[int]:
    """The seeds every kind of artifact has (what -> its seeds); a seed some kinds lack is an error naming them."""
    found = {what: set(s) for what, s in seeds.items()}
    every = sorted(set().union(*found.values()))
    lacking = [f"{what} of seed(s) {', '.join(map(str, sorted(set(every) - s)))}" for what, s in found.items()
               if set(every) - s]
    if lacking:
        raise FuteError(f"the folders hold seeds {', '.join(map(str, every))}, but no {'; no '.join(lacking)}; run "
                        f"those seeds' steps, or leave the other seeds' folders out")
    return every
