"""Configs and plans that would exhaust the loader: alias bombs, cycles, deep nesting. One line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiw_otel.config_yaml import load_config_file
from aiw_otel.hand_edited import MAX_YAML_DEPTH
from aiw_otel.errors import ConfigError
from aiw_otel.runner.plan import PlanError
from aiw_otel.runner.plan_loader import load_plan
from tests.hostile.cli import aiw, one_line_error

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def _laughs(levels: int = 10) -> str:
    lines = ["version: 1", "filters:", "  f:", "    x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"    x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


CONFIGS = {
    "alias-bomb": (_laughs(), "more than 1000000 values once aliases are expanded", 10),
    "self-reference": ("version: 1\nfilters: &x\n  f: *x\n", "alias *x refers to a node that contains it", 3),
    "self-reference-list": ("telemetry: &a [*a]\n", "alias *a refers to a node that contains it", 1),
    "deep-flow": ("version: 1\nfilters: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than 64 levels", 2),
    "deep-block": ("version: 1\n" + "".join("  " * i + f"k{i}:\n" for i in range(200)),
                   "nested deeper than 64 levels", MAX_YAML_DEPTH + 2),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_a_config_that_would_exhaust_the_loader_is_one_line(tmp_path: Path, name: str) -> None:
    text, message, line = CONFIGS[name]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert (caught.value.line, message in str(caught.value)) == (line, True), str(caught.value)
    result = aiw("check", str(path))
    assert result.returncode == 2 and f"{path}:{line}:" in one_line_error(result)
    run = aiw("run", "--config", str(path), str(tmp_path / "missing.yaml"))
    assert run.returncode == 2 and "Traceback" not in run.stderr


PLANS = {
    "deep.yaml": "task_id: t\nplan: " + "[" * 5000 + "]" * 5000 + "\n",
    "bomb.yaml": _laughs().replace("version: 1", "task_id: t\nplan: []"),
    "cycle.yaml": "task_id: t\nplan: &p\n  - *p\n",
    "deep.json": '{"task_id": "t", "plan": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "deeper-than-yaml.json": '{"task_id": "t", "plan": ' + "[" * 900 + "]" * 900 + "}",
}


@pytest.mark.parametrize("name", PLANS)
def test_a_plan_that_would_exhaust_the_loader_is_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(PLANS[name])
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value).startswith(str(path))
    result = aiw("run", str(path), "--log-dir", str(tmp_path / "logs"))
    assert result.returncode == 2 and str(path) in one_line_error(result)


def test_moderate_aliases_and_nesting_still_load(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(_laughs(4) + "    g: " + "[" * 40 + "]" * 40 + "\n")
    assert load_config_file(path).logging_dict is not None
