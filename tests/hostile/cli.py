"""The aiw-otel command as a real process, with a deadline that only guards against a hang."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Not a measurement: a command that hangs fails the test instead of the whole suite.
HANG_GUARD_S = 60


def aiw(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
        stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiw_otel.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=HANG_GUARD_S, env=env, stdin=stdin)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error a refused command printed: one line, no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]
