"""Commands die with their runner, however it ends: SIGKILL and crashes included.

A command runs in its own session (so pause and cancel reach its whole tree), so nothing ties it to
the runner: a runner killed with SIGKILL left its command running. A parent-death signal
(PR_SET_PDEATHSIG) set in the command's first process would reach that process only, not a
shell's children, and it has to be set between fork and exec, which `preexec_fn` does unsafely in
a process with threads.

Instead one small guard process per runner holds the read end of a pipe and is told each command
group as it starts and ends. When the runner dies, whatever the way, the kernel closes the write
end; the guard reads EOF and SIGKILLs every group still running, then exits. It lives in its own
session, so a Ctrl-C at the terminal does not reach it, and it imports nothing beyond the stdlib.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

_GUARD = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin.buffer:
    op, pgid = line[:1], line[1:].strip()
    if not pgid.isdigit():
        continue
    if op == b"+":
        groups.add(int(pgid))
    elif op == b"-":
        groups.discard(int(pgid))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class OrphanGuard:
    """The runner's side: `ready()` before a command starts, `watch(pgid)` once it has, `release(pgid)`
    once its group is gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: int | None = None
        self._guard: subprocess.Popen[bytes] | None = None
        self._pid = 0

    def ready(self) -> None:
        """Start the guard (once per process) before the command, so none runs unguarded."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()

    def watch(self, pgid: int) -> None:
        self._send(b"+%d\n" % pgid)

    def release(self, pgid: int) -> None:
        self._send(b"-%d\n" % pgid)

    def _send(self, line: bytes) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child of the runner: it starts its own
                self._start()
            if self._pipe is None:
                return
            try:
                os.write(self._pipe, line)
            except OSError:  # the guard is gone: commands still end with the runner's normal exits
                os.close(self._pipe)
                self._pipe = None

    def _start(self) -> None:
        self._pid = os.getpid()
        self._pipe = None
        read_end, write_end = os.pipe()  # both non-inheritable: commands never hold the write end
        try:
            self._guard = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _GUARD], stdin=read_end, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError:
            os.close(write_end)
            return
        finally:
            os.close(read_end)
        self._pipe = write_end


#: The one guard of this process.
GUARD = OrphanGuard()
