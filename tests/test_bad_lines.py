"""A file that is not telemetry costs a few clear lines on stderr, not one per line, in every reader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aiw_otel.logdir import SIGNAL_FILES
from tests.cli_process import aiw
from tests.otlp_files import file_lines
from tests.recorded_runs import record_runs

TRACES = SIGNAL_FILES["traces"]


@pytest.fixture(scope="module")
def passwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An /etc/passwd of 10,000 users: text, and not ours."""
    path = tmp_path_factory.mktemp("foreign") / "passwd"
    path.write_text("".join(f"user{n}:x:{n}:{n}::/home/user{n}:/bin/sh\n" for n in range(1, 10_001)))
    return path


def stderr_lines(result) -> list[str]:
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()


@pytest.mark.parametrize("mode", [[], ["--json"], ["--runs"], ["--last"], ["--since", "1d"], ["--trace", "ab"]])
def test_logs_of_a_foreign_file_names_three_lines_says_what_it_is_and_exits_2(passwd, mode):
    result = aiw("logs", str(passwd), "--no-color", *mode)
    lines = stderr_lines(result)
    assert result.returncode == 2 and result.stdout == ""
    assert len(lines) <= 5, lines
    assert [line.split(": ")[2] for line in lines[:3]] == [f"{passwd}:{n}" for n in (1, 2, 3)]
    assert lines[-1].endswith(f"{passwd}: not an OTLP JSON Lines file (0 of 10000 lines readable); skipped")


def test_a_directory_with_a_corrupt_backup_shows_its_runs_with_bounded_warnings(tmp_path):
    directory = tmp_path / "logs"
    record_runs(directory, "add greeting")
    good = file_lines(directory / TRACES)
    backup = directory / f"{TRACES}.1"  # a backup half overwritten by a text log
    backup.write_text("\n".join([*(f"12:00:{n % 60:02} GET /index {n}" for n in range(5_000)), *good]) + "\n")
    result = aiw("logs", str(directory), "--no-color")
    lines = stderr_lines(result)
    assert result.returncode == 0 and "add greeting" in result.stdout
    assert len(lines) == 4, lines
    assert all(f"{backup}:{n}: not JSON" in line for n, line in zip((1, 2, 3), lines))
    assert lines[3].endswith(f"{backup}: 4997 more bad lines skipped")
    runs = aiw("logs", str(directory), "--runs")
    assert runs.returncode == 0 and "add greeting" in runs.stdout and len(stderr_lines(runs)) == 4


def test_a_torn_live_line_is_not_a_foreign_file(tmp_path):
    """A file holding one line still being written has no bad complete line: nothing more than the torn line is said."""
    directory = tmp_path / "logs"
    record_runs(directory, "add greeting")
    line = file_lines(directory / TRACES)[0]
    (directory / TRACES).write_text(line[: len(line) // 2])
    result = aiw("logs", str(directory), "--no-color")
    lines = stderr_lines(result)
    assert result.returncode == 0 and "incomplete last line" in lines[0]
    assert not any("not an OTLP JSON Lines file" in line for line in lines)


def test_ship_of_a_foreign_file_is_bounded_and_exits_2(passwd, tmp_path):
    """Nothing is sent (no line is an export request), so the endpoint is never reached."""
    result = aiw("ship", str(passwd), "--endpoint", "http://127.0.0.1:9", env={**os.environ, "HOME": str(tmp_path)})
    lines = stderr_lines(result)
    assert result.returncode == 2 and "10000 unreadable lines skipped" in result.stdout
    assert len(lines) == 4, lines
    assert lines[-1].endswith(f"{passwd}: not an OTLP JSON Lines file (0 of 10000 lines readable); skipped")


def test_follow_of_a_foreign_file_names_three_lines_and_at_ctrl_c_what_it_is(passwd):
    import signal
    import subprocess

    from tests.cli_process import AIW

    follower = subprocess.Popen([*AIW, "logs", "--follow", str(passwd)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert follower.stderr is not None
        named = [follower.stderr.readline() for _ in range(3)]  # read once they are said: no sleep
        follower.send_signal(signal.SIGINT)
        _, rest = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert all(f"{passwd}:{n}: not JSON" in line for n, line in zip((1, 2, 3), named))
    # How far it read before Ctrl-C is not known: all of it (then it is not ours), part, or just the three.
    assert "Traceback" not in rest and len(rest.splitlines()) <= 1
    assert rest == "" or rest.rstrip().endswith((
        f"{passwd}: not an OTLP JSON Lines file (0 of 10000 lines readable); skipped", "more bad lines skipped"))


def test_memory_stays_bounded_and_counts_stay_exact_past_the_remembered_lines(tmp_path: Path) -> None:
    """A huge foreign file: past REMEMBERED_PER_FILE numbers only a count is kept; a second read
    (as `logs --since` does) still counts each line once, and the file is still called foreign."""
    from aiw_otel.readback import bad_lines

    lines = bad_lines.REMEMBERED_PER_FILE + 5_000
    foreign = tmp_path / "app.log"
    foreign.write_text("".join(f"plain text {n}\n" for n in range(lines)))
    shown: list[str] = []
    bad = bad_lines.BadLines(shown.append)
    for _ in range(2):
        for number in range(1, lines + 1):
            bad(f"{foreign}:{number}: not JSON (Expecting value); skipped")
    assert max(len(numbers) for numbers in bad._bad.values()) <= bad_lines.REMEMBERED_PER_FILE
    bad.finish()
    assert shown[-1] == f"{foreign}: not an OTLP JSON Lines file (0 of {lines} lines readable); skipped"
    assert len(shown) == bad_lines.SHOWN_PER_FILE + 1

    half = tmp_path / "half.log"  # one good line in the middle: not foreign, and the count is exact
    half.write_text("x\n" * lines)
    shown.clear()
    bad = bad_lines.BadLines(shown.append)
    for number in range(1, lines + 1):
        if number != lines // 2:
            bad(f"{half}:{number}: not JSON (Expecting value); skipped")
    bad.finish()
    assert shown[-1] == f"{half}: {lines - 1 - bad_lines.SHOWN_PER_FILE} more bad lines skipped"
