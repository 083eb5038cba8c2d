"""Plan and model text cannot steer the terminal or forge log lines (issue 9, "Terminal safety").

A plan whose description and command carry an OSC title change, a clear-screen and a newline
followed by a fake log line is run with `--no-console`; its plain output, the text log and
`aiw-otel logs` (plain and --no-color) must hold no control character but TAB and line ends, and
every line of the text log must be one of ours.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from aiw_otel.terminal_text import NEWLINE_MARK, one_line, safe_line, safe_lines
from tests.cli_process import aiw

HOSTILE = "\x1b]0;pwned\x07\x1b[2J"
FORGED = "2099-01-01T00:00:00.000Z - ERROR    - [runner:-] - FORGED"
#: Any control character but TAB and LF (CR neither: no output here should carry one).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("text, expected", [
    ("plain text\twith a tab", "plain text\twith a tab"),
    ("title\x1b]0;pwned\x07 clear\x1b[2J done", "title clear done"),
    ("osc-st\x1b]8;;http://x\x1b\\link", "osc-stlink"),
    ("one\ntwo\r\nthree\rfour", f"one{NEWLINE_MARK}two{NEWLINE_MARK}three{NEWLINE_MARK}four"),
    ("nul\x00 bel\x07 del\x7f c1-csi\x9b2J lone-esc\x1b", "nul\ufffd bel\ufffd del\ufffd c1-csi\ufffd2J lone-esc\ufffd"),
    ("sep\u2028para\u2029", f"sep{NEWLINE_MARK}para{NEWLINE_MARK}"),
])
def test_safe_line_neutralises_every_control(text: str, expected: str) -> None:
    assert safe_line(text) == expected


def test_safe_line_returns_clean_text_unchanged() -> None:
    text = "2024-01-01T00:00:00.000Z - INFO - [runner:-] - ünïcödé ✓ ⏎"
    assert safe_line(text) is text


def test_one_line_flattens_for_the_console_and_safe_lines_keeps_lf() -> None:
    assert one_line("a\tb\nc\x1b[31md\x07") == "a b cd "
    assert safe_lines("a\x1b[2J\nb\x07") == "a\nb\ufffd"


def _hostile_plan(tmp_path: Path) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(textwrap.dedent(r"""
        task_id: "hostile\x1b]0;pwned\x07"
        natural_language_goal: "clear\x1b[2J the screen"
        plan:
          - step_id: s1
            description: "desc\x1b]0;pwned\x07\x1b[2J\n2099-01-01T00:00:00.000Z - ERROR    - [runner:-] - FORGED"
            agent_spec: {type: validation}
            actions:
              - run: "printf 'out\\033]0;pwned\\007\\033[2J\\n'\n: 2099-01-01T00:00:00.000Z - ERROR    - [runner:-] - FORGED"
    """).lstrip())
    return plan


def _assert_safe(where: str, text: str) -> None:
    assert not _CONTROL.search(text), f"{where}: control character in {text!r}"
    for line in text.splitlines():
        assert not line.startswith("2099-") and not line.lstrip(": ").startswith("2099-"), f"{where}: forged line {line!r}"


@pytest.mark.slow
def test_a_hostile_plan_reaches_no_terminal_and_forges_no_line(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = aiw("run", str(_hostile_plan(tmp_path)), "--no-console", "--workspace", str(tmp_path / "ws"),
                 "--log-dir", str(logs), cwd=tmp_path)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "pwned" in result.stdout  # the text is shown, only its control characters are not
    _assert_safe("run stdout", result.stdout)
    _assert_safe("run stderr", result.stderr)
    text_log = (logs / "aiwhisperer_runner.log").read_text()
    assert "FORGED" in text_log and NEWLINE_MARK in text_log
    _assert_safe("text log", text_log)
    for line in text_log.splitlines():
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z - ", line) and not line.startswith("2099-"), line
    for options in ((), ("--no-color",)):
        shown = aiw("logs", str(logs), *options, "--lines", "0", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "pwned" in shown.stdout
        _assert_safe(f"logs {options}", shown.stdout)


@pytest.mark.slow
def test_follow_lines_are_safe(tmp_path: Path) -> None:
    import threading

    from aiw_otel.readback.follow import follow, plain_line

    logs = tmp_path / "logs"
    aiw("run", str(_hostile_plan(tmp_path)), "--no-console", "--workspace", str(tmp_path / "ws"),
        "--log-dir", str(logs), cwd=tmp_path)
    stop = threading.Event()
    stop.set()  # one poll: everything written so far
    lines: list[str] = []
    follow([logs], lambda record: lines.append(plain_line(record)), stop=stop)
    assert any("pwned" in line for line in lines)
    for line in lines:
        _assert_safe("follow", line)
