"""Run the demo through the real stack and draw what the backends hold: the README's stack pictures.

    .venv/bin/python examples/stack_snapshot.py

It starts the same servers as the stack tests (tests/stack.py: the Collector built from
collector-config/otelcol-aiw running collector-config/otel-collector.yaml unchanged, Jaeger v2 with
collector-config/jaeger.yaml, Debian's Prometheus with collector-config/prometheus.yml and alerts.yml),
on free 127.0.0.1 ports with their files in a temporary directory. Then it runs
`aiw-otel demo --no-console` exporting OTLP/HTTP to the Collector, waits until Jaeger holds the whole
trace and Prometheus has scraped the run's final values three times, asks both the way a user's
browser would, stops every server and renders, with Rich's recorder:

* docs/stack-jaeger-trace.svg: the trace as Jaeger's query API returns it (`/api/traces/ID`), as a
  waterfall: plan -> steps -> AI calls, tool calls, files and commands, with kind, status and duration;
* docs/stack-prometheus-series.svg: every series Prometheus holds for the run (the Collector's
  exporter, job="aiwhisperer-runner"), by metric, and the alerts and scrape targets;
* docs/stack-dashboard.svg: for every panel of grafana/dashboards/aiw-runner.json, in its rows, what its
  queries return from that Prometheus (Grafana's variables as on first load: every runner, the last
  hour, a 1-minute rate window); a time series panel shows its latest value.

Needs the servers `bash .ci/build-stack.sh` builds (and Debian's `prometheus`); without them it says
which command to run and exits 2. Writes nothing else into the repository. Trace and span ids, times
and durations differ on every run; the shape and the counts do not.
"""

from __future__ import annotations

import io
import math
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.deploy_support import DASHBOARDS, panels, substitute  # noqa: E402
from tests.processes import until  # noqa: E402
from tests.stack import (Collector, Jaeger, Prometheus, Server, run_demo, start_collector,  # noqa: E402
                         start_jaeger, start_prometheus)

DOCS = ROOT / "docs"
TRACE_SVG = DOCS / "stack-jaeger-trace.svg"
SERIES_SVG = DOCS / "stack-prometheus-series.svg"
DASHBOARD_SVG = DOCS / "stack-dashboard.svg"
DASHBOARD = DASHBOARDS / "aiw-runner.json"

SERVICE = "aiwhisperer-runner"
#: The run's series: the job the Collector's exporter gives them (service.name).
RUN = f'{{job="{SERVICE}"}}'
#: Seconds for the trace to pass the Collector's and Jaeger's batching, and for three scrapes.
ARRIVAL_DEADLINE_S = 30.0
SCRAPE_DEADLINE_S = 60.0
WIDTH = 160


# ---------------------------------------------------------------- running the stack


@dataclass
class Snapshot:
    trace: dict[str, Any]
    series: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    #: panel_key(panel) -> (target, result vector) for each of its queries.
    panel_results: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]]


def take_snapshot(directory: Path) -> Snapshot:
    """Start the stack, run the demo, read the backends, stop every server (also on error)."""
    servers: list[Server] = []
    try:
        jaeger: Jaeger = start_jaeger(directory)
        servers.append(jaeger)
        collector: Collector = start_collector(directory, jaeger)
        servers.append(collector)
        prometheus: Prometheus = start_prometheus(directory, collector)
        servers.append(prometheus)
        print("stack up: Jaeger, Collector, Prometheus; running aiw-otel demo ...", flush=True)

        demo = run_demo(collector, directory / "demo")
        expected = len(demo.file_spans)

        def whole_trace() -> dict[str, Any] | None:
            found = (jaeger.api(f"/api/traces/{demo.trace_id}") or {}).get("data") or []
            return found[0] if found and len(found[0]["spans"]) >= expected else None

        trace = until(whole_trace, f"Jaeger to hold the run's {expected} spans", ARRIVAL_DEADLINE_S)
        until(lambda: prometheus.query(f"count_over_time(aiw_plan_runs_total{RUN}[1m]) >= 3"),
              "three scrapes of the run in Prometheus", SCRAPE_DEADLINE_S)
        # The alert rules are evaluated every second here; give AiwStepsFailed its evaluation.
        until(lambda: prometheus.query(f'ALERTS{{job="{SERVICE}"}}'), "the run's alerts", SCRAPE_DEADLINE_S)

        # The collector's series for this run (the runner target's own scrape series are not the run's).
        instance = prometheus.query(f"aiw_plan_runs_total{RUN}")[0]["metric"]["instance"]
        series = prometheus.query(f'{{job="{SERVICE}", instance="{instance}"}}')
        alerts = prometheus.query("ALERTS")
        targets = prometheus.api("/api/v1/targets")["activeTargets"]
        panel_results: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = defaultdict(list)
        for panel, target in dashboard_targets():
            panel_results[panel_key(panel)].append((target, prometheus.query(substitute(target["expr"]))))
        return Snapshot(trace, series, alerts, targets, panel_results)
    finally:
        for server in reversed(servers):
            server.stop()


