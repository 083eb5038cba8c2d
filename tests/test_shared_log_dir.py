"""Several runner processes writing one log directory: no line lost, split, duplicated or clobbered.

Real processes on real files, each file rotating every few kilobytes and its backups compressed
while the others keep writing; read back with `aiw-otel logs`' own reader (gzip backups included).
"""

from __future__ import annotations

import collections
import fcntl
import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiw_otel.exporters.rotating_file import RotatingFile
from aiw_otel.exporters.stream_lock import StreamLock
from aiw_otel.logdir import SIGNAL_FILES, TEXT_LOG, compressing, files_oldest_first
from aiw_otel.readback.files import find_files, json_lines
from tests.cli_process import AIW, ROOT, aiw
from tests.otlp_files import items
from tests.processes import until

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import aiw_otel
    from aiw_otel import LogLevel
    from aiw_otel.config import FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig

    directory, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    config = TelemetryConfig(queue=QueueConfig(max_size=1 << 20, batch_size=64, schedule_delay_ms=5),
                             sinks=SinksConfig(file=FileSinkConfig(directory=directory, max_bytes=16384,
                                                                   backup_count=10_000, flush_interval_ms=5)))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False, stdlib_bridge=False)
    print("ready", flush=True)
    while not go.exists():  # all writers start together, so their writes and rotations interleave
        time.sleep(0.005)
    with telemetry.plan_run(f"plan-{name}", f"writer {name}") as run:
        with run.step("s1", "analysis") as step:
            for index in range(count):
                step.log(LogLevel.INFO, "record", f"{name}-{index}")
                if index % 25 == 0:
                    with step.tool_call("read_file", call_id=f"{name}-{index}"):
                        pass
    assert telemetry.shutdown(), "the pipeline did not flush in time"
    lost = telemetry.health.snapshot().total_dropped
    print(f"dropped {lost}", flush=True)
""")


def start_writers(tmp_path: Path, directory: Path, names: str, count: int) -> list[subprocess.Popen[str]]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, str(script), str(directory), name, str(count), str(go)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True) for name in names]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    go.touch()
    return writers


def every_item(directory: Path, signal_name: str) -> list[dict]:
    """Every span, log record or metric in the directory's files and backups, through readback's
    reader; a line it cannot take (torn, not JSON) fails the test."""
    warnings: list[str] = []
    found = []
    for file in find_files([directory], [signal_name]):
        for _, document in json_lines(file, warnings.append):
            found.extend(items(document, signal_name))
    assert warnings == []
    return found


def assert_backups_intact(directory: Path) -> None:
    """Backups numbered 1..N without a gap, each index once (plain or compressed, never both), no
    archive left half-built."""
    for base in [*SIGNAL_FILES.values(), TEXT_LOG]:
        names = [path.name for path in directory.iterdir() if path.name.startswith(base + ".")]
        indexes = sorted(int(name[len(base) + 1:].removesuffix(".gz")) for name in names)
        assert indexes == list(range(1, len(indexes) + 1)), (base, sorted(names))
        assert compressing(directory, base) == []


def test_three_processes_writing_one_directory_lose_and_repeat_no_record(tmp_path):
    directory = tmp_path / "logs"
    count = 1500
    writers = start_writers(tmp_path, directory, "abc", count)
    for writer in writers:
        out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0 and out.strip() == "dropped 0"

    bodies = collections.Counter(record["body"]["stringValue"] for record in every_item(directory, "logs"))
    for name in "abc":
        assert [body for body in (f"{name}-{i}" for i in range(count)) if bodies[body] != 1] == []
    tools = collections.Counter(span["spanId"] for span in every_item(directory, "traces"))
    assert len(tools) > 3 * count // 25 and set(tools.values()) == {1}
    assert every_item(directory, "metrics")

    text = collections.Counter()
    for path in files_oldest_first(directory, TEXT_LOG):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                assert line.endswith("\n")
                text.update(re.findall(r"\b[abc]-\d+\b", line.split(" - ", 3)[-1]))
    assert set(text.values()) == {1} and len(text) == 3 * count

    assert len(list(directory.glob(SIGNAL_FILES["logs"] + ".*.gz"))) > 10  # rotated many times, compressed
    assert_backups_intact(directory)


def test_runs_started_together_on_one_log_directory_are_all_kept_and_listed(tmp_path):
    config = tmp_path / "aiw.yaml"
    config.write_text("telemetry:\n  sinks:\n    file:\n      max_bytes: 4096\n      backup_count: 1000\n")
    shared, alone = tmp_path / "logs", tmp_path / "alone"

    shared.mkdir()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(shared / "control-4194305.sock"))
    left.close()  # what a run killed while another held control.sock leaves behind
    earlier = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # a run still going on this log dir
    earlier.bind(str(shared / "control.sock"))
    earlier.listen()

    def start(log_dir: Path, name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*AIW, "run", "examples/plans/hello.yaml", "--provider", "replay", "--no-console", "--config", str(config),
             "--log-dir", str(log_dir), "--workspace", str(tmp_path / f"ws-{name}")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    runs = [start(shared, name) for name in "abc"] + [start(alone, "alone")]
    sockets = []
    for run in runs:
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0, out
        sockets += re.findall(r"^aiw-otel: control socket (\S+) ", out, re.MULTILINE)
    earlier.close()
    # Each its own socket beside the one held: control-<pid>.sock.
    assert sorted(sockets[:3]) == sorted(str(shared / f"control-{run.pid}.sock") for run in runs[:3])
    assert not (shared / "control-4194305.sock").exists()

    def spans_by_trace(directory: Path) -> dict[str, list[str]]:
        found = collections.defaultdict(list)
        for span in every_item(directory, "traces"):
            found[span["traceId"]].append(span["spanId"])
        return found

    (expected,) = [len(ids) for ids in spans_by_trace(alone).values()]
    traces = spans_by_trace(shared)
    assert sorted(len(ids) for ids in traces.values()) == [expected] * 3  # every span of each run, once
    assert all(len(set(ids)) == len(ids) for ids in traces.values())
    assert len(list(shared.glob(SIGNAL_FILES["traces"] + ".*"))) > 3
    assert_backups_intact(shared)

    listed = aiw("logs", str(shared), "--runs", "--no-color")
    assert listed.returncode == 0 and listed.stderr == ""
    for trace_id in traces:
        assert len([line for line in listed.stdout.splitlines() if trace_id[:8] in line and "Completed" in line]) == 1


def test_a_writer_killed_while_holding_the_lock_blocks_no_one(tmp_path):
    live = tmp_path / "traces.otlp.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from aiw_otel.exporters.stream_lock import StreamLock
            with StreamLock(Path({str(live)!r})):
                print("held", flush=True)
                time.sleep(600)
        """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    lock_file = StreamLock(live).path
    with open(lock_file, "rb") as probe:
        with pytest.raises(BlockingIOError):  # held: a writer would wait here
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        until(lambda: _can_lock(probe), "the kernel to release the dead holder's lock")
    writer = RotatingFile(live, max_bytes=1 << 20, backup_count=1)
    assert writer.write_lines(['{"resourceSpans":[]}']) > 0
    writer.close()
    assert live.read_text() == '{"resourceSpans":[]}\n'


def _can_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(handle, fcntl.LOCK_UN)
    return True
