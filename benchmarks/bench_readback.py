"""Reading runs back: `aiw-otel logs` (and `ship`) on big log directories vs the floor, in one run.

The directories are written with the public API (configure -> plan_run -> step -> ai_call / log)
through the file sink, rotated so that each signal has a gzip backup:

- big:  one run of STEPS steps (5,000 by default: about 11 MB of OTLP/JSON);
- many: RUNS runs (20) of STEPS // RUNS steps each, the same bytes split across runs;
- huge: the big directory's files copied 10x under new trace ids, for peak memory.

The floor is the least any reader does: open every file of the directory (gunzip the backups),
read every line and `json.loads` it. Every command runs as a child process (the floor too), so
interpreter start-up is in both; peak memory is the child's max RSS (RUSAGE_CHILDREN of a
wrapper process that runs only that child). Each command is timed in turns with the floor (the
load of a shared machine drifts) and the best of each is kept. Prints seconds, MB and the ratios (of wall and of CPU time).

    python benchmarks/bench_readback.py [--steps N] [--runs N] [--repeat N] [--no-huge] [--no-ship | --ship-only]

Generated directories are cached under $TMPDIR/aiw-bench-readback (delete it to regenerate).
Goals (issue 14): logs --json <= 3x the floor, logs tree <= 4x, logs --last on the many-runs
directory <= 1x that directory's floor, peak memory of logs --json < 100 MB whatever the size,
ship to a local OTLP/HTTP receiver at >= 50% of the floor's rate (over traces, logs and metrics).
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import statistics
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
signals = tuple(sys.argv[1].split(","))
for directory in sys.argv[2:]:
    for path in sorted(Path(directory).iterdir()):
        if not path.name.startswith(signals):
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
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, code)
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
    """`source`'s files `times` over (as backups of one stream), each copy under its own trace ids and an hour apart."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.iterdir() if p.name.startswith(SIGNALS))
    for copy in range(times):
        for path in files:
            base = path.name.split(".jsonl")[0] + ".jsonl"
            index = int(path.name.split(".jsonl.")[1].split(".")[0]) if ".jsonl." in path.name else 0
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rb") as stream:
                data = stream.read()
            # the trace ids start with the copy number, so each copy is its own run, an hour after the one before
            data = re.sub(rb'"traceId":"[0-9a-f]{2}', b'"traceId":"%02x' % copy, data)
            shift = (copy - times + 1) * 3600 * 10**9
            data = re.sub(rb'(UnixNano":")(\d+)"', lambda m: m.group(1) + b"%d\"" % (int(m.group(2)) + shift), data)
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


