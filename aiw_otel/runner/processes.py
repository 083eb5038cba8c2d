"""Real commands for a step: a process group the user can pause, resume and cancel, fully accounted.

A command runs in its own session, so its whole tree is one process group: pausing stops all of it
(SIGSTOP), resuming continues it, and a cancel or a timeout ends all of it (SIGTERM, then SIGKILL
after a grace period), not just the shell at its top. When the command's own process exits, what
it left behind in its group (`server &`) is ended the same way: a finished command leaves no
processes. Output is read in chunks as it comes and handed to the Command span, which counts every
byte and line and records lines up to its caps; the model gets only a bounded tail of each stream.

A string command is a line of shell, as the model and plan authors write it. A line that needs
the shell (pipes, redirections, globs ...) runs through `/bin/sh -c` and its span is named `sh`;
a simple one (`python test_greet.py`) runs the program directly, with the same effect, so its
span is named after the program (see command_line). Either way `aiw.command.line` keeps the line
as written and `process.command_args` what was executed.
"""

from __future__ import annotations

import ctypes
import functools
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from aiw_otel.instrument.command import Command
from aiw_otel.instrument.host import ActionHost
from aiw_otel.model import LogLevel, RunCancelled
from aiw_otel.runner.command_line import direct_argv, shell_argv
from aiw_otel.runner.control import Hooks, RunControl
from aiw_otel.runner.orphan_guard import GUARD

#: How often the owner looks at timeouts, cancels and the leader's exit while output is quiet.
TICK_S = 0.02
#: Bytes read from a pipe at a time.
CHUNK = 64 * 1024
#: How long the group may take to vanish after SIGKILL before we report processes left behind.
KILL_WAIT_S = 5.0
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class CommandResult:
    """What the model and the engine learn of a command; the span has the full accounting."""

    exit_code: int
    stdout_tail: str
    stderr_tail: str
    timed_out: bool


