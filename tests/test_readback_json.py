"""`logs --json`: each line is exactly json.dumps of the record's JSON object, whatever its values
hold, and the streams come out merged by the time each record was written."""

from __future__ import annotations

import json
import math
from pathlib import Path

from aiw_otel.readback.files import find_files
from aiw_otel.readback.json_line import json_line
from aiw_otel.readback.records import decode, load
from aiw_otel.readback.stream import merge_batches, stream_records, time_written
from tests.cli_process import aiw

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _value(python: object) -> dict[str, object]:
    """An OTLP AnyValue as the JSON exporter writes it."""
    if isinstance(python, bool):
        return {"boolValue": python}
    if isinstance(python, int):
        return {"intValue": str(python)}
    if isinstance(python, float):
        return {"doubleValue": python if math.isfinite(python) else str(python).replace("inf", "Infinity")
                .replace("nan", "NaN")}
    if isinstance(python, list):
        return {"arrayValue": {"values": [_value(item) for item in python]}}
    if isinstance(python, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": _value(v)} for k, v in python.items()]}}
    return {"stringValue": python}


def _attributes(**values: object) -> list[dict[str, object]]:
    return [{"key": key.replace("_", "."), "value": _value(value)} for key, value in values.items()]


#: Values that test each way a JSON string or number can be written: escapes, non-ASCII, control
#: characters, a lone surrogate, NaN and the infinities, 64-bit ints, nesting, empty containers.
AWKWARD = dict(quote='say "hi"\\ now', accents="café ✓ 日本", control="tab\there\nnewline\x01\x7f",
               surrogate="\ud800", big=2**63 - 1, negative=-7, double=0.1, tiny=5e-324, nan=math.nan,
               inf=math.inf, minus_inf=-math.inf, flag=True, empty="", nested={"a": [1, "two", {"b": False}]},
               array=[], kvlist={}, zero=0.0)


def _spans_line() -> dict[str, object]:
    base = {"traceId": TRACE.upper(), "spanId": "B7AD6B7169203331", "name": "chat \"gpt\" ✓", "kind": 3,
            "startTimeUnixNano": "1700000000123456789", "endTimeUnixNano": "1700000001999999999"}
    spans = [
        {**base, "parentSpanId": "00f067aa0ba902b7", "attributes": _attributes(**AWKWARD),
         "status": {"code": 2, "message": "exit 3 \"boom\""},
         "events": [{"name": "exception", "timeUnixNano": "1700000001000000000",
                     "attributes": _attributes(exception_message="ça \"va\"")},
                    {"name": "bare", "timeUnixNano": "0"}]},
        {**base, "spanId": "1111111111111111", "kind": 9, "status": {"code": 7}},  # codes beyond OTLP's names
        {"traceId": "", "spanId": "", "name": "", "startTimeUnixNano": "0", "endTimeUnixNano": "0"},  # all defaults
    ]
    resource = {"attributes": _attributes(service_name="runner ✓")}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]},
                              {"resource": {}, "scopeSpans": [{"spans": [{**base, "spanId": "2222222222222222"}]}]}]}


def _logs_line() -> dict[str, object]:
    records = [
        {"timeUnixNano": "1700000000500000000", "severityNumber": 17, "severityText": "ERROR",
         "body": {"stringValue": "Step 'deploy' failed: \"exit 3\" ✓"}, "traceId": TRACE, "spanId": "b7ad6b7169203331",
         "attributes": _attributes(**AWKWARD)},
        {"observedTimeUnixNano": "1700000000600000000", "severityNumber": 10, "body": {"kvlistValue": {"values": [
            {"key": "n", "value": {"intValue": "3"}}]}}, "eventName": "gen_ai.choice"},
        {"timeUnixNano": "1700000000700000000", "body": {"arrayValue": {"values": [{"doubleValue": "NaN"}]}}},
        {"timeUnixNano": "1700000000800000000", "severityNumber": 0},  # no body, no level
    ]
    return {"resourceLogs": [{"resource": {"attributes": _attributes(service_name="runner")},
                              "scopeLogs": [{"logRecords": records}]}]}