def dashboard() -> dict[str, Any]:
    import json

    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panel_key(panel: dict[str, Any]) -> str:
    return f"{panel.get('title')} {panel.get('gridPos')}"


def dashboard_targets() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(panel, target) for panel in panels(dashboard()) for target in panel.get("targets", [])
            if "expr" in target]


# ---------------------------------------------------------------- shared rendering


def recorder() -> Console:
    return Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor")


def save(console: Console, path: Path, title: str) -> None:
    path.parent.mkdir(exist_ok=True)
    console.save_svg(str(path), title=title)


def fmt_seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1_000_000:.0f} µs"


def fmt_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


# ---------------------------------------------------------------- the trace


KIND_STYLE = {"client": "magenta", "server": "cyan", "internal": "blue", "producer": "yellow", "consumer": "yellow"}


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span.get("tags", ())}


def parent(span: dict[str, Any]) -> str | None:
    refs = [r["spanID"] for r in span.get("references", ()) if r["refType"] == "CHILD_OF"]
    return refs[0] if refs else None


def detail(span: dict[str, Any]) -> str:
    """The one or two attributes that say what a span did."""
    t = tags(span)
    op = t.get("gen_ai.operation.name")
    if t.get("otel.status_code") == "ERROR" and "otel.status_description" in t:
        return t["otel.status_description"]
    if "aiw.plan.state" in t:
        return f"plan {t.get('aiw.plan.id', '')}: {t['aiw.plan.state']}"
    if "aiw.step.state" in t:
        return f"step {t.get('aiw.step.id', '')}: {t['aiw.step.state']}"
    if op == "chat":
        if "error.type" in t:
            return t["error.type"]
        return f"tokens {t.get('gen_ai.usage.input_tokens', '?')} in / {t.get('gen_ai.usage.output_tokens', '?')} out"
    if op == "execute_tool":
        return f"id {t.get('gen_ai.tool.call.id', '')}"
    if "aiw.file.operation" in t:
        size = t.get("aiw.file.bytes_written", t.get("aiw.file.bytes_read"))
        return f"{t.get('aiw.file.relative_path', '')} ({size} B)"
    if "aiw.command.line" in t:
        return f"{t['aiw.command.line']} → exit {t.get('process.exit.code', '?')}"
    return ""


