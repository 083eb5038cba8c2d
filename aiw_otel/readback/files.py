"""Finding the signal files behind a PATH and reading their lines back, whatever state they are in.

The writer may have died mid-line, a backup may be gzip-compressed (or be compressed while we
read it), the live file may be growing: the tool someone runs to debug a failure must not be the
next thing that fails, so every bad line is skipped with a warning naming it (a front end bounds
how many reach the user: bad_lines.BadLines).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import re
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple

from aiw_otel.errors import FileError
from aiw_otel.logdir import GZIP_SUFFIX, SIGNAL_FILES, files_oldest_first
from aiw_otel.regular_file import open_regular

#: The writer keeps lines under 1 MiB; a line far beyond that is not ours and is not held in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024

Warn = Callable[[str], None]

_NAMES = re.compile(
    r"^(?P<base>" + "|".join(re.escape(base) for base in SIGNAL_FILES.values()) + r")"
    r"(?:\.(?P<index>\d+))?(?P<gz>" + re.escape(GZIP_SUFFIX) + r")?$"
)
_SIGNAL_OF_BASE = {base: signal for signal, base in SIGNAL_FILES.items()}


class ReadbackError(FileError):
    """A PATH the user gave cannot be read: its `source` is the PATH, so `token.txt: permission denied`
    is shown with the path and the reason redacted apart (as one line it would read as a secret's pair)."""


def warn_on_stderr(message: str) -> None:
    print(f"aiw-otel: warning: {message}", file=sys.stderr, flush=True)


class SignalFile(NamedTuple):
    """One file of one stream; `signal` is None for a file whose name is not ours (its lines still say what they hold).

    `start`: the byte offset (of the uncompressed text) of the first line to read, when only the end
    of the file matters (`logs --last`); the lines before it are counted, not read."""

    path: Path
    signal: str | None
    start: int = 0


def backup_index(path: Path) -> int:
    """0 for a live file (or a name that is not ours), N for `.N` / `.N.gz`: higher is older."""
    match = _NAMES.match(path.name)
    return int(match.group("index")) if match and match.group("index") else 0


def signal_of(path: Path) -> str | None:
    match = _NAMES.match(path.name)
    return _SIGNAL_OF_BASE[match.group("base")] if match else None


def find_files(paths: Iterable[str | os.PathLike[str]], signals: Iterable[str] = tuple(SIGNAL_FILES)) -> list[SignalFile]:
    """The files behind the PATH arguments, each once, oldest first within a stream (the order they were written).

    A directory contributes the streams in `signals` with their backups; a file is taken as given.
    """
    wanted = tuple(signals)
    found: dict[Path, SignalFile] = {}
    for given in paths:
        path = Path(given)
        with denied_as_error(given):
            if path.is_dir():
                for signal in wanted:
                    for member in files_oldest_first(path, SIGNAL_FILES[signal]):
                        found.setdefault(member.resolve(), SignalFile(member, signal))
            elif path.is_file():
                if not os.access(path, os.R_OK):  # found out now, not as a warning halfway through the output
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(given))
                found.setdefault(path.resolve(), SignalFile(path, signal_of(path)))
            elif path.exists():
                raise ReadbackError("not a regular file or a directory; refused", source=os.fspath(given))
            else:
                raise ReadbackError("no such file or directory", source=os.fspath(given))
    ours = sorted((f for f in found.values() if f.signal), key=_write_order)
    return ours + [f for f in found.values() if not f.signal]


@contextmanager
def denied_as_error(given: str | os.PathLike[str]) -> Iterator[None]:
    """A PATH the user named that they may not read (or look into) is their mistake: one line, no traceback."""
    try:
        yield
    except PermissionError:
        raise ReadbackError("permission denied", source=os.fspath(given)) from None


def _write_order(file: SignalFile) -> tuple[str, int, int]:
    return str(file.path.resolve().parent), list(SIGNAL_FILES).index(file.signal or ""), -backup_index(file.path)


def open_binary(path: Path) -> IO[bytes]:
    """Plain or gzip by name; a `.N` backup compressed to `.N.gz` since it was listed is followed there."""
    if not path.exists() and not path.name.endswith(GZIP_SUFFIX):
        compressed = path.with_name(path.name + GZIP_SUFFIX)
        if compressed.exists():
            path = compressed
    handle = open_regular(path)  # a FIFO or a link to /dev/zero named like a log file is refused
    if not path.name.endswith(GZIP_SUFFIX):
        return handle
    stream = gzip.GzipFile(fileobj=handle, mode="rb")
    stream.myfileobj = handle  # type: ignore[assignment]  # closed with the stream, as if gzip had opened it
    return stream  # type: ignore[return-value]


