"""A full disk under the log directory: the run goes on, stderr gets one aiw-otel report at the end
saying what was lost, no SDK traceback, and each file's only damage is a torn last line.

A real run on a real full filesystem: a 200 KB tmpfs (needs root; skipped otherwise), filled up to
the last few KB before the run starts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_process import run_demo

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_a_full_disk_costs_one_report_and_at_most_a_torn_last_line(small_disk, tmp_path):
    free = os.statvfs(small_disk)
    (small_disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 24 * 1024))
    result = run_demo(tmp_path, "--log-dir", str(small_disk / "logs"))
    assert result.returncode == 0, result.stderr  # the demo's plan ran to its end
    assert "aiw-otel: plan 'greet-release' Failed" in result.stdout
    assert "Traceback" not in result.stderr
    (report,) = result.stderr.splitlines()
    assert report.startswith("aiw-otel: WARNING: sink 'file' did not receive ") and report.endswith(
        ": No space left on device)"), report
    files = sorted((small_disk / "logs").iterdir())
    assert {f.name for f in files} >= {"traces.otlp.jsonl", "logs.otlp.jsonl", "metrics.otlp.jsonl"}
    for path in files:
        data = path.read_bytes()
        whole, _, torn = data.rpartition(b"\n")
        for line in whole.split(b"\n") if whole else []:
            if path.suffix == ".jsonl":
                json.loads(line)  # every line but a torn last one is whole
        if torn and path.suffix == ".jsonl":
            with pytest.raises(ValueError):
                json.loads(torn)
