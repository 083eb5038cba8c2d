"""bench_pipeline's action counted in instructions (callgrind), which a busy machine does not blur.

Each side (the raw SDK, aiw-otel) runs under `valgrind --tool=callgrind --separate-threads=yes`
twice, for a small and a large number of actions; the difference divided by the difference in
actions is the cost of one action, with start-up, warm-up and shutdown cancelled out. Before its
flush each run waits (`settle_s`) until the background threads have taken what is queued: a
flush does the rest on the calling thread, and how much is left then depends on how valgrind
happened to schedule the threads (it moved the raw SDK's calling thread by 25%); and valgrind
runs one thread at a time, so `--fair-sched=yes` gives the background threads their turns as
CPython's GIL would (without it aiw-otel's handoff thread can starve, and the calling thread,
finding the queue full, does the work itself: a 2x that no real run shows). Prints
instructions per action on the calling thread (what the runner waits for) and in the whole
process (every thread: what the machine pays), and aiw-otel's ratio to the raw SDK for both.

    python benchmarks/instructions_pipeline.py [small] [large]     (~2 minutes; needs valgrind)
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
#: Longer than either side's export delay (500 ms) even at valgrind's pace.
_SETTLE_S = 3.0


def _one_side(side: str, actions: int) -> None:
    """Run in the child under valgrind: a warm-up, then `actions` actions of one side."""
    sys.path.insert(0, HERE)
    import bench_pipeline

    run = bench_pipeline.raw_sdk if side == "raw" else bench_pipeline.ours
    with tempfile.TemporaryDirectory() as directory:
        run(directory, 50, _SETTLE_S)  # imports, regex and memo caches: the same in both counts
        run(directory, actions, _SETTLE_S)


def _count(side: str, actions: int) -> tuple[int, int]:
    """(calling thread, whole process) instructions of one run of `actions` actions."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes", "--fair-sched=yes",
                        f"--callgrind-out-file={out}/cg.out", sys.executable, os.path.abspath(__file__),
                        "--side", side, str(actions)], check=True, capture_output=True)
        per_thread = {}
        for path in glob.glob(f"{out}/cg.out-*"):  # one file per thread; -01 is the main thread
            with open(path, encoding="utf-8") as counts:
                per_thread[path.rsplit("-", 1)[1]] = next(int(line.split()[1]) for line in counts
                                                          if line.startswith("totals:"))
    return per_thread["01"], sum(per_thread.values())


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--side":
        _one_side(sys.argv[2], int(sys.argv[3]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    small = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    large = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    per_action = {}
    for side in ("raw", "ours"):
        (caller_small, all_small), (caller_large, all_large) = _count(side, small), _count(side, large)
        per_action[side] = ((caller_large - caller_small) / (large - small),
                            (all_large - all_small) / (large - small))
    (raw_caller, raw_all), (our_caller, our_all) = per_action["raw"], per_action["ours"]
    print(f"instructions per action (span + event + log), {large} - {small} actions under callgrind:")
    print(f"calling thread: raw SDK {raw_caller / 1000:.0f}k, aiw-otel {our_caller / 1000:.0f}k, "
          f"ratio {our_caller / raw_caller:.2f}x")
    print(f"whole process:  raw SDK {raw_all / 1000:.0f}k, aiw-otel {our_all / 1000:.0f}k, "
          f"ratio {our_all / raw_all:.2f}x")
    print("goal: <= 1.3x (the calling thread is what the runner waits for; the whole process is what it costs)")


if __name__ == "__main__":
    main()
