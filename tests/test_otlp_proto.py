"""`ship`'s protobuf encoder writes, byte for byte, what protobuf's own JSON parser makes of a line
(`ParseDict(...).SerializeToString()`), and hands every shape it does not cover to that parser."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from aiw_otel.readback import otlp_proto
from aiw_otel.readback.files import find_files, read_lines
from aiw_otel.readback.ship import SIGNALS, _ids_to_base64, encode_request
from tests.recorded_runs import record_runs

TRACE_ID, SPAN_ID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"


def parse_dict(document: dict[str, Any]) -> bytes | None:
    """What protobuf's JSON parser makes of a line (hex ids turned to base64 first, as its mapping
    wants); None when it refuses the line."""
    from google.protobuf import json_format

    kind = next(k for k in SIGNALS if k.json_key in document)
    message = kind.request()
    try:
        json_format.ParseDict(_ids_to_base64(copy.deepcopy(document)), message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError):
        return None
    return message.SerializeToString()


def direct(document: dict[str, Any]) -> bytes | None:
    """The encoder's bytes, None when it leaves the line to the parser."""
    try:
        return otlp_proto.encode(copy.deepcopy(document))
    except (otlp_proto.Unknown, ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def assert_as_parse_dict(document: dict[str, Any], *, encoded_directly: bool) -> None:
    expected = parse_dict(document)
    made = direct(document)
    assert (made is not None) == encoded_directly, json.dumps(document)[:300]
    if made is not None:
        assert made == expected, json.dumps(document)[:300]
    if expected is None:
        with pytest.raises(ValueError):
            encode_request(copy.deepcopy(document))
    else:
        assert encode_request(copy.deepcopy(document))[1] == expected


def lines_of(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for file in find_files([directory]) for _, line in read_lines(file.path)]


@pytest.mark.slow
def test_every_line_the_demo_and_recorded_runs_write_is_encoded_directly_as_the_parser_would(demo_logs, tmp_path):
    record_runs(tmp_path / "logs", "one", "two")
    documents = lines_of(demo_logs) + lines_of(tmp_path / "logs")
    assert {next(iter(document)) for document in documents} == {"resourceSpans", "resourceLogs", "resourceMetrics"}
    for document in documents:
        assert_as_parse_dict(document, encoded_directly=True)
    for document in documents:  # again, now from the caches
        assert_as_parse_dict(document, encoded_directly=True)


def span(**fields: Any) -> dict[str, Any]:
    item = {"traceId": TRACE_ID, "spanId": SPAN_ID, "name": "chat", "kind": 3,
            "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000", **fields}
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]},
                               "scopeSpans": [{"scope": {"name": "aiw_otel", "version": "0.1.0"}, "spans": [item]}]}]}


def attribute(value: Any) -> dict[str, Any]:
    return span(attributes=[{"key": "k", "value": value}, {"key": "after", "value": {"stringValue": "ok"}}])


DEEP = {"kvlistValue": {"values": [{"key": "n", "value": {"kvlistValue": {"values": [
    {"key": "deep", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"boolValue": False}, {}]}}},
    {"key": "unset"}]}}}]}}


@pytest.mark.parametrize("value", [
    {"stringValue": ""}, {"stringValue": "ünïcödé ✓ \u2028"}, {"boolValue": False}, {"boolValue": True},
    {"intValue": "-5"}, {"intValue": -1}, {"intValue": 0}, {"intValue": "-9223372036854775808"},
    {"intValue": 9223372036854775807}, {"intValue": "007"}, {"doubleValue": 0}, {"doubleValue": 0.0},
    {"doubleValue": -0.0}, {"doubleValue": 1e308}, {"doubleValue": -2.5}, {"doubleValue": 3},
    {"bytesValue": "aGVsbG8="}, {"bytesValue": "aGVsbG8"}, {"bytesValue": "-_8="}, {"bytesValue": ""}, {},
    {"arrayValue": {}}, {"arrayValue": {"values": []}}, {"kvlistValue": {"values": []}}, DEEP,
    {"stringValueStrindex": 4},
])
def test_attribute_values_of_every_kind_are_encoded_directly(value):
    assert_as_parse_dict(attribute(value), encoded_directly=True)