def render_trace(trace: dict[str, Any]) -> None:
    spans = trace["spans"]
    service = {p["serviceName"] for p in trace["processes"].values()}
    start = min(s["startTime"] for s in spans)
    end = max(s["startTime"] + s["duration"] for s in spans)
    total = max(end - start, 1)
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        children[parent(span)].append(span)
    for kids in children.values():
        kids.sort(key=lambda s: s["startTime"])

    bar_width = 40
    table = Table(box=None, pad_edge=False, show_edge=False, expand=False, header_style="bold")
    table.add_column("span (operation name)", no_wrap=True, width=37)
    table.add_column("kind", no_wrap=True, width=8)
    table.add_column("status", no_wrap=True, width=6)
    table.add_column("duration", justify="right", no_wrap=True, width=9)
    table.add_column(f"0 {'timeline':─^{bar_width - 4 - len(fmt_seconds(total / 1e6))}} {fmt_seconds(total / 1e6)}",
                     no_wrap=True, width=bar_width)
    table.add_column("what it did (attributes; a failed span's error)", no_wrap=True, overflow="ellipsis",
                     width=WIDTH - 37 - 8 - 6 - 9 - bar_width - 2 * 5)

    def add(span: dict[str, Any], prefix: str, last: bool, depth: int) -> None:
        t = tags(span)
        kind = t.get("span.kind", "internal")
        error = t.get("otel.status_code") == "ERROR"
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        name = Text(prefix + branch, style="dim")
        name.append(span["operationName"], style="bold red" if error else ("bold" if depth <= 1 else ""))
        offset = (span["startTime"] - start) / total * bar_width
        length = span["duration"] / total * bar_width
        left = int(offset)
        cells = max(1, round(offset + length) - left)
        bar = Text(" " * left)
        bar.append("█" * min(cells, bar_width - left) if length >= 0.5 else "▏",
                   style="red" if error else KIND_STYLE.get(kind, "blue"))
        status = Text("error", style="bold red") if error else Text(t.get("otel.status_code", "unset").lower(),
                                                                   style="dim")
        table.add_row(name, Text(kind, style=KIND_STYLE.get(kind, "")), status,
                      fmt_seconds(span["duration"] / 1e6), bar, Text(detail(span), style="dim" if not error else "red"))
        kids = children.get(span["spanID"], [])
        for i, kid in enumerate(kids):
            add(kid, prefix + ("" if depth == 0 else ("   " if last else "│  ")), i == len(kids) - 1, depth + 1)

    for root in children[None]:
        add(root, "", True, 0)

    console = recorder()
    console.print(Text.assemble(("Jaeger ", "bold"), "· service ", (", ".join(sorted(service)), "bold cyan"),
                                " · trace ", (trace["traceID"], "bold"), f" · {len(spans)} spans"))
    console.print(Text(f"GET /api/traces/{trace['traceID']} on Jaeger v2 after `aiw-otel demo` exported OTLP to the "
                       "Collector (collector-config/otel-collector.yaml); bars: start and duration within the trace",
                       style="dim"))
    console.print()
    console.print(table)
    save(console, TRACE_SVG, "Jaeger: the demo run's trace")


# ---------------------------------------------------------------- the series


