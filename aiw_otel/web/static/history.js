// Finished runs, read by the server from the log files (aiw_otel/web/history.py): the list of runs,
// newest first, and one run as a waterfall of its spans, the failure first. Everything from the files
// goes into the page as text (textContent), never as markup: a span name or log line cannot inject.
// Durations, token counts and costs are written by the live view's functions (live.js, loaded first).
"use strict";

const AiwHistory = (() => {
  const {duration, tokens, cost} = AiwLive;
  const MARKS = {ok: "✔", failed: "✖", retried: "↻", cancelled: "■"};
  const section = document.getElementById("history");
  const view = {run: null, spans: [], index: new Map(), selected: null, rows: new Map()};  // the run shown: its spans, their indexes by id, the selected one, the rows drawn by index

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  /** UTC, as the files and `aiw-otel logs` write times: a date for a run, a clock for what is in it. */
  function isoTime(ns) {
    return ns == null ? "(running)" : new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19);
  }

  function clock(ns) {
    return new Date(ns / 1e6).toISOString().slice(11, 23);
  }

  function offset(ns, base) {
    return `+${duration((ns - base) / 1e6)}`;
  }

  function usage(item) {
    const used = item.input_tokens || item.output_tokens ? `${tokens(item.input_tokens)} in / ${tokens(item.output_tokens)} out` : "";
    return [used, cost(item.cost_usd)].filter(Boolean).join("  ");
  }

  async function getJson(path) {
    let response;
    try {
      response = await fetch(path);
    } catch (error) {
      throw new Error(`the monitor did not answer (${error.message})`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      // a plain-text refusal (403): its status says enough
    }
    if (!response.ok) throw new Error((body && body.message) || `${response.status} ${response.statusText}`);
    return body;
  }

  // -- the list of runs -------------------------------------------------------------------------
  async function showList() {
    view.run = null;
    const list = el("div", "hist-list");
    const heading = el("h2", "", "Finished runs");
    const refresh = el("button", "link", "refresh");
    refresh.type = "button";
    refresh.addEventListener("click", showList);
    heading.append(" ", refresh);
    list.append(heading);
    section.replaceChildren(list);
    let body;
    try {
      body = await getJson("/api/runs");
    } catch (error) {
      list.append(el("p", "hist-error", error.message));
      return;
    }
    const runs = body.runs;
    list.append(...warningsNote(body));
    if (!runs.length) {
      list.append(el("p", "empty", "No runs in this log directory yet."));
      return;
    }
    const table = el("table", "hist-runs");
    const head = table.createTHead().insertRow();
    for (const [title, cls] of [["Started (UTC)", ""], ["Plan", ""], ["Outcome", ""], ["Duration", "num"],
                                ["Tokens in / out", "num"], ["Cost", "num"], ["Trace", "trace"]]) {
      head.append(el("th", cls, title));
    }
    const tbody = table.createTBody();
    for (const run of runs) {
      const row = tbody.insertRow();
      row.className = "hist-run-row";
      row.dataset.trace = run.trace_id;
      row.dataset.outcome = run.outcome;
      row.tabIndex = 0;
      row.append(el("td", "", isoTime(run.start)), el("td", "plan", run.plan || "–"),
                 outcomeCell(run),
                 el("td", "num", run.duration_s == null ? "" : duration(run.duration_s * 1000)),
                 el("td", "num", run.input_tokens || run.output_tokens ? `${tokens(run.input_tokens)} / ${tokens(run.output_tokens)}` : ""),
                 el("td", "num", cost(run.cost_usd)), el("td", "trace", run.trace_id));
      row.addEventListener("click", () => showRun(run.trace_id));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter") showRun(run.trace_id); });
    }
    list.append(table);
  }

  /** A run still going that answers on its socket links to its Live view (`live`: its id there). */
  function outcomeCell(run) {
    const cell = el("td", "outcome", run.outcome);
    if (run.live) {
      const link = el("a", "live-link", "live →");
      link.href = "#live";
      link.title = "this run's Live view";
      link.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();  // not the row's click, which opens the run's files
        AiwLive.follow(run.live);
      });
      link.addEventListener("keydown", (event) => event.stopPropagation());
      cell.append(" ", link);
    }
    return cell;
  }

  // -- one run ------------------------------------------------------------------------------------
  // The server sends a run's spans as rows of `fields` (no attributes, events or log lines: a span's
  // come with /spans/ID when it is opened), and the waterfall puts only the rows in sight into the
  // document: a run of 10,000 spans draws as fast as one of 10.
  const ROW_HEIGHT = 25;  // px: history.css's .wf-row line height and border
  const OVERSCAN = 10;    // rows drawn above and below the visible ones, so a scroll shows no gap

  async function showRun(traceId) {
    const page = el("div", "hist-run");
    const back = el("button", "link", "← all runs");
    back.type = "button";
    back.addEventListener("click", showList);
    page.append(back);
    section.replaceChildren(page);
    let run;
    try {
      run = await getJson(`/api/runs/${encodeURIComponent(traceId)}`);
    } catch (error) {
      page.append(el("p", "hist-error", error.message));
      return;
    }
    const at = Object.fromEntries(run.fields.map((name, index) => [name, index]));
    view.run = run;
    view.spans = run.spans.map((row) => Object.fromEntries(Object.entries(at).map(([name, index]) => [name, row[index]])));
    view.index = new Map(view.spans.map((span, index) => [span.span_id, index]));
    view.rows.clear();
    view.selected = null;
    page.append(runHeader(run), ...warningsNote(run));
    if (run.failure) page.append(failurePanel(run.failure, run.start_ns));
    const body = el("div", "hist-body");
    const detail = el("div", "span-detail");
    detail.id = "span-detail";
    body.append(waterfall(run), detail);
    page.append(body);
    drawRows();
    if (run.logs.length) page.append(el("h3", "", "Log lines tied to no span"), logList(run.logs, run.start_ns));
    const first = run.failure ? run.failure.span_id : view.spans.length && view.spans[0].span_id;
    if (first) select(first);
  }

  /** The lines of the files the server could not read (torn, not JSON): said once, folded. */
  function warningsNote(body) {
    const warnings = body.warnings || [];
    if (!warnings.length) return [];
    const note = el("details", "hist-warnings");
    note.append(el("summary", "", `${warnings.length} line${warnings.length === 1 ? "" : "s"} of the files could not be read`));
    const list = el("ul");
    for (const warning of warnings) list.append(el("li", "", warning));
    note.append(list);
    return [note];
  }

  function runHeader(run) {
    const header = el("div", "hist-header");
    const state = el("span", "state", run.state);
    state.dataset.state = run.state;
    header.append(el("strong", "plan", run.plan || "(plan not written yet)"), state);
    if (run.end_ns != null) header.append(el("span", "figure", duration((run.end_ns - run.start_ns) / 1e6)));
    const used = usage(run);
    if (used) header.append(el("span", "figure", used));
    header.append(el("span", "figure", isoTime(run.start_ns)), el("span", "trace", `trace ${run.trace_id}`));
    return header;
  }

  function failurePanel(failure, base) {
    const panel = el("div", "hist-failure");
    panel.id = "hist-failure";
    panel.append(el("h3", "", "What failed"));
    const where = el("p", "where");
    const link = (title, spanId) => {
      const button = el("button", "link", title);
      button.type = "button";
      button.addEventListener("click", () => select(spanId, true));
      return button;
    };
    where.append(link(failure.step_title, failure.step_id));
    if (failure.span_id !== failure.step_id) where.append(" → ", link(failure.title, failure.span_id));
    panel.append(where);
    if (failure.error) panel.append(el("p", "error", failure.error));
    if (failure.logs.length) panel.append(logList(failure.logs, base));
    return panel;
  }

  /** The axis and a scrolling box as tall as every row would be, drawn with only the rows in sight. */
  function waterfall(run) {
    // a loop, not Math.max(...spans): a spread of 100,000s of arguments overflows the stack
    const total = view.spans.reduce((latest, span) => Math.max(latest, span.end == null ? span.start : span.end), 1);
    view.total = total;
    const chart = el("div", "waterfall");
    const axis = el("div", "wf-row wf-axis");
    axis.append(el("span", "wf-label", `${view.spans.length} span${view.spans.length === 1 ? "" : "s"}`));
    const ticks = el("span", "wf-track");
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el("span", "wf-tick", fraction ? duration(total * fraction / 1e3) : "0");
      tick.style.left = `${fraction * 100}%`;
      ticks.append(tick);
    }
    axis.append(ticks);
    const scroller = el("div", "wf-scroll");
    scroller.id = "waterfall-scroll";
    const list = el("ol", "wf-rows");
    list.id = "waterfall";
    list.style.height = `${view.spans.length * ROW_HEIGHT}px`;
    list.addEventListener("click", (event) => {
      const row = event.target.closest(".span-row");
      if (row) select(row.dataset.spanId);
    });
    list.addEventListener("keydown", keyOnRow);
    let pending = false;
    scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; drawRows(); });
    });
    scroller.append(list);
    view.scroller = scroller;
    view.list = list;
    chart.append(axis, scroller);
    return chart;
  }

  /** Put the rows in sight (and OVERSCAN more each way) into the list, and take the others out. */
  function drawRows() {
    const {scroller, list, spans, rows} = view;
    const height = scroller.clientHeight || 800;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(spans.length, Math.ceil((scroller.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    for (const [index, row] of rows) {
      if (index < first || index >= last) {
        row.remove();
        rows.delete(index);
      }
    }
    for (let index = first; index < last; index++) {
      if (rows.has(index)) continue;
      const row = spanRow(spans[index], index);
      rows.set(index, row);
      list.append(row);
    }
  }

  function spanRow(span, index) {
    const row = el("li", "wf-row span-row");
    row.dataset.spanId = span.span_id;
    row.dataset.index = index;
    row.dataset.outcome = span.outcome;
    row.style.top = `${index * ROW_HEIGHT}px`;
    const failure = view.run.failure;
    if (failure && span.span_id === failure.span_id) row.classList.add("failure");
    if (failure && span.span_id === failure.step_id) row.classList.add("failed-step");
    if (span.span_id === view.selected) row.classList.add("selected");
    if (span.state) row.dataset.state = span.state;
    const missing = span.outcome === "missing";
    const label = el("span", "wf-label");
    label.style.paddingLeft = `${0.4 + span.depth * 1.1}em`;
    label.append(el("span", "mark", markOf(span)), el("span", "name", missing ? "(a span not in the files)" : span.label));
    label.title = span.label;
    const track = el("span", "wf-track");
    const bar = el("span", "wf-bar");
    const end = span.end == null ? span.start : span.end;
    const [from, to] = [span.start / view.total * 100, end / view.total * 100];
    bar.style.left = `${from}%`;
    bar.style.width = `${Math.max(to - from, 0.15)}%`;
    const took = el("span", "wf-took", span.end == null ? "" : duration((span.end - span.start) / 1e3));
    if (span.state) {
      const state = el("span", "state", span.state);
      state.dataset.state = span.state;
      took.append(state);
    }
    if (to <= 70) {
      took.style.left = `${to}%`;
    } else if (from >= 25) {  // no room after the bar: before it
      took.style.right = `${100 - from}%`;
    } else {  // a bar across the chart: inside it
      took.classList.add("inside");
      took.style.left = `${from}%`;
    }
    track.append(bar, took);
    row.append(label, track);
    row.tabIndex = 0;
    return row;
  }

  function markOf(span) {
    if (span.outcome === "missing") return "?";
    if (span.state === "Skipped") return "–";
    return MARKS[span.outcome] || MARKS.ok;
  }

  function keyOnRow(event) {
    const row = event.target.closest(".span-row");
    if (!row) return;
    if (event.key === "Enter") select(row.dataset.spanId);
    const step = {ArrowDown: 1, ArrowUp: -1}[event.key];
    if (!step) return;
    event.preventDefault();
    const next = view.spans[Number(row.dataset.index) + step];
    if (next) select(next.span_id, true);
  }

  /** Scroll the row of span `index` into sight (drawing it) and return it: by a row when it is the
   *  next one out of sight (Up/Down), else to the middle of the box (the failure, a link). */
  function reveal(index) {
    const {scroller} = view;
    const top = index * ROW_HEIGHT;
    const [above, below] = [top < scroller.scrollTop, top + ROW_HEIGHT > scroller.scrollTop + scroller.clientHeight];
    if (top + 2 * ROW_HEIGHT <= scroller.scrollTop || top - ROW_HEIGHT >= scroller.scrollTop + scroller.clientHeight) {
      scroller.scrollTop = top - (scroller.clientHeight - ROW_HEIGHT) / 2;
    } else if (above) {
      scroller.scrollTop = top;
    } else if (below) {
      scroller.scrollTop = top + ROW_HEIGHT - scroller.clientHeight;
    }
    drawRows();
    return view.rows.get(index);
  }

  // -- one span -----------------------------------------------------------------------------------
  /** Mark span `spanId` selected (its row focused with `focus`) and show its details, fetched. */
  async function select(spanId, focus = false) {
    const index = view.index.get(spanId);
    if (index == null) return;
    for (const row of view.list.querySelectorAll(".span-row.selected")) row.classList.remove("selected");
    view.selected = spanId;
    const row = reveal(index);
    row.classList.add("selected");
    if (focus) row.focus();
    const detail = document.getElementById("span-detail");
    detail.removeAttribute("data-span-id");
    detail.replaceChildren(el("h3", "", view.spans[index].label || "A span not in the files"), el("p", "empty", "loading…"));
    let span;
    try {
      span = await getJson(`/api/runs/${view.run.trace_id}/spans/${encodeURIComponent(spanId)}`);
    } catch (error) {
      if (view.selected === spanId) detail.replaceChildren(el("p", "hist-error", error.message));
      return;
    }
    if (view.selected !== spanId) return;  // another span was opened meanwhile
    showSpan(detail, span);
  }

  function showSpan(detail, span) {
    const base = view.run.start_ns;
    const parts = [el("h3", "", span.missing ? "A span not in the files" : span.title || span.name)];
    const facts = el("dl", "facts");
    const fact = (name, value) => {
      if (value == null || value === "") return;
      facts.append(el("dt", "", name), el("dd", "", value));
    };
    fact("name", span.name);
    fact("kind", span.kind);
    fact("status", [span.status, span.status_message].filter(Boolean).join(": "));
    fact("state", span.state);
    fact("started", `${clock(span.start)} (${offset(span.start, base)})`);
    if (span.end != null) fact("duration", duration((span.end - span.start) / 1e6));
    fact("usage", usage(span));
    fact("span id", span.span_id);
    parts.push(facts);
    parts.push(el("h4", "", "Attributes"), attributeTable(span.attributes));
    parts.push(el("h4", "", `Events (${span.events.length})`));
    const events = el("ol", "events");
    events.id = "span-events";
    for (const event of span.events) {
      const item = el("li", "event");
      item.append(el("span", "time", clock(event.time)), el("span", "name", event.name));
      if (Object.keys(event.attributes).length) item.append(attributeTable(event.attributes));
      events.append(item);
    }
    parts.push(events);
    parts.push(el("h4", "", `Log lines (${span.logs.length})`));
    const logs = logList(span.logs, base);
    logs.id = "span-logs";
    parts.push(logs);
    detail.replaceChildren(...parts);
    detail.dataset.spanId = span.span_id;  // filled: what a test waits for
  }

  function attributeTable(attributes) {
    const table = el("table", "attributes");
    const keys = Object.keys(attributes).sort();
    for (const key of keys) {
      const row = table.insertRow();
      const value = attributes[key];
      row.append(el("th", "", key), el("td", "", typeof value === "string" ? value : JSON.stringify(value)));
    }
    if (!keys.length) table.insertRow().append(el("td", "empty", "none"));
    return table;
  }

  function logList(records, base) {
    const list = el("ol", "logs");
    for (const record of records) {
      const item = el("li", "log");
      item.dataset.level = record.severity;
      item.title = offset(record.time, base);
      item.append(el("span", "time", clock(record.time)), el("span", "level", record.severity),
                  el("span", "component", `[${record.component || "-"}]`), el("span", "message", record.message));
      list.append(item);
    }
    if (!records.length) list.append(el("li", "empty", "none"));
    return list;
  }

  // -- the tab ------------------------------------------------------------------------------------
  function onTab() {
    if (location.hash === "#history" && !view.run) showList();
  }

  window.addEventListener("hashchange", onTab);
  onTab();
  return {showRun};
})();
