"""Every command the README shows is accepted by its script's own parser: an example that drifts from the flags
(a renamed flag, a removed choice) fails here, not in a user's shell."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli import load, parse

REPO = Path(__file__).resolve().parents[1]
SHELL_VALUES = {"method": "prefix"}


def readme_commands() -> list[list[str]]:
    """`python <script> ...` lines of README.md's bash blocks, continuation lines joined; a `$(...)` substitution
    becomes a placeholder file list, a shell variable a value it takes (the loop's `$method`: prefix)."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\$\([^)]*\)", "a_p0.json,a_p1.json", line.split(" #")[0]).strip()
            line = re.sub(r"\$(\w+)", lambda m: SHELL_VALUES.get(m.group(1), "model"), line)
            if line.startswith("python ") and line.split()[1].endswith(".py"):
                commands.append(shlex.split(line)[1:])
    return commands


def test_the_readme_shows_an_example_of_every_script():
    shown = {command[0] for command in readme_commands()}
    scripts = {path.name for path in REPO.glob("run_*.py")} | {f"scripts/{p.name}" for p in (REPO / "scripts").glob("*.py")}
    assert scripts <= shown, sorted(scripts - shown)


@pytest.mark.parametrize("command", readme_commands(), ids=lambda command: " ".join(command)[:60])
def test_every_readme_command_parses(command, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no output of a parser's checks lands in the repository
    # The demo's parser fills in its two real models from their PyPI packages, which `make setup-min` leaves out.
    monkeypatch.setattr("sweeps.demo.package_path", lambda package, *parts: "/".join((package, *parts)))
    parse(load(command[0]), command[1:])
