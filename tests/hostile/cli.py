"""The aiw-otel command as a real process, with a deadline that only guards against a hang."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli_process import ROOT
from tests.cli_process import aiw as run_aiw

#: Not a measurement: a command that hangs fails the test instead of the whole suite.
HANG_GUARD_S = 60

__all__ = ["HANG_GUARD_S", "ROOT", "aiw", "one_line_error"]


def aiw(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_aiw(*args, cwd=cwd, env=env, timeout=HANG_GUARD_S)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a refused command printed: one line, no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]
