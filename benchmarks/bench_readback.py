"""Reading runs back: `aiw-otel logs` (and `ship`) on big log directories vs the floor, in one run.

The directories are written with the public API (configure -> plan_run -> step -> ai_call / log)
through the file sink, rotated so that each signal has a gzip backup:

- big:  one run of STEPS steps (5,000 by default: about 11 MB of OTLP/JSON);
- many: RUNS runs (20) of STEPS // RUNS steps each, the same bytes split across runs;
- huge (`--huge`): the big directory's files copied 10x under new trace ids, for peak memory.

The floor is the least any reader does: open every file of the directory (gunzip the backups),
read every line and `json.loads` it. Every command runs as a child process (the floor too), so
interpreter start-up is in both; peak memory is the child's max RSS (RUSAGE_CHILDREN of a
wrapper process that runs only that child). Prints seconds, MB and the ratio to the floor.

    python benchmarks/bench_readback.py [--steps N] [--runs N] [--huge] [--ship]

Generated directories are cached under $TMPDIR/aiw-bench-readback (delete it to regenerate).
Goals (issue 14): logs --json <= 3x the floor, logs tree <= 4x, logs --last on the many-runs
directory <= 1x that directory's floor, peak memory of logs --json < 100 MB whatever the size.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The streams `logs` reads (metrics have no place in a run's tree).
SIGNALS = ("traces.otlp.jsonl", "logs.otlp.jsonl")
CACHE = Path(tempfile.gettempdir()) / "aiw-bench-readback"
#: Rotation size: a little under the traces file of the big run, so each signal rotates once.
MAX_BYTES = 4 * 1024 * 1024

FLOOR = r"""
import gzip, json, sys
from pathlib import Path
for directory in sys.argv[1:]:
    for path in sorted(Path(directory).iterdir()):
        if not path.name.startswith(("traces.otlp.jsonl", "logs.otlp.jsonl")):
            continue
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as stream:
            for line in stream:
                json.loads(line)
"""

MEASURE = r"""
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def write_runs(directory: Path, runs: int, steps: int) -> None:
    """`runs` runs of `steps` steps, each step one AI call with tokens and cost."""
    import aiw_otel
    from aiw_otel import LogLevel
    from aiw_otel.config import FileSinkConfig, QueueConfig, SinksConfig, TelemetryConfig

    directory.mkdir(parents=True, exist_ok=True)
    config = TelemetryConfig(
        log_level=LogLevel.DEBUG,
        queue=QueueConfig(max_size=1 << 20, batch_size=512, schedule_delay_ms=200),
        sinks=SinksConfig(file=FileSinkConfig(directory=str(directory), max_bytes=MAX_BYTES, backup_count=50,
                                              text_log=False)),
    )
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)
    try:
        for number in range(runs):
            with telemetry.plan_run(f"plan-{number}", f"bench run {number}") as run:
                for index in range(steps):
                    with run.step(f"step-{index:05d}", "code_generation", f"Step {index} of the benchmark") as step:
                        with step.ai_call(provider="openai", model="gpt-4o", server_address="api.openai.com",
                                          server_port=443) as call:
                            call.request_sent(prompt_tokens=100)
                            call.response_received(response_model="gpt-4o-2024-08-06", input_tokens=100,
                                                   output_tokens=20, cost_usd=0.0015)
            assert telemetry.force_flush(60.0)
    finally:
        assert telemetry.shutdown(60.0)