#: Labels every series of the run has with the same value; named once in the header.
COMMON_LABELS = ("job", "instance", "otel_scope_name", "otel_scope_version")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def label_text(metric: dict[str, str], drop: tuple[str, ...] = COMMON_LABELS) -> str:
    labels = [f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__" and k not in drop]
    return "{" + ", ".join(labels) + "}" if labels else ""


def shared_labels(metrics: list[dict[str, str]], drop: tuple[str, ...]) -> dict[str, str]:
    """The labels (but `drop`) that every one of `metrics` has with the same value."""
    first = metrics[0]
    return {k: v for k, v in sorted(first.items()) if k != "__name__" and k not in drop
            and all(m.get(k) == v for m in metrics)}


def render_series(snapshot: Snapshot) -> None:
    series = snapshot.series
    first = series[0]["metric"]
    common = {k: first[k] for k in COMMON_LABELS if k in first
              and all(s["metric"].get(k) == first[k] for s in series if s["metric"]["__name__"] != "target_info")}
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in series:
        by_name[s["metric"]["__name__"]].append(s)
    # Histograms: one family, its _count and _sum per label set; the buckets summed up in one line.
    families: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for name, items in by_name.items():
        family = next((name[: -len(x)] for x in HISTOGRAM_SUFFIXES if name.endswith(x)
                       and any(name[: -len(x)] + "_bucket" == n for n in by_name)), name)
        families[family][name] = items

    blocks = []
    for family in sorted(families, key=lambda f: (f == "target_info", f)):
        members = families[family]
        histogram = family + "_bucket" in members
        main = members[family + "_count"] if histogram else next(iter(members.values()))
        drop = ("job", "instance") if family == "target_info" else COMMON_LABELS
        shared = shared_labels([s["metric"] for s in main], drop) if len(main) > 1 else {}
        hide = drop + tuple(shared)
        values = {float(s["value"][1]) for s in main}
        alike = not histogram and len(main) > 6 and len(values) == 1
        body = Table(box=None, show_header=False, pad_edge=False, expand=True, padding=(0, 1))
        body.add_column(ratio=1, overflow="fold")
        for _ in range(0 if alike else 2 if histogram else 1):
            body.add_column(justify="right", no_wrap=True)
        if shared:
            body.add_row(Text(f"all {len(main)}: {label_text(shared, ())}", style="dim"))
        if alike:
            varying = sorted({k for s in main for k in s["metric"] if k not in hide + ("__name__",)})
            names = ", ".join(sorted("/".join(s["metric"].get(k, "") for k in varying) for s in main))
            body.add_row(Text.assemble(("every one ", "dim"), (fmt_number(values.pop()), "bold"),
                                       (f"; {'/'.join(varying)} = ", "dim"), (names, "cyan")))
        elif histogram:
            sums = {label_text(s["metric"]): float(s["value"][1]) for s in members.get(family + "_sum", [])}
            for count in sorted(main, key=lambda s: label_text(s["metric"])):
                body.add_row(Text(label_text(count["metric"], hide) or "{}", style="cyan"),
                             Text.assemble(("count ", "dim"), (fmt_number(float(count["value"][1])), "bold")),
                             Text.assemble(("sum ", "dim"),
                                           (fmt_number(sums.get(label_text(count["metric"]), float("nan"))), "bold")))
            buckets = members[family + "_bucket"]
            les = sorted({b["metric"]["le"] for b in buckets}, key=float)
            body.add_row(Text(f"_bucket: le {les[0]} … {les[-1]}, {len(les)} bounds per label set "
                              f"({len(buckets)} series)", style="dim"))
        else:
            for item in sorted(main, key=lambda s: label_text(s["metric"])):
                body.add_row(Text(label_text(item["metric"], hide) or "{}", style="cyan"),
                             Text(fmt_number(float(item["value"][1])), style="bold"))
        title = f"{family}  [dim]histogram: _bucket, _count, _sum[/]" if histogram else family
        blocks.append(Panel(body, title=title, title_align="left", border_style="dim", padding=(0, 1)))

    # Two columns, each metric whole, balanced by height.
    half = Console(width=WIDTH // 2 - 1, file=io.StringIO())
    heights = [len(half.render_lines(block, half.options)) for block in blocks]
    left, right, lh, rh = [], [], 0, 0
    for block, h in zip(blocks, heights):
        if lh <= rh:
            left.append(block)
            lh += h
        else:
            right.append(block)
            rh += h
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(Group(*left), Group(*right))

    console = recorder()
    console.print(Text.assemble(("Prometheus ", "bold"), f"· {len(series)} series of the demo run · ",
                                (label_text(common, ()), "bold cyan")))
    console.print(Text("Scraped from the Collector's prometheus exporter (collector-config/prometheus.yml, "
                       "job otel-collector, honor_labels); every series also carries the labels above. "
                       "Instant query {job=..., instance=...} three scrapes after the run.", style="dim"))
    console.print(grid)

    alerts = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    alerts.add_column("alert")
    alerts.add_column("state")
    alerts.add_column("labels")
    for a in sorted(snapshot.alerts, key=lambda a: a["metric"]["alertname"]):
        m = a["metric"]
        alerts.add_row(m["alertname"], Text(m["alertstate"], style="bold red" if m["alertstate"] == "firing"
                                            else "yellow"),
                       label_text(m, ("alertname", "alertstate", "instance")))
    targets = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    targets.add_column("scrape job")
    targets.add_column("health")
    targets.add_column("note")
    notes = {"otel-collector": "the Collector's exporter: the run's series",
             SERVICE: "a runner's own /metrics (--prometheus-port); none serves one here",
             "pushgateway": "no Pushgateway runs here (compose has one)",
             "prometheus": "Prometheus itself"}
    for t in sorted(snapshot.targets, key=lambda t: t["labels"]["job"]):
        job = t["labels"]["job"]
        targets.add_row(job, Text(t["health"], style="green" if t["health"] == "up" else "yellow"),
                        Text(notes.get(job, ""), style="dim"))
    bottom = Table.grid(expand=True, padding=(0, 2))
    bottom.add_column(ratio=1)
    bottom.add_column(ratio=1)
    bottom.add_row(Panel(alerts, title="ALERTS", title_align="left", border_style="dim"),
                   Panel(targets, title="Status → Targets", title_align="left", border_style="dim"))
    console.print(bottom)
    save(console, SERIES_SVG, "Prometheus: the demo run's series")


# ---------------------------------------------------------------- the dashboard


def fmt_unit(value: float, unit: str) -> str:
    if math.isnan(value):
        return "NaN"
    if unit == "s":
        return fmt_seconds(value) if value else "0 s"
    if unit == "currencyUSD":
        return f"${value:.5f}".rstrip("0").rstrip(".") if value else "$0"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "reqps":
        return f"{value:.3g} req/s"
    if unit == "Bps":
        return f"{value:.3g} B/s"
    return fmt_number(value)


def legend(target: dict[str, Any], metric: dict[str, str]) -> str:
    template = target.get("legendFormat") or ""
    if not template:
        return label_text(metric, ()) or target.get("refId", "")
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), template).strip()