def test_each_json_line_is_json_dumps_of_the_record_whatever_its_values():
    spans, _ = decode(_spans_line())
    _, logs = decode(_logs_line())
    assert len(spans) == 4 and len(logs) == 4
    for record in [*spans, *logs]:
        assert json_line(record) == json.dumps(record.as_json(), ensure_ascii=False, default=str)
    first = json.loads(json_line(spans[0]))
    assert first["attributes"]["accents"] == "café ✓ 日本" and math.isnan(first["attributes"]["nan"])
    assert first["kind"] == "CLIENT" and first["status"] == "ERROR" and first["events"][1]["time"] == "-"
    assert json.loads(json_line(spans[1]))["kind"] == "9" and json.loads(json_line(spans[1]))["status"] == "7"
    assert json.loads(json_line(logs[3]))["body"] is None and json.loads(json_line(logs[3]))["severity"] == "UNSPECIFIED"


def test_logs_json_prints_those_lines_in_time_written_order(tmp_path: Path):
    directory = tmp_path / "logs"
    directory.mkdir()
    (directory / "traces.otlp.jsonl").write_text(json.dumps(_spans_line()) + "\n", encoding="utf-8")
    (directory / "logs.otlp.jsonl").write_text(json.dumps(_logs_line()) + "\n", encoding="utf-8")
    spans, logs = load(find_files([directory]))
    expected = sorted([*spans, *logs], key=time_written)  # stable: logs' stream comes after the traces'
    result = aiw("logs", str(directory), "--json")
    assert result.returncode == 0 and result.stderr == ""
    lines = "".join(json.dumps(r.as_json(), ensure_ascii=False, default=str) + "\n" for r in expected)
    # the lone surrogate, which UTF-8 cannot hold, is printed as its JSON escape: the same value read back
    assert result.stdout == lines.replace("\ud800", "\\ud800")
    awkward = [json.loads(line) for line in result.stdout.splitlines() if "surrogate" in line]
    assert len(awkward) == 2 and {record["attributes"]["surrogate"] for record in awkward} == {"\ud800"}


def test_streams_merge_by_time_a_batch_at_a_time():
    traces = [[(1, "t1"), (5, "t5")], [(5, "t5b"), (9, "t9")], [(20, "t20")]]
    logs = [[(0, "l0"), (5, "l5"), (6, "l6")], [(7, "l7"), (30, "l30")]]
    merged = [item for batch in merge_batches([iter(traces), iter(logs)]) for item in batch]
    # a tie within one cut keeps the streams' order (t5 before l5); t5b came in the traces' next batch
    assert [text for _, text in merged] == ["l0", "t1", "t5", "l5", "t5b", "l6", "l7", "t9", "t20", "l30"]
    assert [item for batch in merge_batches([iter(traces)]) for item in batch] == [i for b in traces for i in b]
    assert list(merge_batches([])) == []
    with_empty = [item for batch in merge_batches([iter([[], *traces]), iter([[], [(3, "l3")], []])]) for item in batch]
    assert [text for _, text in with_empty] == ["t1", "l3", "t5", "t5b", "t9", "t20"]


def test_a_directory_streams_in_the_order_the_records_were_written(tmp_path: Path):
    """Two traces files and a logs file (two streams in two directories): one time order over all."""
    for name, line in (("a", _spans_line()), ("b", _logs_line())):
        (tmp_path / name).mkdir()
        signal = "traces" if name == "a" else "logs"
        (tmp_path / name / f"{signal}.otlp.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    records = list(stream_records(find_files([tmp_path / "a", tmp_path / "b"])))
    assert len(records) == 8
    assert [time_written(r) for r in records] == sorted(time_written(r) for r in records)
