"""A full disk under the log directory: the run goes on, stderr gets one aiw-otel report at the end
saying what was lost, no SDK traceback, and each file's only damage is a torn line; once space is
freed the rest of the run lands, and a backup that could not be compressed stays plain.

Real runs on a real full filesystem: a 200 KB tmpfs (needs root; skipped otherwise), filled up to
the last few KB.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from aiw_otel.config import FileSinkConfig, QueueConfig
from aiw_otel.exporters.file_sink import FileSink
from aiw_otel.exporters.rotating_file import RotatingFile, WriteFailed
from aiw_otel.health import TelemetryHealth
from aiw_otel.logdir import SIGNAL_FILES, TEXT_LOG, compressing
from tests.cli_process import aiw, run_demo
from tests.otlp_files import items_in

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
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)  # lazy: a failed test may hold files open


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


def fill(disk: Path, leave: int) -> Path:
    """A file taking all of `disk` but `leave` bytes; deleting it frees the space."""
    free = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * max(0, free.f_bavail * free.f_frsize - leave))
    return filler


def emit(processor, bodies: list[str]) -> None:
    """One batch: the records, then a flush that writes them (or fails to) before returning."""
    scope = InstrumentationScope("disk")
    for body in bodies:  # WARN: written to the text log too
        record = LogRecord(body=body, severity_number=SeverityNumber.WARN)
        processor.on_emit(ReadWriteLogRecord(record, Resource.create({}), scope))
    assert processor.force_flush(5000)


def complete_lines(path: Path) -> tuple[list[bytes], list[bytes]]:
    """(lines that are JSON, lines that are not) of a file whose every line ends with a newline."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "a torn line is ended by the next write"
    good, bad = [], []
    for line in data.split(b"\n")[:-1]:
        try:
            json.loads(line)
            good.append(line)
        except ValueError:
            bad.append(line)
    return good, bad


def test_space_freed_mid_run_lets_the_rest_of_the_run_land_and_only_the_lost_are_counted(small_disk):
    filler = fill(small_disk, 24 * 1024)
    directory = small_disk / "logs"
    health = TelemetryHealth()
    config = FileSinkConfig(directory=str(directory), signals=frozenset({"logs"}))
    built = FileSink(config).build(health, QueueConfig())
    processor = built.log_processor
    padding = "x" * 300
    before: list[str] = []
    batch = 0
    while failed_batches(health) < 3:  # full for a while: each batch tries once, and is lost
        assert batch < 400, "the disk never filled"
        bodies = [f"before {batch} {n} {padding}" for n in range(10)]
        emit(processor, bodies)
        before += bodies
        batch += 1
    filler.unlink()  # a user deletes old logs: the next batch lands again
    after = [f"after {b} {n} {padding}" for b in range(5) for n in range(10)]
    for start in range(0, len(after), 10):
        emit(processor, after[start:start + 10])
    processor.shutdown()

    good, bad = complete_lines(directory / SIGNAL_FILES["logs"])
    assert len(bad) <= 1  # the line being written when the disk filled, ended by the next write
    written = [r["body"]["stringValue"] for r in items_in([line.decode() for line in good], "logs")]
    assert written[-len(after):] == after
    lost = health.snapshot().lost
    assert lost[("file", "logs")] == len(before) + len(after) - len(written) > 0
    text_lines = (directory / TEXT_LOG).read_bytes().split(b"\n")
    assert text_lines.pop() == b""  # every line ended, the torn one too
    text_good = [line for line in text_lines if any(line.endswith(body.encode()) for body in before + after)]
    assert len(text_lines) - len(text_good) <= 1
    assert all(line.endswith(body.encode()) for line, body in zip(text_good[-len(after):], after, strict=True))
    assert lost[("file", "text")] == len(before) + len(after) - len(text_good)
    (report,) = health.undelivered_summary()
    assert report.startswith(f"sink 'file' did not receive {lost[('file', 'logs')]} log records, "
                             f"{lost[('file', 'text')]} text log lines (cannot write {directory}/"), report
    assert report.endswith(": No space left on device)"), report

    shown = aiw("logs", str(directory))
    assert shown.returncode == 0, shown.stderr
    assert after[-1][:12] in shown.stdout  # the newest lines are shown (the earlier ones summed up)
    assert len(shown.stderr.splitlines()) <= 1  # at most the torn line, as one warning


def failed_batches(health: TelemetryHealth) -> int:
    return health.snapshot().failures.get(("file", "logs"), 0)


def test_a_backup_that_cannot_be_compressed_stays_plain_and_readable(small_disk):
    directory = small_disk / "logs"
    config = FileSinkConfig(directory=str(directory), signals=frozenset({"logs"}), text_log=False,
                            max_bytes=44 * 1024, backup_count=3)
    health = TelemetryHealth()
    built = FileSink(config).build(health, QueueConfig())
    processor = built.log_processor
    noise = [base64.b64encode(os.urandom(3000)).decode() for _ in range(10)]  # compresses to 3/4 at best
    emit(processor, [f"first {n} {text}" for n, text in enumerate(noise)])  # 40 KB: no rotation yet
    fill(small_disk, 16 * 1024)  # room for the next batch's live file, not for a 30 KB archive
    emit(processor, ["second 0 " + noise[0]])  # the live file rotates first: compressing it fails
    processor.shutdown()  # waits for the compression

    base = SIGNAL_FILES["logs"]
    backup = directory / f"{base}.1"
    assert health.snapshot().lost == {}
    assert backup.exists()  # the plain backup is kept
    assert not list(directory.glob("*.gz")) and list(compressing(directory, base)) == []  # and nothing half-made
    shown = aiw("logs", str(backup))
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert f"first {len(noise) - 1} " in shown.stdout  # the newest (the earlier ones summed up)
    bodies = [r["body"]["stringValue"] for r in items_in(backup.read_text().splitlines(), "logs")]
    assert bodies == [f"first {n} {text}" for n, text in enumerate(noise)]


def test_a_file_whose_writes_failed_takes_the_next_batch_once_it_can(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    path = tmp_path / SIGNAL_FILES["traces"]
    path.symlink_to("/dev/full")  # every write fails with ENOSPC
    file = RotatingFile(path, max_bytes=1 << 20, backup_count=1)
    for _ in range(2):  # each batch tries once, and fails alone
        with pytest.raises(WriteFailed) as failed:
            file.write_lines(['{"a":1}', '{"b":2}'])
        assert failed.value.errno == errno.ENOSPC and failed.value.lines_written == 0
    path.unlink()  # space is back: the path names a file that can be written again
    assert file.write_lines(['{"c":3}']) == len('{"c":3}\n')
    file.close()
    assert path.read_text() == '{"c":3}\n'