def panel_body(panel: dict[str, Any], results: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> Any:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    # In the targets' order; within a target by legend (Prometheus returns a vector in no set order).
    rows = [row for target, result in results
            for row in sorted((legend(target, r["metric"]), float(r["value"][1])) for r in result)]
    if not rows:
        return Text("No data", style="yellow")
    kind = panel["type"]
    body = Table(box=None, show_header=False, pad_edge=False, expand=True, padding=(0, 1))
    body.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    if kind == "bargauge":
        # Grafana's horizontal bar gauge: the name above its bar, the bar as long as its share of the largest.
        top = max((v for _, v in rows if not math.isnan(v)), default=0) or 1
        cells = max(4, panel["gridPos"]["w"] * WIDTH // 24 - 16)
        body.add_column(justify="right", no_wrap=True)
        for name, value in rows:
            filled = 0 if math.isnan(value) else round(value / top * cells)
            body.add_row(Text(name or "(no labels)"), "")
            body.add_row(Text("█" * filled, style="green") + Text("░" * (cells - filled), style="dim"),
                         Text(fmt_unit(value, unit), style="bold"))
    else:
        body.add_column(justify="right", no_wrap=True)
        for name, value in rows:
            style = "bold green" if kind == "stat" else ("dim" if math.isnan(value) else "bold")
            body.add_row(name, Text(fmt_unit(value, unit), style=style))
    if kind == "timeseries":
        return Group(Text("latest value", style="dim italic"), body)
    return body


def render_dashboard(snapshot: Snapshot) -> None:
    board = dashboard()
    console = recorder()
    console.print(Text.assemble(("Grafana dashboard ", "bold"), (f"“{board['title']}”", "bold cyan"),
                                f" ({DASHBOARD.relative_to(ROOT)}) · panel values as Prometheus returns them for "
                                "the dashboard's queries; Grafana renders these as graphs"))
    console.print(Text("Variables as on first load: Runner (job) = All, range = last 1 h, $__rate_interval = 1m. "
                       "Stat and bar gauge panels: their instant queries; time series: the latest point.",
                       style="dim"))
    rows: list[tuple[str, list[dict[str, Any]]]] = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            rows.append((panel["title"], list(panel.get("panels", []))))
        elif rows:
            rows[-1][1].append(panel)
        else:
            rows.append(("", [panel]))
    for title, members in rows:
        console.print(Text(f"▾ {title}", style="bold"))
        lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for panel in members:
            lines[panel["gridPos"]["y"]].append(panel)
        for y in sorted(lines):
            line = sorted(lines[y], key=lambda p: p["gridPos"]["x"])
            grid = Table.grid(expand=True, padding=(0, 0))
            for panel in line:
                grid.add_column(ratio=panel["gridPos"]["w"])
            grid.add_row(*(Panel(panel_body(p, snapshot.panel_results.get(panel_key(p), [])),
                                 title=f"[bold]{p['title']}[/]", title_align="left", border_style="dim",
                                 subtitle=f"[dim]{p['type']}[/]", subtitle_align="right", padding=(0, 1))
                           for p in line))
            console.print(grid)
    console.print(Text(
        "NaN: no point (a gap in the graph). Counters exist at 0 from a run's start (exported then), so their "
        "increase() shows; a histogram's series first arrive with their counts, so for a run shorter than the "
        "60 s metric export interval the per-interval quantiles have no point and the \"in range\" panels are "
        "the ones to read.", style="dim"))
    save(console, DASHBOARD_SVG, "Grafana: what each panel of the runner dashboard shows")


# ---------------------------------------------------------------- main


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aiw-stack-snapshot-") as tmp:
        try:
            snapshot = take_snapshot(Path(tmp))
        except pytest.skip.Exception as skipped:
            print(f"cannot run the stack: {skipped.msg}", file=sys.stderr)
            return 2
    render_trace(snapshot.trace)
    render_series(snapshot)
    render_dashboard(snapshot)
    for path in (TRACE_SVG, SERIES_SVG, DASHBOARD_SVG):
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
