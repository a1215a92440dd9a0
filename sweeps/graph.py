"""Steps and their dependencies.

A step is one command of an entry script with the files it writes (`outputs`) and the files it
reads (`inputs`). A step depends on the steps of the same graph that write one of its inputs, so
a transfer waits for its source's fine-tune only, an embedding for its checkpoint, a table for
every file it reads. A step is done when its outputs are finished, by the rule of
data_utils/artifacts/completion.py (their record, written last, is there), by its own command and
after what it reads; stale when they are finished but by another command or before an input changed,
or when a step it reads is stale (it is done again, so this one will read something new). A graph
run again skips what is done and redoes what is stale.
"""
from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from data_utils.artifacts.completion import DONE, OVERWRITE, STALE, Survey, marker, state


@dataclass(frozen=True)
class Step:
    """name: unique in its graph (also its log's name); stage: the group a SLURM job array holds;
    argv: the command, run from the repository root (the Python, the script, its arguments);
    outputs: what it writes; inputs: other steps' outputs it reads; sources: the user's files it reads (a
    dataset folder, the pool); selectors: the flags that choose which of its outputs the command writes (each
    output a run of its own); redo: what its command needs to replace finished outputs (its script refuses
    to without --overwrite; none for a script that writes anew every time); gpu: it runs a model (gets a GPU
    when there are)."""

    name: str
    stage: str
    argv: tuple[str, ...]
    outputs: tuple[Path, ...]
    inputs: tuple[Path, ...] = ()
    sources: tuple[Path, ...] = ()
    selectors: tuple[str, ...] = ()
    redo: tuple[str, ...] = OVERWRITE
    gpu: bool = True

    def command(self) -> str:
        """The command as one shell line, each word quoted only where the shell needs it."""
        return shlex.join(self.argv)

    def script_argv(self) -> list[str]:
        """The command as its records hold it: [script name, *arguments] (data_utils.io.run_record)."""
        return [Path(self.argv[1]).name, *self.argv[2:]]


class Graph:
    """Steps in the order they were added; `ordered` puts each after the steps it reads."""

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

    def ordered(self) -> Graph:
        """The steps, each after the steps that write what it reads, otherwise in the order they were added (a
        graph already in such an order is returned as it is): where a stage's steps are added does not decide
        when they run. ValueError for steps that read each other's outputs in a cycle."""
        placed: dict[str, Step] = {}

        def place(step: Step, reading: frozenset[str]) -> None:
            if step.name in reading:
                raise ValueError(f"steps read each other's outputs in a cycle: {', '.join(sorted(reading))}")
            if step.name not in placed:
                for producer in self.producers(step):
                    place(producer, reading | {step.name})
                placed[step.name] = step

        for step in self.steps:
            place(step, frozenset())
        return Graph(placed.values())

    def producers(self, step: Step) -> list[Step]:
        """The steps of this graph that write one of `step`'s inputs, in graph order, each once."""
        found = {self._by_output[path].name: self._by_output[path] for path in step.inputs if path in self._by_output}
        return [s for s in self.steps if s.name in found]

    def states(self, survey: Survey | None = None) -> dict[str, tuple[str, str]]:
        """Step name -> (done, stale or pending, why), in graph order (data_utils.artifacts.completion.state);
        a step that wrote something and reads the output of a stale step is stale too."""
        survey = survey or Survey()
        states: dict[str, tuple[str, str]] = {}
        for step in self.steps:
            states[step.name] = state(step.outputs, step.script_argv(), step.inputs, step.sources, step.selectors,
                                      survey)
            redone = next((p for p in self.producers(step) if states[p.name][0] == STALE), None)
            if redone is not None and states[step.name][0] != STALE and any(marker(o).exists() for o in step.outputs):
                states[step.name] = (STALE, f"it reads the output of {redone.name}, which is done again")
        return states

    def pending(self, states: dict[str, tuple[str, str]] | None = None) -> list[Step]:
        """The steps not done (pending or stale), in graph order."""
        states = states or self.states()
        return [step for step in self.steps if states[step.name][0] != DONE]

    def to_run(self, states: dict[str, tuple[str, str]]) -> list[Step]:
        """The steps not done as they are to run: a stale one with its redo flags (e.g. --overwrite True), which its
        script needs to replace finished outputs; a pending one as it is."""
        return [dataclasses.replace(step, argv=(*step.argv, *step.redo)) if states[step.name][0] == STALE else step
                for step in self.pending(states)]

    def pending_dependencies(self, step: Step, pending: Sequence[Step]) -> list[Step]:
        """What `step` waits for: its producers that are still pending."""
        names = {s.name for s in pending}
        return [s for s in self.producers(step) if s.name in names]
