"""The README is part of the product: its examples must run and its commands must be the real ones."""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiw_otel.cli import build_parser
from tests.cli_process import ROOT, aiw
from tests.otlp_files import spans_in

README = (ROOT / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(index, tmp_path):
    script = tmp_path / f"example_{index}.py"
    script.write_text(EXAMPLES[index])
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # they run in a checkout, their files in ./logs
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    printed = result.stdout.splitlines()
    for claim in printed_claims(EXAMPLES[index]):
        assert any(line.startswith(claim) for line in printed), (claim, printed)


def printed_claims(example: str) -> list[str]:
    """What the example's comments say its prints show (`print(x)  # shown`), so a reader who trusts the
    comment is not misled; a trailing `(...)` stands for the rest of the line."""
    return [line.split("#", 1)[1].strip().removesuffix("(...)").rstrip()
            for line in example.splitlines() if line.lstrip().startswith("print(") and "#" in line]


def test_the_examples_say_what_they_print():
    assert len([claim for example in EXAMPLES for claim in printed_claims(example)]) >= 4


@pytest.mark.slow
def test_the_readme_actions_run(tmp_path):
    (actions,) = [block for block in re.findall(r"```yaml\n(.*?)```", README, re.S) if block.startswith("actions:")]
    plan = tmp_path / "plan.yaml"
    plan.write_text("task_id: t\nplan:\n  - step_id: s\n    description: d\n    agent_spec: {type: validation}\n"
                    + textwrap.indent(actions, "    "))
    logs = tmp_path / "logs"
    result = aiw("run", str(plan), "--workspace", str(tmp_path / "ws"), "--log-dir", str(logs))
    assert result.returncode == 0, result.stdout + result.stderr
    names = [span["name"] for span in spans_in(logs)]
    assert names[:4] == ["file create", "python", "file read", "file delete"], names
    assert list((tmp_path / "ws").iterdir()) == [tmp_path / "ws" / "__pycache__"]  # greet.py compiled, then deleted


def command_options() -> dict[str, set[str]]:
    """Each `aiw-otel` subcommand -> the options its parser takes."""
    (subcommands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: {o for a in parser._actions for o in a.option_strings} for name, parser in subcommands.choices.items()}


def test_every_option_of_every_command_is_in_the_readme():
    missing = [(name, option) for name, options in command_options().items() for option in sorted(options)
               if option.startswith("--") and option != "--help" and f"`{option}" not in README and f" {option}" not in README]
    assert missing == []


def test_the_readme_commands_use_only_options_the_command_takes():
    options = command_options()
    used = [(m.group(1), option, line) for block in re.findall(r"```sh\n(.*?)```", README, re.S)
            for line in block.splitlines() for m in [re.search(r"aiw-otel (\w+)([^#]*)", line)] if m
            for option in re.findall(r"(?<!\S)(--?[a-z][\w-]*)", m.group(2))]
    assert len(used) >= 20
    assert [u for u in used if u[1] not in options[u[0]]] == []


def test_ci_runs_exactly_the_readme_test_command():
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
    assert any("aiw-otel demo" in c for c in commands)


def test_the_console_picture_shows_a_real_run_and_no_path_of_the_machine_it_was_made_on():
    """docs/console.svg is drawn from a real demo run (examples/console_screenshot.py): the failing
    command's real message, with the interpreter reached through a neutral path, not a checkout's."""
    text = html.unescape(re.sub(r"<[^>]+>", "", (ROOT / "docs" / "console.svg").read_text())).replace("\xa0", " ")
    assert "/tmp/aiw-shot/bin/python: No module named twine" in text
    for private in (str(ROOT), str(Path.home()), "/work/", "/home/", "/Users/", ".venv", "site-packages"):
        assert private not in text, private
