"""The layout of a log directory, shared by the file sink that writes it and the tools that read it.

One file per signal (OTLP/JSON lines, as the Collector's otlpjsonfile receiver expects) plus the
seed's human-readable text log. Backups are numbered like logging's RotatingFileHandler (`.1` is
the newest) and may be gzip-compressed (`.1.gz`). Several processes may write one directory: each
stream has a hidden lock file beside it (`.traces.otlp.jsonl.lock`), and a backup being compressed
is written to a hidden partial file named after the backup's inode; hidden, so neither a reader nor
a Collector's `traces.otlp.jsonl*` glob takes them for records.
"""

from __future__ import annotations

import re
from pathlib import Path

SIGNAL_FILES = {
    "traces": "traces.otlp.jsonl",
    "logs": "logs.otlp.jsonl",
    "metrics": "metrics.otlp.jsonl",
}
TEXT_LOG = "aiwhisperer_runner.log"
GZIP_SUFFIX = ".gz"


def lock_name(base: str) -> str:
    """The advisory lock every writer of `base` holds while it appends, rotates or renames a backup."""
    return f".{base}.lock"


def compressing_name(base: str, inode: int) -> str:
    """Where the archive of the backup with this inode is built before it takes the backup's place:
    named by the inode, not the index, since another process's rotation may shift the index meanwhile."""
    return f".{base}.{inode}{GZIP_SUFFIX}.partial"


def compressing(directory: Path, base: str) -> list[tuple[int, Path]]:
    """Archives being built (or left by a process killed while building one) as (inode, path)."""
    pattern = re.compile(re.escape(f".{base}.") + r"(\d+)" + re.escape(f"{GZIP_SUFFIX}.partial") + "$")
    found = []
    for path in directory.glob(f".{base}.*.partial"):
        match = pattern.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def backup_name(base: str, index: int, compressed: bool) -> str:
    return f"{base}.{index}{GZIP_SUFFIX if compressed else ''}"


def backups(directory: Path, base: str) -> list[tuple[int, Path]]:
    """Existing backups of `base` in `directory` as (index, path), newest (lowest index) first.

    One path per index: while a backup is being compressed, `x.1` and the finished `x.1.gz` exist
    together for a moment (the archive is renamed into place complete, then the plain file goes);
    the archive is taken, so a reader never reads the same records twice.
    """
    pattern = re.compile(re.escape(base) + r"\.(\d+)(" + re.escape(GZIP_SUFFIX) + r")?$")
    found: dict[int, Path] = {}
    for path in directory.glob(base + ".*"):
        match = pattern.match(path.name)
        if match and (match.group(2) or int(match.group(1)) not in found):
            found[int(match.group(1))] = path
    return sorted(found.items())


def files_oldest_first(directory: Path, base: str) -> list[Path]:
    """Every file of one stream, oldest backup first and the live file last: the order records were written."""
    paths = [path for _, path in reversed(backups(directory, base))]
    live = directory / base
    if live.exists():
        paths.append(live)
    return paths
