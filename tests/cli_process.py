"""The aiw-otel command as a user runs it: a real process started from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The checkout: the commands run from here, and the tests read its examples, README and deploy files.
ROOT = Path(__file__).resolve().parent.parent
#: The command line of `aiw-otel` in this interpreter, for `subprocess.Popen([*AIW, ...])`.
AIW = (sys.executable, "-m", "aiw_otel.cli")


def aiw(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`aiw-otel *args` to the end, its output captured as text. `env` is the child's whole environment
    (default: this one's); COLUMNS is always 120, so what it prints does not depend on the terminal."""
    environ = {**(os.environ if env is None else env), "COLUMNS": "120"}
    return subprocess.run([*AIW, *args], capture_output=True, text=True, cwd=cwd, env=environ, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def run_demo(directory: Path, *options: str, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`aiw-otel demo --no-console` as a real process: its log directory `directory/logs`, its workspace
    `directory/ws`; `options` go after those, `env` as for `aiw`."""
    return aiw("demo", "--no-console", "--log-dir", str(directory / "logs"), "--workspace", str(directory / "ws"),
               *options, env=env, timeout=timeout)
