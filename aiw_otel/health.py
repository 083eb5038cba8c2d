"""Counting and reporting telemetry's own trouble without ever making it the runner's trouble.

A sink that fails a thousand times must not print a thousand tracebacks, and a report must not go
back through the pipeline that is failing, so reports go to a private stderr logger that does not
propagate to the root (where the OpenTelemetry bridge listens).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TextIO

_REPORT_INTERVAL_S = 30.0
#: How the end-of-run summary names what each signal counts.
_NOUNS = {"traces": "spans", "logs": "log records", "metrics": "metric points", "text": "text log lines"}


if TYPE_CHECKING:
    _StderrHandler = logging.StreamHandler[TextIO]
else:  # StreamHandler is subscriptable at runtime only from Python 3.11
    _StderrHandler = logging.StreamHandler


class _CurrentStderr(_StderrHandler):
    """Writes to whatever sys.stderr is at the time of the report, not at import time."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def internal_logger() -> logging.Logger:
    """Telemetry's own reports: stderr, prefixed, never through the pipeline (the root logger is bridged)."""
    logger = logging.getLogger("aiw_otel.internal")
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("aiw-otel: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    return logger


@dataclass(frozen=True)
class HealthSnapshot:
    """Counts at one moment, keyed by (sink, signal)."""

    dropped: dict[tuple[str, str], int]
    failures: dict[tuple[str, str], int]
    #: Records (spans, log records, metric points) that never reached the sink's destination:
    #: dropped by a full queue, in a batch the exporter failed, or still queued at the deadline.
    lost: dict[tuple[str, str], int]

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def total_failures(self) -> int:
        return sum(self.failures.values())


class TelemetryHealth:
    """Drop and failure counters for every sink, and rate-limited reports of failures."""

    def __init__(self, report_interval_s: float = _REPORT_INTERVAL_S) -> None:
        self._lock = threading.Lock()
        self._dropped: Counter[tuple[str, str]] = Counter()
        self._failures: Counter[tuple[str, str]] = Counter()
        self._lost: Counter[tuple[str, str]] = Counter()
        self._destinations: dict[str, str] = {}
        self._pending: list[tuple[str, str, Callable[[], int]]] = []
        self._last_report: dict[str, float] = {}
        self._unreported: Counter[str] = Counter()
        self._interval = report_interval_s
        self._log = internal_logger()
        self._reporter: Callable[[str], None] | None = None
        #: Why a sink lost records, for failures reported only in the end-of-run summary.
        self._reasons: dict[str, str] = {}

    def set_reporter(self, reporter: Callable[[str], None] | None) -> None:
        """Send reports somewhere else than stderr (None: back to stderr).

        A live console owns the terminal; a line written to stderr would tear its frame, so while
        it runs the reports go to its status bar instead.
        """
        self._reporter = reporter

    def dropped(self, sink: str, signal: str, count: int = 1) -> None:
        """A full queue refused records: count them (and say so once per interval)."""
        with self._lock:
            self._dropped[(sink, signal)] += count
            self._lost[(sink, signal)] += count
        self._report(sink, f"sink {sink!r} dropped {signal}: its queue is full", None)

    def failed(self, sink: str, signal: str, error: BaseException | str, lost: int = 0) -> None:
        """A sink raised or reported failure (losing `lost` records): count it and report it, rate-limited per sink."""
        with self._lock:
            self._failures[(sink, signal)] += 1
            self._lost[(sink, signal)] += lost
            if getattr(error, "report_at_end", False):  # a full disk: said once, with what it cost, at the end
                self._reasons.setdefault(sink, str(error))
                return
        detail = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._report(sink, f"sink {sink!r} failed to handle {signal}: {detail}", error)

    def unavailable(self, sink: str, reason: str) -> None:
        """A sink could not start (e.g. its directory is not writable): one clear report, the rest go on."""
        with self._lock:
            self._failures[(sink, "setup")] += 1
        self._report(sink, f"sink {sink!r} is off: {reason}", None)

    def problem(self, component: str, message: str) -> None:
        """Trouble of telemetry's own that is no sink's (a front end's subscriber failed, say):
        reported like a sink's, rate-limited per component, never printed over a live console."""
        self._report(component, message, None, what=repr(component))

    def track_pending(self, sink: str, signal: str, pending: Callable[[], int]) -> None:
        """Register how to count a sink's records not yet delivered (queued, or being sent).

        Whatever is still pending when the end-of-run summary is made will never be delivered.
        """
        with self._lock:
            self._pending.append((sink, signal, pending))

    def describe(self, sink: str, destination: str) -> None:
        """Where a sink sends its records (an endpoint URL), for the end-of-run summary."""
        self._destinations[sink] = destination

    def snapshot(self) -> HealthSnapshot:
        with self._lock:
            return HealthSnapshot(dict(self._dropped), dict(self._failures), dict(self._lost))

    def undelivered_summary(self) -> list[str]:
        """One line per sink that lost records: which destination, and how many of each signal.

        Made once the shutdown deadline has passed, when what is still pending is lost too.
        """
        lost = Counter(self.snapshot().lost)
        with self._lock:
            pending = list(self._pending)
        for sink, signal, count_pending in pending:
            lost[(sink, signal)] += count_pending()
        by_sink: dict[str, dict[str, int]] = {}
        for (sink, signal), count in lost.items():
            if count:
                by_sink.setdefault(sink, {})[signal] = count
        lines = []
        for sink, counts in sorted(by_sink.items()):
            where = f"sink {sink!r}" + (f" ({self._destinations[sink]})" if sink in self._destinations else "")
            order = sorted(counts, key=lambda signal: list(_NOUNS).index(signal) if signal in _NOUNS else len(_NOUNS))
            what = ", ".join(f"{counts[signal]} {_NOUNS.get(signal, signal)}" for signal in order)
            reason = self._reasons.get(sink)
            lines.append(f"{where} did not receive {what}" + (f" ({reason})" if reason else ""))
        return lines

    def _report(self, sink: str, message: str, error: BaseException | str | None, what: str = "this sink") -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last_report.get(sink)
            if last is not None and now - last < self._interval:
                self._unreported[sink] += 1
                return
            self._last_report[sink] = now
            suppressed = self._unreported.pop(sink, 0)
        if suppressed:
            message += f" ({suppressed} similar problems since the last report)"
        else:
            message += f" (further problems of {what} are reported at most every {self._interval:.0f} s)"
        try:
            if self._reporter is not None:
                self._reporter(f"telemetry: {message}")
            else:
                self._log.warning(message)
        except Exception:  # a closed stderr or a broken reporter must not turn a report into a crash
            pass
