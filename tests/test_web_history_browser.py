"""The finished-runs page in a real browser (Debian's chromium through Playwright), served by a real
`aiw-otel web` process from the log directory of a real `aiw-otel demo` run.

What the page shows is compared with traces.otlp.jsonl and logs.otlp.jsonl themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

import aiw_otel
from aiw_otel.config import FileSinkConfig, QueueConfig, SinksConfig
from aiw_otel.logdir import SIGNAL_FILES
from tests.otlp_files import attrs, file_lines, items_in
from tests.recorded_runs import debug_config
from tests.web_process import WebProcess, browser, page, waiting_run  # noqa: F401  (browser, page: fixtures)

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



def shown_name(span: dict) -> str:
    """A command is named by its line as the plan wrote it (as in the console and `logs`), any other
    span by its name."""
    return attrs(span).get("aiw.command.line", span["name"])

def test_the_waterfall_lists_every_span_in_order_and_a_click_shows_its_log_lines(history, demo_logs):
    page = history
    spans = file_spans(demo_logs)
    by_id = {span["spanId"]: span for span in spans}
    trace_id = spans[0]["traceId"]
    assert {span["traceId"] for span in spans} == {trace_id}, "the demo is one run"

    page.wait_for_selector(".hist-run-row")
    assert page.locator(".hist-run-row").evaluate_all("rows => rows.map(r => r.dataset.trace)") == [trace_id]
    assert page.locator(".hist-run-row .outcome").inner_text() == "Failed"
    plan = next(span for span in spans if not span.get("parentSpanId"))
    name = attrs(plan)["gen_ai.workflow.name"]  # the console's header names the run so
    assert name != attrs(plan)["aiw.plan.id"] and page.locator(".hist-run-row .plan").inner_text() == name
    page.click(".hist-run-row")
    page.wait_for_selector("#waterfall .span-row")
    assert page.locator(".hist-header .plan").inner_text() == name

    in_start_order = sorted(spans, key=lambda span: (int(span["startTimeUnixNano"]), depth(span, by_id)))
    shown = drawn_rows(page)
    assert [row["id"] for row in shown] == [span["spanId"] for span in in_start_order]
    for row, span in zip(shown, in_start_order):
        if "aiw.step.state" not in attrs(span):  # a step is shown by its name and type
            assert row["name"] == shown_name(span)
    assert [round((row["indent"] - 0.4) / 1.1) for row in shown] == [depth(span, by_id) for span in in_start_order]

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
    page.wait_for_selector(f'#span-detail[data-span-id="{command["spanId"]}"]')
    assert page.locator("#span-detail h3").inner_text() == shown_name(command)

    # every span, reached with the keyboard from the first and clicked, shows exactly its own log
    # lines and its attributes
    records = file_logs(demo_logs)
    assert records
    for index, span in enumerate(in_start_order):
        row = page.locator(f'#waterfall .span-row[data-span-id="{span["spanId"]}"]')
        if index:
            page.keyboard.press("ArrowDown")
            assert row.get_attribute("class").split().count("selected") == 1
        row.click()
        assert page.locator("#waterfall .span-row.selected").evaluate_all("rows => rows.map(r => r.dataset.spanId)") \
            == [span["spanId"]]
        page.wait_for_selector(f'#span-detail[data-span-id="{span["spanId"]}"]')
        expected = [record["body"]["stringValue"] for record in
                    sorted((r for r in records if r.get("spanId") == span["spanId"]), key=lambda r: int(r["timeUnixNano"]))]
        messages = page.locator("#span-logs .log .message").all_inner_texts()
        assert messages == expected, span["name"]
        attribute_names = page.locator("#span-detail table.attributes").first.locator("th").all_inner_texts()
        assert attribute_names == sorted(attrs(span))
    assert sum(1 for r in records if r.get("spanId") in by_id) == len(records), "every record belongs to a span"

    # the keyboard walks back up as it walked down
    for index in (len(shown) - 2, len(shown) - 3):
        page.keyboard.press("ArrowUp")
        assert page.locator("#waterfall .span-row.selected").get_attribute("data-span-id") == shown[index]["id"]
        page.wait_for_selector(f'#span-detail[data-span-id="{shown[index]["id"]}"]')


#: Scroll the waterfall from top to bottom, and list every row drawn on the way by where it stands.
DRAWN_ROWS = """async () => {
  const scroller = document.getElementById('waterfall-scroll');
  const seen = new Map();
  for (let top = 0; ; top += Math.max(1, Math.floor(scroller.clientHeight / 2))) {
    scroller.scrollTop = top;
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    for (const row of document.querySelectorAll('#waterfall .span-row')) {
      const y = row.getBoundingClientRect().top + scroller.scrollTop;
      seen.set(row.dataset.spanId, {id: row.dataset.spanId, y, name: row.querySelector('.name').textContent,
                                    indent: parseFloat(row.querySelector('.wf-label').style.paddingLeft)});
    }
    if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight) break;
  }
  scroller.scrollTop = 0;
  return [...seen.values()].sort((a, b) => a.y - b.y);
}"""


def drawn_rows(page: Any) -> list[dict[str, Any]]:
    """The waterfall's rows top to bottom, as a user scrolling through it sees them."""
    rows = page.evaluate(DRAWN_ROWS)
    assert len({row["y"] for row in rows}) == len(rows), "no two rows in one place"
    return rows


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of 600 steps (1,201 spans), each an AI call and two log lines, through the real file sink."""
    directory = tmp_path_factory.mktemp("big") / "logs"
    config = debug_config(sinks=SinksConfig(file=FileSinkConfig(directory=str(directory))),
                          queue=QueueConfig(max_size=1 << 16, batch_size=512))
    telemetry = aiw_otel.configure(config, environ={}, set_global=False, handle_signals=False)
    try:
        with telemetry.plan_run("plan-big", "big") as run:
            for index in range(600):
                with run.step(f"step-{index:04d}", "code_generation", f"Step {index}") as step:
                    with step.ai_call(provider="openai", model="gpt-4o") as call:
                        call.request_sent(prompt_tokens=10)
                        call.response_received(response_model="gpt-4o", input_tokens=10, output_tokens=2)
    finally:
        assert telemetry.shutdown(60.0)
    return directory


def test_a_big_run_draws_only_the_rows_in_sight_and_opens_any_span(page, big_run):
    spans = file_spans(big_run)
    by_id = {span["spanId"]: span for span in spans}
    in_start_order = sorted(spans, key=lambda span: (int(span["startTimeUnixNano"]), depth(span, by_id)))
    last = in_start_order[-1]
    server = WebProcess("web", str(big_run))
    try:
        page.goto(server.url + "#history")
        page.click(".hist-run-row")
        page.wait_for_selector("#waterfall .span-row")
        assert page.locator(".wf-axis .wf-label").inner_text() == "1201 spans"
        assert page.locator("#waterfall .span-row").count() < 100, "only the rows in sight are in the document"
        assert page.locator(".hist-header .plan").inner_text() == "big"
        page.locator("#waterfall .span-row").first.click()
        page.keyboard.press("ArrowDown")
        assert page.locator("#waterfall .span-row.selected").get_attribute("data-index") == "1"
        page.evaluate("() => { const s = document.getElementById('waterfall-scroll'); s.scrollTop = s.scrollHeight; }")
        row = page.locator(f'#waterfall .span-row[data-span-id="{last["spanId"]}"]')
        row.click()
        assert "selected" in row.get_attribute("class").split()
        page.wait_for_selector(f'#span-detail[data-span-id="{last["spanId"]}"]')
        assert page.locator("#span-detail h3").inner_text() == shown_name(last)
        assert page.locator("#waterfall .span-row").count() < 100
        rows = drawn_rows(page)
        assert [row["id"] for row in rows] == [span["spanId"] for span in in_start_order]
    finally:
        server.stop()


def test_the_page_loads_without_an_error_or_a_request_refused(page, web_url):
    """Nothing in the browser's console, no 4xx: no /favicon.ico the server does not have."""
    complaints: list[str] = []
    page.on("console", lambda message: complaints.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("response", lambda response: complaints.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.on("requestfailed", lambda request: complaints.append(f"failed {request.url}"))
    page.goto(web_url)
    page.wait_for_selector("#live-empty, #live-run:not([hidden])")
    page.click("#tab-history")
    page.click(".hist-run-row")
    page.wait_for_selector("#span-detail[data-span-id]")
    page.wait_for_load_state("networkidle")
    assert complaints == []


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


def test_a_run_still_going_is_named_and_its_live_link_opens_the_live_view(tmp_path, page):
    """Named by its start record (no plan span until it ends), linked to Live by its run id."""
    with waiting_run(tmp_path) as (_, logs):
        web = WebProcess("web", str(logs))
        try:
            page.goto(web.url + "#history")
            page.wait_for_selector(".hist-run-row .live-link")
            assert page.locator(".hist-run-row .plan").inner_text() == "waiting"
            page.click(".hist-run-row .live-link")
            page.wait_for_selector("#live-run", state="visible")
            assert page.evaluate("location.hash") == "#live" and page.locator("#history").is_hidden()
            page.wait_for_function("document.getElementById('plan-name').textContent === 'waiting'")
        finally:
            web.stop()