def raw_bytes(directory: Path, signals: tuple[str, ...] = SIGNALS) -> int:
    total = 0
    for path in directory.iterdir():
        if path.name.startswith(signals):
            with (gzip.open if path.name.endswith(".gz") else open)(path, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    total += len(chunk)
    return total


def size_mb(directory: Path) -> str:
    files = [p for p in directory.iterdir() if p.name.startswith(SIGNALS)]
    return f"{raw_bytes(directory) / 1e6:.1f} MB of OTLP/JSON in {len(files)} files"


def measure(argv: list[str]) -> tuple[float, float, float]:
    """Seconds, peak RSS (MB) and CPU seconds of one child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
    elapsed, rss_kb, cpu, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"bench_readback: {' '.join(argv)} exited {code}")
    return float(elapsed), int(rss_kb) / 1024, float(cpu)


def best(argv: list[str], repeat: int) -> tuple[float, float]:
    results = [measure(argv) for _ in range(repeat)]
    return min(r[0] for r in results), max(r[1] for r in results)


def aiw(*args: str) -> list[str]:
    return [sys.executable, "-m", "aiw_otel.cli", *args]


def floor(*directories: Path, signals: tuple[str, ...] = SIGNALS) -> list[str]:
    return [sys.executable, "-c", FLOOR, ",".join(signals), *map(str, directories)]


def report(name: str, argv: list[str], floor_argv: list[str], repeat: int, goal: str = "") -> None:
    """The command and the floor measured in turns, so that both see the same load on a shared machine:
    the best wall time of each and their ratio, the command's peak memory, and the ratio of their best
    CPU times (steadier than wall time when other work shares the cores)."""
    pairs = [(measure(floor_argv), measure(argv)) for _ in range(repeat)]
    floor_s, floor_cpu = min(f[0] for f, _ in pairs), min(f[2] for f, _ in pairs)
    seconds, rss, cpu = min(c[0] for _, c in pairs), max(c[1] for _, c in pairs), min(c[2] for _, c in pairs)
    print(f"{name:<28} {seconds:6.2f} s {rss:5.0f} MB {seconds / floor_s:5.2f}x the floor ({floor_s:.2f} s), "
          f"CPU {cpu / floor_cpu:4.2f}x  {goal}")


SINK = r"""
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


#: (label, ship's options) measured: the default protocol as ship chooses its worker processes (none
#: on two CPUs), then with two workers, then http/json.
SHIP_RUNS = (("ship http/protobuf", ("--protocol", "http/protobuf")),
             ("ship http/protobuf, 2 workers", ("--protocol", "http/protobuf", "--workers", "2")),
             ("ship http/json", ("--protocol", "http/json")))


def ship_rates(directory: Path, repeat: int) -> None:
    """ship's rate (MB of lines per second) against the floor's rate over the same bytes (traces,
    logs and metrics), each ship timed in turn with the floor. The receiver is a minimal real
    OTLP/HTTP endpoint in its own process: it reads each request and answers 200 (a collector's
    own cost is not ship's). Prints the median and the best of the per-turn shares (a turn's ship
    and floor see the same load), and the share of CPU time."""
    signals = SIGNALS + ("metrics.otlp.jsonl",)
    megabytes = raw_bytes(directory, signals) / 1e6
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        endpoint = f"http://127.0.0.1:{sink.stdout.readline().strip()}"  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as scratch:
            for label, options in SHIP_RUNS:
                floors, timings = [], []
                for _ in range(repeat):
                    copy = Path(scratch) / "logs"
                    shutil.copytree(directory, copy)  # a fresh copy: no resume state, everything is sent
                    floors.append(measure(floor(copy, signals=signals)))
                    timings.append(measure(aiw("ship", str(copy), "--endpoint", endpoint, *options)))
                    shutil.rmtree(copy)
                shares = sorted(f[0] / t[0] for f, t in zip(floors, timings))
                seconds, rss = min(t[0] for t in timings), max(t[1] for t in timings)
                cpu_share = min(f[2] for f in floors) / min(t[2] for t in timings)
                print(f"{label:<30} {seconds:6.2f} s {rss:5.0f} MB {megabytes / seconds:5.1f} MB/s, "
                      f"{statistics.median(shares):4.0%} of the floor's rate (best {shares[-1]:4.0%}; "
                      f"floor {megabytes / min(f[0] for f in floors):.1f} MB/s; CPU {cpu_share:4.0%})  goal >= 50%")
    finally:
        sink.kill()
        sink.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-huge", action="store_true", help="leave out the 10x directory (peak memory)")
    parser.add_argument("--no-ship", action="store_true", help="leave out ship's rates")
    parser.add_argument("--ship-only", action="store_true", help="only ship's rates (on the big directory)")
    args = parser.parse_args()

    big = directory_of("big", 1, args.steps)
    if args.ship_only:
        ship_rates(big, args.repeat)
        return
    many = directory_of("many", args.runs, args.steps // args.runs)
    print(f"big:  {size_mb(big)}\nmany: {size_mb(many)} ({args.runs} runs)\n")

    repeat = args.repeat
    floor_s, floor_rss = best(floor(big), repeat)
    print(f"{'floor: read + json.loads (big)':<28} {floor_s:6.2f} s {floor_rss:5.0f} MB")
    report("logs --json", aiw("logs", str(big), "--json"), floor(big), repeat, "goal <= 3x, < 100 MB")
    report("logs (tree)", aiw("logs", str(big), "--no-color"), floor(big), repeat, "goal <= 4x")
    report("logs --level error --json", aiw("logs", str(big), "--json", "--level", "error"), floor(big), repeat)
    many_s, many_rss = best(floor(many), repeat)
    print(f"\n{f'floor (many: {args.runs} runs)':<28} {many_s:6.2f} s {many_rss:5.0f} MB")
    report("logs --last (many)", aiw("logs", str(many), "--last", "--no-color"), floor(many), repeat, "goal <= 1x")
    report("logs --last --json (many)", aiw("logs", str(many), "--last", "--json"), floor(many), repeat)
    report("logs --runs (many)", aiw("logs", str(many), "--runs"), floor(many), repeat)
    report("logs --json (many)", aiw("logs", str(many), "--json"), floor(many), repeat)
    if not args.no_huge:
        huge = CACHE / f"huge-10x{args.steps}"
        if not (huge / "done").exists():
            shutil.rmtree(huge, ignore_errors=True)
            multiply(big, huge, 10)
            (huge / "done").write_text("")
        print(f"\nhuge: {size_mb(huge)}")
        report("logs --json (huge)", aiw("logs", str(huge), "--json"), floor(huge), 1, "goal < 100 MB")
        report("logs (tree, huge)", aiw("logs", str(huge), "--no-color"), floor(huge), 1)
    if not args.no_ship:
        print()
        ship_rates(big, repeat)


if __name__ == "__main__":
    main()