@pytest.mark.parametrize("value", [
    {"doubleValue": "NaN"}, {"doubleValue": "Infinity"}, {"doubleValue": "-Infinity"}, {"doubleValue": "1.5"},
    {"intValue": 5.0}, {"intValue": "1e3"}, {"intValue": "12 "}, {"intValue": True},
    {"intValue": "9223372036854775808"},
    {"boolValue": "true"}, {"boolValue": 1}, {"stringValue": 5}, {"stringValue": None}, {"stringValue": "\ud800"},
    {"stringValue": "a", "intValue": "1"}, {"string_value": "snake"}, {"otherValue": 1}, {"bytesValue": 5},
    {"arrayValue": {"values": [{"doubleValue": "NaN"}]}}, {"arrayValue": []}, "text", None,
])
def test_values_the_encoder_leaves_to_the_parser_end_as_the_parser_has_them(value):
    assert_as_parse_dict(attribute(value), encoded_directly=False)


def test_a_pair_without_a_value_or_with_a_string_index_is_encoded_directly():
    assert_as_parse_dict(span(attributes=[{"key": "novalue"}, {"key": "", "value": {"intValue": "1"}},
                                          {"key": "i", "keyStrindex": 2, "value": {"stringValue": "v"}}]),
                         encoded_directly=True)


@pytest.mark.parametrize("fields", [
    {}, {"status": {}}, {"status": {"code": 2, "message": "boom"}}, {"flags": 256, "traceState": "a=b"},
    {"parentSpanId": ""}, {"parentSpanId": "5b0744c7b38ccfc4"}, {"kind": -1}, {"kind": 0}, {"kind": 99},
    {"startTimeUnixNano": 1544712660000000000, "endTimeUnixNano": "18446744073709551615"},
    {"droppedAttributesCount": 3, "droppedEventsCount": 4294967295, "droppedLinksCount": 1},
    {"events": [{"timeUnixNano": "1", "name": "e", "attributes": [{"key": "a", "value": {"intValue": "2"}}]},
                {"name": "", "droppedAttributesCount": 1}, {}]},
    {"links": [{"traceId": TRACE_ID, "spanId": SPAN_ID, "traceState": "x", "flags": 1,
                "attributes": [{"key": "l", "value": {"boolValue": True}}], "droppedAttributesCount": 2}]},
    {"traceId": "", "spanId": ""}, {"name": ""},
])
def test_span_fields_are_encoded_directly(fields):
    assert_as_parse_dict(span(**fields), encoded_directly=True)


@pytest.mark.parametrize("fields", [
    {"kind": "SPAN_KIND_SERVER"}, {"status": {"code": "STATUS_CODE_ERROR"}}, {"unknownField": 1},
    {"parent_span_id": "5b0744c7b38ccfc4"}, {"kind": None}, {"events": None}, {"events": [None]},
    {"droppedAttributesCount": 4294967296}, {"droppedAttributesCount": -1}, {"startTimeUnixNano": "-1"},
    {"startTimeUnixNano": "18446744073709551616"}, {"traceId": "not hex"}, {"status": "ok"}, {"attributes": {}},
    {"kind": 2147483648},
])
def test_span_shapes_the_encoder_leaves_to_the_parser_end_as_the_parser_has_them(fields):
    assert_as_parse_dict(span(**fields), encoded_directly=False)


def test_resources_scopes_and_empty_levels_are_encoded_directly():
    for document in (
        {"resourceSpans": []}, {"resourceSpans": [{}]}, {"resourceSpans": [{"scopeSpans": [{}]}]},
        {"resourceSpans": [{"resource": {}, "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
                            "scopeSpans": [{"scope": {}, "schemaUrl": "s", "spans": []}]}]},
        {"resourceSpans": [{"resource": {"droppedAttributesCount": 2, "entityRefs": [
            {"type": "service", "schemaUrl": "u", "idKeys": ["service.name", ""], "descriptionKeys": []}, {}]},
            "scopeSpans": [{"scope": {"name": "n", "attributes": [{"key": "a", "value": {"stringValue": "b"}}],
                                      "droppedAttributesCount": 1}}]}]},
    ):
        assert_as_parse_dict(document, encoded_directly=True)


def log(**fields: Any) -> dict[str, Any]:
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": [fields]}]}]}


def test_log_records_are_encoded_directly():
    for record in (
        {}, {"timeUnixNano": "1", "observedTimeUnixNano": "2", "severityNumber": 17, "severityText": "ERROR",
             "body": {"stringValue": "failed"}, "flags": 1, "traceId": TRACE_ID, "spanId": SPAN_ID,
             "eventName": "e", "droppedAttributesCount": 3},
        {"body": {}}, {"body": DEEP}, {"body": {"stringValue": "failed"}}, {"body": {"intValue": "3"}},
    ):
        assert_as_parse_dict(log(**record), encoded_directly=True)
    assert_as_parse_dict(log(severityNumber="SEVERITY_NUMBER_ERROR"), encoded_directly=False)
    assert_as_parse_dict(log(body={"stringValue": None}), encoded_directly=False)


