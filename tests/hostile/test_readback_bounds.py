"""`aiw-otel logs` on hostile log files: a warning per bad line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aiw_otel.readback.files import find_files
from aiw_otel.readback.records import MAX_VALUE_DEPTH, load
from aiw_otel.readback.tree import build_runs
from tests.hostile.cli import aiw

#: Real aiw-otel processes: not in the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def _span(i: int, parent: int | None, start: Any = "1000", attributes: list[Any] | None = None) -> dict[str, Any]:
    return {"traceId": "ab" * 16, "spanId": f"{i:016x}", "parentSpanId": f"{parent:016x}" if parent else "",
            "name": f"s{i}", "kind": 1, "startTimeUnixNano": start, "endTimeUnixNano": "2000",
            "attributes": attributes or []}


def _log_dir(tmp_path: Path, *lines: str) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "traces.otlp.jsonl").write_text("".join(line + "\n" for line in lines))
    return logs


def _request(*spans: dict[str, Any]) -> str:
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []},
                                          "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]})


def _nested(depth: int) -> str:
    """A span line whose one attribute nests `depth` maps, built as text (json.dumps would recurse)."""
    value = '{"stringValue": "x"}'
    inner = '{"kvlistValue": {"values": [{"key": "k", "value": ' * depth + value + "}]}}" * depth
    return _request(_span(1, None)).replace('"attributes": []}', f'"attributes": [{{"key": "deep", "value": {inner}}}]}}')


@pytest.mark.parametrize("depth", [MAX_VALUE_DEPTH + 1, 5000, 100_000])
def test_deeply_nested_attributes_are_one_warning(tmp_path, depth):
    logs = _log_dir(tmp_path, _nested(depth), _request(_span(2, None)))
    warnings: list[str] = []
    spans, _ = load(find_files([logs]), warnings.append)
    assert [s.name for s in spans] == ["s2"]
    assert len(warnings) == 1 and "nested" in warnings[0] and "traces.otlp.jsonl:1" in warnings[0]
    result = aiw("logs", str(logs), "--no-color")
    assert result.returncode == 0 and "Traceback" not in result.stderr and "s2" in result.stdout


def test_attributes_nested_within_the_bound_are_kept(tmp_path):
    logs = _log_dir(tmp_path, _nested(MAX_VALUE_DEPTH - 1))
    (span,), _ = load(find_files([logs]), pytest.fail)
    assert "deep" in span.attributes


@pytest.mark.parametrize("start", ["1e400", '"1e400"', "-5", '"18446744073709551616"'])
def test_a_time_out_of_range_is_one_warning(tmp_path, start):
    line = _request(_span(1, None, start="PLACEHOLDER")).replace('"PLACEHOLDER"', start)
    logs = _log_dir(tmp_path, line)
    warnings: list[str] = []
    assert load(find_files([logs]), warnings.append) == ([], [])
    assert len(warnings) == 1 and "traces.otlp.jsonl:1" in warnings[0]
    result = aiw("logs", str(logs))
    assert "Traceback" not in result.stderr and warnings[0] in result.stderr


def test_a_20000_deep_span_chain_builds_and_renders(tmp_path):
    depth = 20_000
    logs = _log_dir(tmp_path, _request(*[_span(i, i - 1 if i > 1 else None) for i in range(1, depth + 1)]))
    spans, logs_read = load(find_files([logs]), pytest.fail)
    (run,) = build_runs(spans, logs_read)
    assert sum(1 for _ in run.nodes()) == depth
    result = aiw("logs", str(logs), "--no-color")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"{depth - 13} spans nested deeper than 12 levels" in " ".join(result.stdout.split())