def run_command(
    host: ActionHost,
    command: str | Sequence[str],
    *,
    cwd: Path,
    control: RunControl,
    timeout_s: float | None,
    env: Mapping[str, str] | None = None,
    max_output_for_model: int = 64 * 1024,
    grace_s: float = 3.0,
) -> CommandResult:
    """Run `command` in `cwd` under a command span; raises RunCancelled once a cancel has ended it.

    `timeout_s` counts running time only: time spent paused by the user does not use it up.
    """
    control.checkpoint()  # a paused run does not start new commands; a cancelled one starts none
    argv = _argv(command, os.environ if env is None else env)
    _adopt_orphans()
    cmd = host.command(argv, cwd=str(cwd), shown_as=command if isinstance(command, str) else None)
    with cmd:
        # Its own session and group, stdin /dev/null; it dies with the runner, even by SIGKILL.
        proc = GUARD.popen(argv, cwd=cwd, env=cmd.child_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cmd.started(proc.pid)
        group = _ProcessGroup(proc, grace_s)
        tails = {"stdout": _Tail(max_output_for_model), "stderr": _Tail(max_output_for_model)}
        try:
            with control.in_flight(Hooks(on_pause=group.pause, on_resume=group.resume, on_cancel=group.cancel)):
                _pump(cmd, group, tails, timeout_s)
        finally:
            gone = group.close()
            GUARD.release(proc.pid)
        cmd.exited(proc.returncode)
        _record_ending(cmd, group, timeout_s, gone)
        if group.reason == "cancel":
            raise RunCancelled("cancelled by user")
    return CommandResult(
        exit_code=proc.returncode,
        stdout_tail=tails["stdout"].text(),
        stderr_tail=tails["stderr"].text(),
        timed_out=group.reason == "timeout",
    )


def _argv(command: str | Sequence[str], environ: Mapping[str, str]) -> list[str]:
    if not isinstance(command, str):
        return [str(part) for part in command]
    return direct_argv(command, environ) or shell_argv(command)


def _pump(cmd: Command, group: _ProcessGroup, tails: dict[str, _Tail], timeout_s: float | None) -> None:
    """Move output to the span and the tails until the leader has exited and the pipes are closed."""
    proc = group.proc
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
        while True:
            leader_done = proc.poll() is not None
            if leader_done and not selector.get_map():
                return
            now = time.monotonic()
            if timeout_s is not None and group.running_time(now) >= timeout_s:
                group.terminate("timeout")
            elif leader_done:
                group.leader_exited(now)
            group.escalate_if_due(now)
            if group.abandon_pipes(now):
                return  # a process that left the group holds them; nothing more will come in time
            for key, _ in selector.select(TICK_S):
                chunk = os.read(key.fd, CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                cmd.output(key.data, chunk)
                tails[key.data].add(chunk)


class _ProcessGroup:
    """The command's process group: the user's requests reach it from any thread until it is closed.

    Only the owner reaps, and a group's id cannot be reused while any member, zombie or not, holds
    it; so signals reach this group or, once it is all gone, nothing (ProcessLookupError).
    """

    def __init__(self, proc: subprocess.Popen[bytes], grace_s: float) -> None:
        self.proc = proc
        self.pgid = proc.pid
        self.grace_s = grace_s
        #: Why we ended the group ("timeout", "cancel", "background"), None if it ended by itself.
        self.reason: str | None = None
        #: The ending signals sent, in order, for the record.
        self.signals: list[str] = []
        self._lock = threading.Lock()
        self._closed = False
        self._terminated_at: float | None = None
        self._killed_at: float | None = None
        self._leader_gone_at: float | None = None
        self._started_at = time.monotonic()
        self._paused_at: float | None = None
        self._paused_total = 0.0

    # -- the user's requests (any thread) -------------------------------------------------
    def pause(self) -> None:
        with self._lock:
            if self._closed or self._paused_at is not None:
                return
            self._paused_at = time.monotonic()
            self._send(signal.SIGSTOP)

    def resume(self) -> None:
        with self._lock:
            if self._closed or self._paused_at is None:
                return
            self._paused_total += time.monotonic() - self._paused_at
            self._paused_at = None
            self._send(signal.SIGCONT)

    def cancel(self) -> None:
        """Start ending the group and return at once; the owner escalates to SIGKILL after the grace period."""
        with self._lock:
            if not self._closed:
                self._terminate("cancel")

    # -- the owner ------------------------------------------------------------------------
    def running_time(self, now: float) -> float:
        with self._lock:
            paused = self._paused_total + (now - self._paused_at if self._paused_at is not None else 0.0)
        return now - self._started_at - paused

    def terminate(self, reason: str) -> None:
        with self._lock:
            self._terminate(reason)

    def escalate_if_due(self, now: float) -> None:
        with self._lock:
            if self._terminated_at is not None and self._killed_at is None and now - self._terminated_at >= self.grace_s:
                self._kill()

    def leader_exited(self, now: float) -> None:
        """The pipes are still open after the leader exited: either what it left in its group
        holds them (`server &`: end it), or the last output and the end of the streams have not
        been read yet, which is the usual case for a short command and no leftover at all. Only a
        group with members left is ended; otherwise the pipes get a grace period to close (a
        process that left the group may hold them)."""
        if self._has_members():
            self.terminate("background")
        elif self._leader_gone_at is None:
            self._leader_gone_at = now

    def abandon_pipes(self, now: float) -> bool:
        if self._killed_at is not None:
            return now - self._killed_at >= self.grace_s
        return self._leader_gone_at is not None and now - self._leader_gone_at >= self.grace_s

    def _has_members(self) -> bool:
        _reap_group(self.pgid)
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def close(self) -> bool:
        """Leave nothing behind: reap the leader, end and reap the rest; False if some survived even SIGKILL."""
        with self._lock:
            self._closed = True
            if self.proc.poll() is None:  # leaving early (an exception): no grace
                self._kill()
        self.proc.wait()
        gone = self._wait_gone()
        if not gone:  # what the command left outside its pipes (`sleep 100 >/dev/null &`)
            self._terminate("background")
            gone = self._wait_gone(self.grace_s)
        if not gone:
            self._kill()
            gone = self._wait_gone(KILL_WAIT_S)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return gone

    # -- signals (with the lock held, or by the owner once closed) --------------------------
    def _terminate(self, reason: str) -> None:
        if self._terminated_at is not None:
            return
        self.reason = reason
        self._terminated_at = time.monotonic()
        self._send(signal.SIGTERM)
        self._send(signal.SIGCONT)  # a stopped process acts on SIGTERM only once continued

    def _kill(self) -> None:
        self._killed_at = time.monotonic()
        self._send(signal.SIGKILL)

    def _send(self, sig: signal.Signals) -> None:
        if sig in (signal.SIGTERM, signal.SIGKILL):
            self.signals.append(sig.name)
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # already gone (or only members we may not signal are left)

    def _wait_gone(self, seconds: float = 0.0) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            _reap_group(self.pgid)
            try:
                os.killpg(self.pgid, 0)
            except ProcessLookupError:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(TICK_S)


class _Tail:
    """The last `limit` bytes of a stream: what the model sees of output that may be gigabytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        text = self.data.decode("utf-8", "replace")
        omitted = self.total - len(self.data)
        return f"[... {omitted} earlier bytes omitted ...]\n{text}" if omitted else text


_ENDINGS = {
    "timeout": ("command_timed_out", "Command '{command}' ran out of its {timeout_s} s; its process group was ended."),
    "cancel": ("command_cancelled", "Command '{command}' was cancelled; its process group was ended."),
    "background": ("command_leftovers_ended", "Processes left by command '{command}' were ended."),
}


def _record_ending(cmd: Command, group: _ProcessGroup, timeout_s: float | None, gone: bool) -> None:
    details: dict[str, object] = {"process_group": group.pgid, "signals": list(group.signals)}
    if group.reason is not None:
        action, message = _ENDINGS[group.reason]
        level = LogLevel.INFO if group.reason == "background" else LogLevel.WARNING
        cmd.log(level, action, message.format(command=cmd.command_line, timeout_s=timeout_s), details=details)
    # The exit code alone may hide why (a command that traps SIGTERM and exits 0) and cannot tell
    # a cancel from a crash by the same signal: name the reason, as the AI call does (`cancelled`).
    if group.reason == "timeout":
        cmd.set_error("timeout", f"command timed out after {timeout_s} s")
    elif group.reason == "cancel":
        cmd.set_error("cancelled", "command cancelled by the user")
    if not gone:
        cmd.log(LogLevel.ERROR, "command_processes_left", f"Processes of command '{cmd.command_line}' survived SIGKILL.",
                details=details)


def _reap_group(pgid: int) -> None:
    """Reap the group's members that were orphaned to us (see _adopt_orphans); Linux only."""
    if not hasattr(os, "P_PGID"):
        return
    try:
        while os.waitid(os.P_PGID, pgid, os.WEXITED | os.WNOHANG) is not None:
            pass
    except ChildProcessError:
        pass


@functools.cache
def _adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux PR_SET_CHILD_SUBREAPER).

    When a command's shell dies first, its children are re-parented. Under an init that does not
    reap (many containers' PID 1), they would stay zombies and keep the process group alive
    forever; adopted, we reap them by group and the group really is gone. Descendants that leave
    the group (daemons) are adopted too but are not ours to reap.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