def metric(**fields: Any) -> dict[str, Any]:
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "unit": "1", **fields}]}]}]}


EXEMPLAR = {"timeUnixNano": "5", "asDouble": 0.5, "traceId": TRACE_ID, "spanId": SPAN_ID,
            "filteredAttributes": [{"key": "f", "value": {"stringValue": "g"}}]}


@pytest.mark.parametrize("fields", [
    {"gauge": {"dataPoints": [{"asDouble": 0.0, "timeUnixNano": "1"}, {"asInt": "-3", "flags": 1}, {}]}},
    {"sum": {"dataPoints": [{"asInt": "0", "attributes": [{"key": "a", "value": {"stringValue": "b"}}],
                             "exemplars": [EXEMPLAR, {"asInt": "-1"}]}], "aggregationTemporality": 2,
             "isMonotonic": True}},
    {"sum": {"aggregationTemporality": 1, "isMonotonic": False}},
    {"histogram": {"dataPoints": [{"count": "3", "sum": 0, "bucketCounts": ["1", "2", "0"], "explicitBounds": [0.5, 1],
                                   "min": -0.0, "max": 7.5}, {"bucketCounts": [], "explicitBounds": []}],
                   "aggregationTemporality": 2}},
    {"exponentialHistogram": {"dataPoints": [{"count": "4", "scale": -2, "zeroCount": "1", "zeroThreshold": 0.0,
                                              "positive": {"offset": -1, "bucketCounts": ["3", "0", "300"]},
                                              "negative": {}, "sum": 1.5, "exemplars": [EXEMPLAR]},
                                             {"scale": 3, "zeroThreshold": -0.0}]}},
    {"summary": {"dataPoints": [{"count": "2", "sum": -0.0, "quantileValues": [{"quantile": 0.5, "value": -0.0},
                                                                              {"quantile": 1, "value": 2}]}]}},
    {"description": "d", "metadata": [{"key": "m", "value": {"stringValue": "v"}}]},
])
def test_metrics_of_every_kind_are_encoded_directly(fields):
    assert_as_parse_dict(metric(**fields), encoded_directly=True)


@pytest.mark.parametrize("fields", [
    {"gauge": {}, "sum": {}}, {"gauge": {"dataPoints": [{"asDouble": 1.0, "asInt": "1"}]}},
    {"gauge": {"dataPoints": [{"asDouble": "NaN"}]}},
    {"sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA"}},
    {"histogram": {"dataPoints": [{"bucketCounts": [-1]}]}},
])
def test_metric_shapes_the_encoder_leaves_to_the_parser_end_as_the_parser_has_them(fields):
    assert_as_parse_dict(metric(**fields), encoded_directly=False)


def test_cached_encodings_never_stand_in_for_a_value_of_another_type():
    """1 == 1.0 == True in Python: a cache keyed by value alone would send one for another."""
    for value in ({"stringValue": "1"}, {"intValue": "1"}, {"intValue": 1}, {"doubleValue": 1}, {"boolValue": True},
                  {"doubleValue": 1.0}, {"intValue": "1"}, {"stringValue": "1"}, {"boolValue": True}, {"intValue": 1}):
        document = span(kind=1, flags=1, attributes=[{"key": "k", "value": value}] * 2)
        assert_as_parse_dict(document, encoded_directly=True)
    for member in ({"intValue": "1"}, {"intValue": 1}, {"boolValue": True}, {"stringValue": "1"}, {"intValue": "1"}):
        summary = {"kvlistValue": {"values": [{"key": "tokens", "value": member}]}}
        assert_as_parse_dict(log(attributes=[{"key": "summary", "value": summary}] * 2), encoded_directly=True)
    assert_as_parse_dict(span(kind=True), encoded_directly=False)
    assert_as_parse_dict(span(kind=1.0), encoded_directly=False)


def test_caches_are_bounded():
    attributes = otlp_proto.Attributes(9)
    for number in range(otlp_proto.CACHE_ENTRIES + 10):
        attributes([{"key": "id", "value": {"stringValue": str(number)}}])
    assert 0 < len(attributes.cache) <= otlp_proto.CACHE_ENTRIES


def test_nesting_deeper_than_the_encoder_goes_is_left_to_the_parser():
    value: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(otlp_proto.MAX_DEPTH + 2):
        value = {"arrayValue": {"values": [value]}}
    assert_as_parse_dict(attribute(value), encoded_directly=False)