def multiply(source: Path, target: Path, times: int) -> None:
    """`source`'s files `times` over (as backups of one stream), each copy under its own trace ids."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.iterdir() if p.name.startswith(SIGNALS))
    for copy in range(times):
        for path in files:
            base = path.name.split(".jsonl")[0] + ".jsonl"
            index = int(path.name.split(".jsonl.")[1].split(".")[0]) if ".jsonl." in path.name else 0
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rb") as stream:
                data = stream.read()
            # the trace ids start with the copy number, so each copy is its own run
            data = re.sub(rb'"traceId":"[0-9a-f]{2}', b'"traceId":"%02x' % copy, data)
            number = (times - 1 - copy) * 10 + index
            name = f"{base}.{number}.gz" if number else base
            with (gzip.open if number else open)(target / name, "wb") as out:
                out.write(data)


def directory_of(name: str, runs: int, steps: int) -> Path:
    directory = CACHE / f"{name}-{runs}x{steps}"
    if not (directory / "done").exists():
        shutil.rmtree(directory, ignore_errors=True)
        started = time.perf_counter()
        write_runs(directory, runs, steps)
        (directory / "done").write_text("")
        print(f"  wrote {directory} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return directory


def size_mb(directory: Path) -> str:
    files = [p for p in directory.iterdir() if p.name.startswith(SIGNALS)]
    raw = 0
    for path in files:
        with (gzip.open if path.name.endswith(".gz") else open)(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                raw += len(chunk)
    return f"{raw / 1e6:.1f} MB of OTLP/JSON in {len(files)} files"


def measure(argv: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
    elapsed, rss_kb, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"bench_readback: {' '.join(argv)} exited {code}")
    return float(elapsed), int(rss_kb) / 1024


def best(argv: list[str], repeat: int) -> tuple[float, float]:
    results = [measure(argv) for _ in range(repeat)]
    return min(r[0] for r in results), max(r[1] for r in results)


def aiw(*args: str) -> list[str]:
    return [sys.executable, "-m", "aiw_otel.cli", *args]


def floor(*directories: Path) -> list[str]:
    return [sys.executable, "-c", FLOOR, *map(str, directories)]


def report(name: str, seconds: float, rss: float, floor_s: float, goal: str = "") -> None:
    print(f"{name:<34} {seconds:7.2f} s {rss:7.0f} MB {seconds / floor_s:6.2f}x the floor  {goal}")


def ship_rate(directory: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.otlp_receiver import Receiver

    lines = sum(1 for p in directory.iterdir() if p.name.startswith(SIGNALS) for _ in
                (gzip.open if p.name.endswith(".gz") else open)(p, "rb"))
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "logs"
        shutil.copytree(directory, copy)
        receiver = Receiver()
        try:
            started = time.perf_counter()
            subprocess.run(aiw("ship", str(copy), "--endpoint", receiver.endpoint), check=True,
                           stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - started
        finally:
            receiver.close()
    print(f"{'ship (OTLP/HTTP, local receiver)':<34} {elapsed:7.2f} s  {lines / elapsed:8.0f} requests/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--huge", action="store_true", help="also the big directory 10x, for peak memory")
    parser.add_argument("--ship", action="store_true", help="also ship the big directory to a local receiver")
    args = parser.parse_args()

    big = directory_of("big", 1, args.steps)
    many = directory_of("many", args.runs, args.steps // args.runs)
    print(f"big:  {size_mb(big)}\nmany: {size_mb(many)} ({args.runs} runs)\n")

    floor_s, floor_rss = best(floor(big), args.repeat)
    report("floor: read + json.loads (big)", floor_s, floor_rss, floor_s)
    report("logs --json", *best(aiw("logs", str(big), "--json"), args.repeat), floor_s, "goal <= 3x, < 100 MB")
    report("logs (tree)", *best(aiw("logs", str(big), "--no-color"), args.repeat), floor_s, "goal <= 4x")
    report("logs --level error --json", *best(aiw("logs", str(big), "--json", "--level", "error"), args.repeat),
           floor_s)
    many_s, many_rss = best(floor(many), args.repeat)
    print()
    report(f"floor (many: {args.runs} runs)", many_s, many_rss, many_s)
    report("logs --last (many)", *best(aiw("logs", str(many), "--last", "--no-color"), args.repeat), many_s,
           "goal <= 1x")
    report("logs --runs (many)", *best(aiw("logs", str(many), "--runs", "--no-color"), args.repeat), many_s)
    report("logs --json (many)", *best(aiw("logs", str(many), "--json"), args.repeat), many_s)
    if args.huge:
        huge = CACHE / f"huge-10x{args.steps}"
        if not (huge / "done").exists():
            shutil.rmtree(huge, ignore_errors=True)
            multiply(big, huge, 10)
            (huge / "done").write_text("")
        print(f"\nhuge: {size_mb(huge)}")
        huge_s, huge_rss = best(floor(huge), 1)
        report("floor (huge)", huge_s, huge_rss, huge_s)
        report("logs --json (huge)", *best(aiw("logs", str(huge), "--json"), 1), huge_s, "goal < 100 MB")
    if args.ship:
        print()
        ship_rate(big)


if __name__ == "__main__":
    main()
