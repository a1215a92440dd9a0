"""Steps and their dependencies.

A step is one command of an entry script with the files it writes (`outputs`) and the files it
reads (`inputs`). A step depends on the steps of the same graph that write one of its inputs, so
a transfer waits for its source's fine-tune only, an embedding for its checkpoint, a table for
every file it reads. A step is done when its `done` check says so: its outputs are finished, by
the rule of data_utils/artifacts/completion.py (their record, written last, is there); a graph
run again skips what is done.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Step:
    """name: unique in its graph (also its log's name); stage: the group a SLURM job array holds;
    argv: the command, run from the repository root; done: the check that its outputs are finished
    (data_utils.artifacts.completion); gpu: it runs a model (gets a GPU when there are)."""

    name: str
    stage: str
    argv: tuple[str, ...]
    outputs: tuple[Path, ...]
    done: Callable[[], bool] = field(compare=False, repr=False)
    inputs: tuple[Path, ...] = ()
    gpu: bool = True

    def command(self) -> str:
        """The command as one shell line, each word quoted only where the shell needs it."""
        return shlex.join(self.argv)


class Graph:
    """Steps in the order they were added (an order in which each step comes after what it reads)."""

    def __init__(self, steps: Sequence[Step] = ()):
        self.steps: list[Step] = []
        self._by_output: dict[Path, Step] = {}
        for step in steps:
            self.add(step)

    def add(self, step: Step) -> Step:
        if any(s.name == step.name for s in self.steps):
            raise ValueError(f"two steps named {step.name}")
        self.steps.append(step)
        for output in step.outputs:
            self._by_output[output] = step
        return step

    def producers(self, step: Step) -> list[Step]:
        """The steps of this graph that write one of `step`'s inputs, in graph order, each once."""
        found = {self._by_output[path].name: self._by_output[path] for path in step.inputs if path in self._by_output}
        return [s for s in self.steps if s.name in found]

    def pending(self) -> list[Step]:
        """The steps not done, in graph order."""
        return [step for step in self.steps if not step.done()]

    def pending_dependencies(self, step: Step, pending: Sequence[Step]) -> list[Step]:
        """What `step` waits for: its producers that are still pending."""
        names = {s.name for s in pending}
        return [s for s in self.producers(step) if s.name in names]
