// Finished runs, read by the server from the log files (aiw_otel/web/history.py): the list of runs,
// newest first, and one run as a waterfall of its spans, the failure first. Everything from the files
// goes into the page as text (textContent), never as markup: a span name or log line cannot inject.
// Durations, token counts and costs are written by the live view's functions (live.js, loaded first).
"use strict";

const AiwHistory = (() => {
  const {duration, tokens, cost} = AiwLive;
  const MARKS = {ok: "✔", failed: "✖", retried: "↻", cancelled: "■"};
  const section = document.getElementById("history");
  const view = {run: null, selected: null, rows: new Map()};  // the run shown, its selected span, its rows

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
                 el("td", "outcome", run.outcome),
                 el("td", "num", run.duration_s == null ? "" : duration(run.duration_s * 1000)),
                 el("td", "num", run.input_tokens || run.output_tokens ? `${tokens(run.input_tokens)} / ${tokens(run.output_tokens)}` : ""),
                 el("td", "num", cost(run.cost_usd)), el("td", "trace", run.trace_id));
      row.addEventListener("click", () => showRun(run.trace_id));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter") showRun(run.trace_id); });
    }
    list.append(table);
  }

  // -- one run ------------------------------------------------------------------------------------
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
    view.run = run;
    view.rows.clear();
    const byId = new Map(run.spans.map((span) => [span.span_id, span]));
    const root = run.spans.find((span) => span.depth === 0) || run.spans[0];
    page.append(runHeader(run, root), ...warningsNote(run));
    if (run.failure) page.append(failurePanel(run, byId));
    const body = el("div", "hist-body");
    const detail = el("div", "span-detail");
    detail.id = "span-detail";
    body.append(waterfall(run, root), detail);
    page.append(body);
    if (run.logs.length) {
      page.append(el("h3", "", "Log lines tied to no span"), logList(run.logs, root ? root.start : 0));
    }
    select(run.failure || (root && root.span_id));
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

  function runHeader(run, root) {
    const header = el("div", "hist-header");
    if (!root) return header;
    const outcome = root.state || (root.status === "ERROR" ? "Failed" : "done");
    const state = el("span", "state", outcome);
    state.dataset.state = outcome;
    const plan = root.attributes["gen_ai.workflow.name"] || root.title || root.name;
    header.append(el("strong", "plan", plan), state);
    if (root.end != null) header.append(el("span", "figure", duration((root.end - root.start) / 1e6)));
    const used = usage(root);
    if (used) header.append(el("span", "figure", used));
    header.append(el("span", "figure", isoTime(root.start)), el("span", "trace", `trace ${run.trace_id}`));
    return header;
  }

  function failurePanel(run, byId) {
    const cause = byId.get(run.failure);
    const step = byId.get(run.failed_step) || cause;
    const panel = el("div", "hist-failure");
    panel.id = "hist-failure";
    panel.append(el("h3", "", "What failed"));
    const where = el("p", "where");
    const link = el("button", "link", step.title || step.name);
    link.type = "button";
    link.addEventListener("click", () => select(step.span_id));
    where.append(link);
    if (cause !== step) {
      const inner = el("button", "link", cause.title || cause.name);
      inner.type = "button";
      inner.addEventListener("click", () => select(cause.span_id));
      where.append(" → ", inner);
    }
    panel.append(where);
    const error = [cause.attributes["error.type"], cause.status_message || step.status_message].filter(Boolean).join(": ");
    if (error) panel.append(el("p", "error", error));
    const lines = [];
    for (const span of run.spans) {
      if (span === step || isBelow(span, step, byId)) lines.push(...span.logs);
    }
    lines.sort((a, b) => a.time - b.time);
    if (lines.length) panel.append(logList(lines.slice(-5), step.start));
    return panel;
  }

  function isBelow(span, ancestor, byId) {
    for (let parent = byId.get(span.parent_span_id); parent; parent = byId.get(parent.parent_span_id)) {
      if (parent === ancestor) return true;
    }
    return false;
  }

  /** A row per span in start order: its name indented by depth, and a bar placed by its start and end. */
  function waterfall(run, root) {
    const starts = run.spans.map((span) => span.start);
    const ends = run.spans.map((span) => span.end == null ? span.start : span.end);
    const base = Math.min(...starts);
    const total = Math.max(1, Math.max(...ends) - base);
    const chart = el("div", "waterfall");
    const axis = el("div", "wf-row wf-axis");
    axis.append(el("span", "wf-label", "span"));
    const ticks = el("span", "wf-track");
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el("span", "wf-tick", fraction ? duration(total * fraction / 1e6) : "0");
      tick.style.left = `${fraction * 100}%`;
      ticks.append(tick);
    }
    axis.append(ticks);
    chart.append(axis);
    const list = el("ol", "wf-rows");
    list.id = "waterfall";
    for (const span of run.spans) {
      const row = el("li", "wf-row span-row");
      row.dataset.spanId = span.span_id;
      row.dataset.outcome = span.missing ? "missing" : span.outcome;
      if (span.span_id === run.failure) row.classList.add("failure");
      if (span.span_id === run.failed_step) row.classList.add("failed-step");
      if (span.state) row.dataset.state = span.state;
      const label = el("span", "wf-label");
      label.style.paddingLeft = `${0.4 + span.depth * 1.1}em`;
      label.append(el("span", "mark", markOf(span)),
                   el("span", "name", span.missing ? "(a span not in the files)" : span.title || span.name));
      label.title = span.title || span.name;
      const track = el("span", "wf-track");
      const bar = el("span", "wf-bar");
      const end = span.end == null ? span.start : span.end;
      const [from, to] = [(span.start - base) / total * 100, (end - base) / total * 100];
      bar.style.left = `${from}%`;
      bar.style.width = `${Math.max(to - from, 0.15)}%`;
      const took = el("span", "wf-took", span.end == null ? "" : duration((span.end - span.start) / 1e6));
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
      row.addEventListener("click", () => select(span.span_id));
      row.addEventListener("keydown", (event) => keyOnRow(event, span.span_id));
      view.rows.set(span.span_id, row);
      list.append(row);
    }
    chart.append(list);
    return chart;
  }

  function markOf(span) {
    if (span.missing) return "?";
    if (span.state === "Skipped") return "–";
    return MARKS[span.outcome] || MARKS.ok;
  }

  function keyOnRow(event, spanId) {
    const ids = view.run.spans.map((span) => span.span_id);
    const step = {ArrowDown: 1, ArrowUp: -1}[event.key];
    if (event.key === "Enter") select(spanId);
    if (!step) return;
    event.preventDefault();
    const next = ids[ids.indexOf(spanId) + step];
    if (next) {
      select(next);
      view.rows.get(next).focus();
    }
  }

  // -- one span -----------------------------------------------------------------------------------
  function select(spanId) {
    const span = view.run && view.run.spans.find((item) => item.span_id === spanId);
    if (!span) return;
    const previous = view.rows.get(view.selected);
    if (previous) previous.classList.remove("selected");
    view.rows.get(spanId).classList.add("selected");
    view.selected = spanId;
    const base = view.run.spans.length ? view.run.spans[0].start : span.start;
    const detail = document.getElementById("span-detail");
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
