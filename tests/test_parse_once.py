"""A hand-edited file is parsed once: its bounds are checked on the parser's events as the document
is built (not in a pass of their own), and `aiw-otel check` hands what it parsed to the checker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from aiw_otel.cli import main
from aiw_otel.config_yaml import load_config_file
from aiw_otel.errors import ConfigError
from aiw_otel.runner.plan_loader import load_plan

PLAN = textwrap.dedent("""
    task_id: once
    plan:
      - step_id: a
        description: write
        agent_spec: {type: t}
        actions: [{write: a.txt, content: x}]
""")
CONFIG = "telemetry:\n  service_name: once\n"


@pytest.fixture
def yaml_passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per YAML reader made: a pass over some text."""
    made: list[str] = []
    original = yaml.reader.Reader.__init__

    def counting(self: yaml.reader.Reader, stream: object) -> None:
        made.append(str(stream)[:20])
        original(self, stream)

    monkeypatch.setattr(yaml.reader.Reader, "__init__", counting)
    return made


@pytest.mark.parametrize("name, text", [("plan.yaml", PLAN), ("config.yaml", CONFIG)])
def test_check_parses_a_yaml_file_once(tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_passes: list[str],
                                      name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert main(["check", str(path)]) == 0
    assert f"{path}: OK" in capsys.readouterr().out
    assert len(yaml_passes) == 1


def test_loading_a_plan_or_a_config_parses_it_once(tmp_path: Path, yaml_passes: list[str]) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "config.yaml").write_text(CONFIG)
    load_plan(tmp_path / "plan.yaml")
    load_config_file(tmp_path / "config.yaml")
    assert len(yaml_passes) == 2


def test_the_bounds_are_still_checked_with_the_line(tmp_path: Path, yaml_passes: list[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("telemetry:\n  service_name: &a [*a]\n")
    with pytest.raises(ConfigError, match=r"config.yaml:2: alias \*a refers to a node that contains it"):
        load_config_file(path)
    assert len(yaml_passes) == 1
