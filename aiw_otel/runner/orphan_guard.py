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

A group's id is its first process's pid, known only once that process exists, and by then the
command may already be running: a runner killed between starting it and telling the guard (a
window of a few scheduler ticks under load) left it running. So the command starts behind a gate:
its first process is a shell waiting on a pipe only the runner writes to, which execs the command
(same pid, same group) once the guard has been told. A runner killed before that closes the pipe,
the shell reads EOF and exits: the command never runs, and nothing is left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import suppress
from typing import Any, Sequence

from aiw_otel.runner.command_line import SHELL

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

#: The gate (see above): one line from the runner lets the command run; EOF means the runner is
#: gone. The command gets /dev/null as stdin, as if started directly with stdin=DEVNULL.
_GATE = 'read -r _ || exit 125; exec "$@" </dev/null'


class OrphanGuard:
    """The runner's side: `popen()` starts a command as a new process group the guard knows of
    before the command runs, `release(pgid)` once its group is gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: int | None = None
        self._guard: subprocess.Popen[bytes] | None = None
        self._pid = 0

    def _ready(self) -> None:
        """Start the guard (once per process) before the command, so none runs unguarded."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """`subprocess.Popen(argv, **options)` in a new session with stdin /dev/null, that dies with
        the runner from its first instruction on. As for a line run through the shell, a program
        that cannot be executed is the shell's answer (exit 127 or 126, its message on stderr), and
        `PWD` is the command's directory rather than the runner's."""
        self._ready()
        gate, opener = os.pipe()  # non-inheritable: only the gate's shell gets the read end, as stdin
        try:
            try:
                proc = subprocess.Popen([SHELL, "-c", _GATE, SHELL, *argv], stdin=gate, start_new_session=True,
                                        **options)
            finally:
                os.close(gate)
            self.watch(proc.pid)
            with suppress(BrokenPipeError):  # it died already (a signal from outside): nothing to run
                os.write(opener, b"\n")
        finally:
            os.close(opener)
        return proc

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
