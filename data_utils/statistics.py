"""Means with bootstrap intervals, and paired comparisons of two methods, over targets and seeds.

A table's number is a mean over targets (a target of the transfer table, an MTE of the unified space, an (LLM,
dataset) of the prompt table), each evaluated under one or several seeds. A `Sample` maps (target, seed) to the
per-target value (None where the metric is undefined for it; left out and counted in n).

- Estimate: the mean over targets of each target's mean over its seeds, with a 95% percentile bootstrap interval
  from scipy.stats.bootstrap (method="percentile", `RESAMPLES` resamples, seeded with `RNG_SEED`: the same input
  gives the same bounds). The resampled unit is the target: a target's seeds stay together (a cluster bootstrap
  of the top level of two-level data, Davison & Hinkley 1997, "Bootstrap Methods and their Application", sec.
  3.8; the seed-to-seed spread enters through the spread of the targets' means). No interval with fewer than 2
  targets.
- Paired difference of methods a and b over the (target, seed) pairs both have: the Estimate of a - b, and a
  two-sided sign-flip permutation p-value of the targets' mean differences (scipy.stats.permutation_test with one
  sample and permutation_type="samples", which flips the sign of each observation independently: under the null
  hypothesis that the two methods are exchangeable on each target, each difference is as likely negated). It is
  exact (every 2^n sign pattern) up to n = 13 targets and a seeded Monte Carlo estimate above.

docs/statistics.md describes both, and why the percentile interval.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

Sample = Mapping[tuple[str, int], float | None]  # (target, seed) -> value

CONFIDENCE = 0.95
RESAMPLES = 9999
RNG_SEED = 0  # passed as random_state, the name scipy 1.11 (our oldest) knows; scipy >= 1.15 also calls it rng


@dataclass(frozen=True)
class Estimate:
    """A mean over `targets` targets (each the mean of its `seeds` seeds at most) and its 95% bootstrap interval
    [low, high] (None with fewer than two targets; mean None with none)."""

    mean: float | None
    low: float | None
    high: float | None
    targets: int
    seeds: int

    def cell(self, scale: float = 1.0, digits: int = 1) -> str:
        """`mean ± half-width` of the interval, times `scale` ("83.8 ± 1.2"); the mean alone without an interval,
        "-" without a mean. The bounds themselves are in the CSV and JSON (a percentile interval can be skewed)."""
        if self.mean is None:
            return "-"
        if self.low is None:
            return f"{scale * self.mean:.{digits}f}"
        return f"{scale * self.mean:.{digits}f} ± {scale * (self.high - self.low) / 2:.{digits}f}"

    def to_json(self) -> dict:
        return asdict(self)

    # A CSV column per field: <name> (the mean), <name>_low, <name>_high, <name>_targets, <name>_seeds.
    SUFFIXES = (("", "mean"), ("_low", "low"), ("_high", "high"), ("_targets", "targets"), ("_seeds", "seeds"))

    @staticmethod
    def columns(name: str) -> list[str]:
        """The CSV columns of an Estimate written under `name` (`flat`)."""
        return [f"{name}{suffix}" for suffix, _ in Estimate.SUFFIXES]

    def flat(self, name: str) -> dict:
        """This Estimate as CSV cells, keyed by `columns(name)`."""
        return {f"{name}{suffix}": getattr(self, part) for suffix, part in Estimate.SUFFIXES}


def target_means(sample: Sample) -> dict[str, float]:
    """target -> mean of its defined values over seeds (targets with none left out)."""
    by_target: dict[str, list[float]] = {}
    for (target, _), value in sample.items():
        if value is not None:
            by_target.setdefault(target, []).append(float(value))
    return {target: float(np.mean(values)) for target, values in sorted(by_target.items())}


def _seeds(sample: Sample) -> int:
    return len({seed for (_, seed), value in sample.items() if value is not None})


def mean_interval(values: np.ndarray) -> tuple[float | None, float | None]:
    """The 95% percentile bootstrap interval of the mean of `values` [n] (scipy.stats.bootstrap, seeded)."""
    from scipy import stats

    if len(values) < 2:
        return None, None
    if np.ptp(values) == 0:  # every resample has the same mean
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES,
                             method="percentile", random_state=np.random.default_rng(RNG_SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def estimate(sample: Sample) -> Estimate:
    """The mean over targets of their seed means, with its interval (module docstring)."""
    means = np.array(list(target_means(sample).values()))
    if not len(means):
        return Estimate(None, None, None, 0, 0)
    return Estimate(float(np.mean(means)), *mean_interval(means), len(means), _seeds(sample))


def sign_flip_p_value(differences: np.ndarray) -> float | None:
    """Two-sided p-value of mean(differences) under independent sign flips (scipy.stats.permutation_test, exact up
    to 2^13 patterns); None without differences, 1 with one difference or when every difference is 0."""
    from scipy import stats

    if not len(differences):
        return None
    if len(differences) < 2 or not np.any(differences):  # d and -d are as far from 0: every pattern is as extreme
        return 1.0
    result = stats.permutation_test((differences,), lambda x, axis: np.mean(x, axis=axis), vectorized=True,
                                    permutation_type="samples", alternative="two-sided", n_resamples=RESAMPLES,
                                    random_state=np.random.default_rng(RNG_SEED))
    return float(result.pvalue)


@dataclass(frozen=True)
class Paired:
    """Method a minus method b on the (target, seed) pairs both have: the difference's Estimate and p-value."""

    difference: Estimate
    p_value: float | None

    def to_json(self) -> dict:
        return {**self.difference.to_json(), "p_value": self.p_value}


def paired(a: Sample, b: Sample) -> Paired:
    """a - b over the (target, seed) pairs where both are defined; the p-value flips the targets' mean differences."""
    shared = {key: a[key] - b[key] for key in a.keys() & b.keys() if a[key] is not None and b[key] is not None}
    difference = estimate(shared)
    return Paired(difference, sign_flip_p_value(np.array(list(target_means(shared).values()))))
