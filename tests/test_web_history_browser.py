"""The finished-runs page in a real browser (Debian's chromium through Playwright), served by a real
`aiw-otel web` process from the log directory of a real `aiw-otel demo` run.

What the page shows is compared with traces.otlp.jsonl and logs.otlp.jsonl themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from aiw_otel.logdir import SIGNAL_FILES
from tests.otlp_files import attrs, file_lines, items_in
from tests.web_process import WebProcess, browser, page  # noqa: F401  (browser, page: fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web_url(demo_logs: Path) -> Iterator[str]:
    """`aiw-otel web DEMO_LOGS` as a user starts it; its printed address (token included)."""
    server = WebProcess("web", str(demo_logs))
    yield server.url
    server.stop()


def file_spans(directory: Path) -> list[dict[str, Any]]:
    return items_in(file_lines(directory / SIGNAL_FILES["traces"]), "traces")


def file_logs(directory: Path) -> list[dict[str, Any]]:
    return items_in(file_lines(directory / SIGNAL_FILES["logs"]), "logs")


def depth(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> int:
    parent = by_id.get(span.get("parentSpanId", ""))
    return 0 if parent is None else 1 + depth(parent, by_id)


@pytest.fixture
def history(page: Any, web_url: str) -> Any:
    """The page at the finished runs of the demo's log directory."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(web_url + "#history")
    return page


def test_the_waterfall_lists_every_span_in_order_and_a_click_shows_its_log_lines(history, demo_logs):
    page = history
    spans = file_spans(demo_logs)
    by_id = {span["spanId"]: span for span in spans}
    trace_id = spans[0]["traceId"]
    assert {span["traceId"] for span in spans} == {trace_id}, "the demo is one run"

    page.wait_for_selector(".hist-run-row")
    assert page.locator(".hist-run-row").evaluate_all("rows => rows.map(r => r.dataset.trace)") == [trace_id]
    assert page.locator(".hist-run-row .outcome").inner_text() == "Failed"
    page.click(".hist-run-row")
    page.wait_for_selector("#waterfall .span-row")

    rows = page.locator("#waterfall .span-row")
    shown = rows.evaluate_all("rows => rows.map(r => r.dataset.spanId)")
    in_start_order = sorted(spans, key=lambda span: (int(span["startTimeUnixNano"]), depth(span, by_id)))
    assert shown == [span["spanId"] for span in in_start_order]
    names = rows.locator(".name").all_inner_texts()
    for name, span in zip(names, in_start_order):
        if "aiw.step.state" not in attrs(span):  # a step is shown by its name and type, the rest by span name
            assert name == span["name"]
    indents = rows.locator(".wf-label").evaluate_all("labels => labels.map(l => parseFloat(l.style.paddingLeft))")
    assert [round((indent - 0.4) / 1.1) for indent in indents] == [depth(span, by_id) for span in in_start_order]

    # the failure first: its panel above the waterfall, the failed command marked and already open
    failed = [span for span in spans if span.get("status", {}).get("code") == 2]
    command = max(failed, key=lambda span: depth(span, by_id))
    assert attrs(command).get("process.exit.code") == "1"
    panel = page.locator("#hist-failure")
    assert panel.is_visible() and "What failed" in panel.text_content()
    assert panel.evaluate("panel => panel.compareDocumentPosition(document.getElementById('waterfall')) & 4") == 4
    assert page.locator("#waterfall .span-row.failure").evaluate_all("rows => rows.map(r => r.dataset.spanId)") \
        == [command["spanId"]]
    assert page.locator("#waterfall .span-row.selected").get_attribute("data-span-id") == command["spanId"]
    assert page.locator("#span-detail h3").inner_text() == command["name"]

    # every span, clicked, shows exactly its own log lines, and its attributes
    records = file_logs(demo_logs)
    assert records
    for index, span in enumerate(in_start_order):
        rows.nth(index).click()
        assert rows.nth(index).get_attribute("class").split().count("selected") == 1
        expected = [record["body"]["stringValue"] for record in
                    sorted((r for r in records if r.get("spanId") == span["spanId"]), key=lambda r: int(r["timeUnixNano"]))]
        messages = page.locator("#span-logs .log .message").all_inner_texts()
        assert messages == expected, span["name"]
        attribute_names = page.locator("#span-detail table.attributes").first.locator("th").all_inner_texts()
        assert attribute_names == sorted(attrs(span))
    assert sum(1 for r in records if r.get("spanId") in by_id) == len(records), "every record belongs to a span"

    # the keyboard walks the rows as the mouse does
    rows.nth(0).focus()
    for key, index in (("ArrowDown", 1), ("ArrowDown", 2), ("ArrowUp", 1)):
        page.keyboard.press(key)
        assert page.locator("#waterfall .span-row.selected").get_attribute("data-span-id") == shown[index]
        assert page.locator("#span-detail h3").inner_text() == names[index]


def test_an_unknown_run_is_one_line_on_the_page_not_a_broken_one(history):
    page = history
    page.wait_for_selector(".hist-run-row")
    page.evaluate("AiwHistory.showRun('0123')")
    page.wait_for_selector(".hist-error")
    assert "no run with a trace id starting '0123'" in page.locator(".hist-error").inner_text()
    page.click("text=← all runs")
    page.wait_for_selector(".hist-run-row")


def test_a_line_the_server_could_not_read_is_said_on_the_page(tmp_path, page, demo_logs):
    directory = tmp_path / "logs"
    directory.mkdir()
    traces = SIGNAL_FILES["traces"]
    torn = b'{"resourceSpans": [{"aiw.plan.state": \n'  # decoded by the run list, which looks for plan spans
    (directory / traces).write_bytes(torn + (demo_logs / traces).read_bytes())
    server = WebProcess("web", str(directory))
    try:
        page.goto(server.url + "#history")
        page.wait_for_selector(".hist-run-row")
        note = page.locator(".hist-warnings summary")
        assert note.inner_text() == "1 line of the files could not be read"
        note.click()
        assert f"{traces}:1: not JSON" in page.locator(".hist-warnings li").inner_text()
    finally:
        server.stop()