def read_lines(path: Path, warn: Warn = warn_on_stderr, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Complete lines, numbered from 1, without their newline; from byte `start` (a line's first byte) on.

    A last line without a newline is torn (a crash mid-write) or still being written: either way it
    is not a record yet. A broken gzip stream ends the file with a warning; what came before stands.
    """
    number = 0
    try:
        with open_binary(path) as stream:
            if start:
                number = _skip_to(stream, start)
            while line := stream.readline(MAX_LINE_BYTES):
                number += 1
                if line.endswith(b"\n"):
                    yield number, line.rstrip(b"\r\n")
                elif len(line) < MAX_LINE_BYTES:
                    warn(f"{path}:{number}: incomplete last line (torn by a crash, or still being written); skipped")
                    return
                else:
                    _skip_to_newline(stream)
                    warn(f"{path}:{number}: line longer than {MAX_LINE_BYTES >> 20} MiB; skipped")
    except PermissionError:  # one file of a directory: the others are still shown
        warn(f"{path}: permission denied; skipped")
    except (OSError, EOFError, zlib.error) as error:
        warn(f"{path}: unreadable after line {number} ({error}); the rest of this file is skipped")


def _skip_to(stream: IO[bytes], start: int) -> int:
    """Move to byte `start`, returning the number of lines before it: a plain file seeks (and counts
    the newlines of the prefix at memory speed), a gzip one is decompressed up to it."""
    lines = 0
    if isinstance(stream, gzip.GzipFile):
        left = start
        while left and (chunk := stream.read(min(left, 1 << 20))):
            lines += chunk.count(b"\n")
            left -= len(chunk)
        return lines
    while stream.tell() < start and (chunk := stream.read(min(start - stream.tell(), 1 << 20))):
        lines += chunk.count(b"\n")
    return lines


def lines_from_end(path: Path, warn: Warn = warn_on_stderr, block: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line) from the last complete line back to the first, without their newline.

    A plain file is read backwards a block at a time, so stopping early costs only what was read; a
    gzip backup cannot be read backwards and is decompressed whole (it is at most the sink's
    rotation size). A torn last line is skipped, as by read_lines."""
    if path.name.endswith(GZIP_SUFFIX) or not path.exists():
        lines: list[tuple[int, bytes]] = []
        offset = 0
        try:
            with open_binary(path) as stream:
                while line := stream.readline(MAX_LINE_BYTES):
                    if line.endswith(b"\n"):
                        lines.append((offset, line.rstrip(b"\r\n")))
                    offset += len(line)
        except PermissionError:
            warn(f"{path}: permission denied; skipped")
        except (OSError, EOFError, zlib.error) as error:
            warn(f"{path}: unreadable after byte {offset} ({error}); the rest of this file is skipped")
        yield from reversed(lines)
        return
    try:
        with open_regular(path) as stream:
            yield from _backwards(path, stream, stream.seek(0, os.SEEK_END), block, warn)
    except PermissionError:
        warn(f"{path}: permission denied; skipped")
    except OSError as error:
        warn(f"{path}: unreadable ({error}); skipped")


def _backwards(path: Path, stream: IO[bytes], size: int, block: int, warn: Warn) -> Iterator[tuple[int, bytes]]:
    position = size
    carry = b""  # the start of the line that straddles the block read last
    dropping = True  # inside the bytes after the last newline (torn), or inside an overlong line
    while position > 0:
        begin = max(0, position - block)
        stream.seek(begin)
        pieces = (stream.read(position - begin) + carry).split(b"\n")
        position = begin
        if dropping:
            if len(pieces) == 1:
                carry = b""
                continue
            pieces.pop()
            dropping = False
        carry = pieces[0] if begin else b""
        lines = pieces[1:] if begin else pieces
        offset = begin + len(carry) + 1 if begin else 0
        starts = []
        for line in lines:
            starts.append(offset)
            offset += len(line) + 1
        for start, line in zip(reversed(starts), reversed(lines)):
            yield start, line.rstrip(b"\r")
        if len(carry) > MAX_LINE_BYTES:
            warn(f"{path}: a line ending at byte {begin + len(carry)} is longer than {MAX_LINE_BYTES >> 20} MiB; skipped")
            carry, dropping = b"", True


def _skip_to_newline(stream: IO[bytes]) -> None:
    while chunk := stream.readline(MAX_LINE_BYTES):
        if chunk.endswith(b"\n"):
            return


def parse_line(where: str, raw: bytes, warn: Warn = warn_on_stderr) -> dict[str, Any] | None:
    """One line as a JSON object, or None after a warning naming `where` (`file:line`)."""
    try:
        document = json.loads(raw)
    except RecursionError:
        warn(f"{where}: JSON nested too deeply to be an export request; skipped")
        return None
    except ValueError as error:
        warn(f"{where}: not JSON ({getattr(error, 'msg', error)}); skipped")
        return None
    if not isinstance(document, dict):
        warn(f"{where}: not an OTLP export request (a JSON {type(document).__name__}); skipped")
        return None
    return document


def warn_unless_request(path: Path, number: int, raw: bytes, warn: Warn) -> None:
    """For a line a reader passes over unparsed (not the run it looks for) and that does not start
    with `{` as an export request does: the warning `parse_line` would give, unless it is one after
    whitespace. Without it, `logs --runs` of a foreign file would read it all and say nothing."""
    if raw.lstrip()[:1] != b"{":
        parse_line(f"{path}:{number}", raw, warn)


def json_lines(file: SignalFile, warn: Warn = warn_on_stderr) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in read_lines(file.path, warn, file.start):
        document = parse_line(f"{file.path}:{number}", raw, warn)
        if document is not None:
            yield number, document
