// The live view: a run's state pushed by the server (Server-Sent Events), drawn as the console draws
// it, and its controls (pause, resume, cancel, context, details) posted back. Everything from the run
// goes into the page as text (textContent), never as markup: a step name or log line cannot inject.
"use strict";

const AiwLive = (() => {
  // -- the console's vocabulary, mirrored (aiw_otel/present.py, aiw_otel/console/style.py) ----------
  // Python's format(x, ".{d}f") for x >= 0: the nearest, an exact half to the even neighbour
  // (JavaScript's toFixed sends halves up: 12.5 ms would read "13 ms" here and "12 ms" in the console).
  function fixed(x, digits) {
    const [whole, fraction] = x.toFixed(100).split(".");  // the double's exact decimal expansion
    if (/^50*$/.test(fraction.slice(digits))) {
      const last = digits ? fraction[digits - 1] : whole[whole.length - 1];
      if (Number(last) % 2 === 0) return digits ? `${whole}.${fraction.slice(0, digits)}` : whole;
    }
    return x.toFixed(digits);
  }

  // Python's round(x) for x >= 0.
  const round = (x) => Number(fixed(x, 0));

  function duration(ms) {
    ms = Math.max(0, Number(ms));
    if (ms < 0.95) return `${fixed(ms, 1)} ms`;
    if (round(ms) < 1000) return `${fixed(ms, 0)} ms`;
    const tenths = round(ms / 100);
    if (tenths < 600) return `${fixed(tenths / 10, 1)} s`;
    const seconds = round(ms / 1000);
    if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${String(seconds % 60).padStart(2, "0")} s`;
    return `${Math.floor(seconds / 3600)} h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")} m`;
  }

  function durationBetween(startedNs, endedNs, nowNs) {
    if (startedNs == null) return "";
    return duration(Math.max(0, (endedNs || nowNs) - startedNs) / 1e6);
  }

  function tokens(count) {
    if (count < 1000) return String(count);
    if (count < 1000000) return `${fixed(count / 1000, 1)}k`;
    return `${fixed(count / 1000000, 1)}M`;
  }

  function cost(usd) {
    if (!usd) return "";
    return usd < 1 ? `$${fixed(usd, 4)}` : `$${fixed(usd, 2)}`;
  }

  const STATE_ORDER = ["Pending", "Running", "Paused", "Completed", "Failed", "Cancelled", "Skipped"];
  const LIVE_STATES = new Set(["Running", "Paused"]);
  const FINAL_STATES = new Set(["Completed", "Failed", "Cancelled", "Skipped"]);
  // A finished action's mark by its outcome, as the console's step panel shows it.
  const MARKS = {ok: "✔", failed: "✖", retried: "↻", cancelled: "■"};

  function nowNs() {
    return Date.now() * 1e6;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  const $ = (id) => document.getElementById(id);

  // -- state ------------------------------------------------------------------------------------
  const live = {
    runs: [],        // what /api/live listed
    run: null,       // the page's id of the run shown
    source: null,    // its EventSource
    state: null,     // {view, labels} last pushed
    ended: false,
    pinned: null,    // the step chosen by a click (null: follow the active one)
    rows: new Map(), // step id -> its overview row
  };

  async function postControl(command, text) {
    if (!live.run) return null;
    let reply;
    try {
      const response = await fetch("/api/live/control", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({run: live.run, command, text: text || ""}),
      });
      reply = await response.json();
    } catch (error) {
      reply = {ok: false, message: `the monitor did not answer (${error.message})`};
    }
    return reply;
  }

  function showReply(reply) {
    const box = $("reply");
    box.hidden = false;
    box.textContent = reply.message || (reply.ok ? "done" : "refused");
    box.className = reply.ok ? "reply ok" : "reply refused";
  }

  async function command(name, text) {
    const reply = await postControl(name, text);
    if (reply) showReply(reply);
    return reply;
  }

  // -- finding runs -----------------------------------------------------------------------------
  async function refreshRuns() {
    let runs = [];
    let problem = "";
    try {
      const response = await fetch("/api/live");
      if (response.ok) runs = (await response.json()).runs;
      else problem = (await response.text()).trim();  // 403: the address without its token
    } catch (error) {
      problem = "the monitor does not answer (it ends with the run that started it)";
    }
    live.runs = runs;
    drawPicker();
    const current = runs.find((run) => run.run === live.run);
    if (runs.length && (!live.run || (live.ended && !current))) {
      watch(runs[0].run);
    } else if (!runs.length && !live.state) {
      $("live-empty").textContent = problem ||
        "No live run: start one with aiw-otel run (or demo) using this log directory.";
    }
  }

  function drawPicker() {
    const picker = $("run-picker");
    const options = live.runs.map((run) => {
      const option = el("option", "", `${run.plan_name} (${run.state}) ${run.socket}`);
      option.value = run.run;
      option.selected = run.run === live.run;
      return option;
    });
    picker.replaceChildren(...options);
    picker.hidden = live.runs.length < 2;
  }

  function watch(run) {
    if (live.source) live.source.close();
    live.run = run;
    live.ended = false;
    live.pinned = null;
    live.state = null;
    live.rows.clear();
    $("overview").tBodies[0].replaceChildren();
    const source = new EventSource(`/api/live/events?run=${encodeURIComponent(run)}`);
    live.source = source;
    source.addEventListener("update", (event) => receive(JSON.parse(event.data), false));
    source.addEventListener("end", (event) => {
      source.close();
      receive(JSON.parse(event.data), true);
    });
    source.onopen = () => { $("connection").textContent = ""; };
    source.onerror = () => {
      if (!live.ended) $("connection").textContent = "connection lost: reconnecting…";
    };
  }

  function receive(state, ended) {
    live.state = state;
    live.ended = ended;
    $("connection").textContent = ended ? "the run has ended" : "";
    draw();
  }

  // -- drawing ----------------------------------------------------------------------------------
  function activeStep(view) {
    const steps = view.steps;
    const running = steps.find((step) => LIVE_STATES.has(step.state));
    if (running) return running.step_id;
    const started = steps.filter((step) => step.started_ns != null);
    started.sort((a, b) => a.started_ns - b.started_ns);
    return started.length ? started[started.length - 1].step_id : null;
  }

  function draw() {
    if (!live.state) return;
    const {view} = live.state;
    $("live-empty").hidden = true;
    $("live-run").hidden = false;
    drawHeader(view);
    drawOverview(view);
    drawDetail(view);
    drawStatus(view);
    for (const id of ["pause", "resume", "cancel"]) $(id).disabled = live.ended;
    $("context-form").querySelector("button").disabled = live.ended;
  }

  function sum(steps, key) {
    return steps.reduce((total, step) => total + (step[key] || 0), 0);
  }

  function drawHeader(view) {
    const now = nowNs();
    $("plan-name").textContent = view.plan_name;
    const state = $("plan-state");
    state.textContent = view.state;
    state.dataset.state = view.state;
    $("elapsed").textContent = durationBetween(view.started_ns, view.ended_ns, now) || "–";
    $("tokens").textContent = `in ${tokens(sum(view.steps, "input_tokens"))} / out ${tokens(sum(view.steps, "output_tokens"))}`;
    $("cost").textContent = cost(sum(view.steps, "cost_usd")) || "$0";
    document.title = `${view.state} · ${view.plan_name} · aiw-otel`;
  }

  function drawOverview(view) {
    const body = $("overview").tBodies[0];
    const now = nowNs();
    const selected = selectedStep(view);
    for (const step of view.steps) {
      let row = live.rows.get(step.step_id);
      if (!row) {
        row = el("tr");
        row.dataset.step = step.step_id;
        for (const cls of ["name", "state", "num", "num", "num"]) row.append(el("td", cls));
        row.tabIndex = 0;
        row.addEventListener("click", () => pick(step.step_id));
        row.addEventListener("keydown", (event) => { if (event.key === "Enter") pick(step.step_id); });
        live.rows.set(step.step_id, row);
        body.append(row);
      }
      const cells = row.cells;
      cells[0].textContent = live.state.labels[step.step_id] || step.step_id;
      cells[0].title = step.description || "";
      cells[1].textContent = step.state;
      row.dataset.state = step.state;
      cells[2].textContent = durationBetween(step.started_ns, step.ended_ns, now);
      const used = step.input_tokens + step.output_tokens;
      cells[3].textContent = used ? tokens(used) : "";
      cells[4].textContent = cost(step.cost_usd);
      row.classList.toggle("selected", step.step_id === selected);
    }
  }

  function selectedStep(view) {
    if (live.pinned && view.steps.some((step) => step.step_id === live.pinned)) return live.pinned;
    return activeStep(view);
  }

  function drawDetail(view) {
    const selected = selectedStep(view);
    const step = view.steps.find((s) => s.step_id === selected);
    $("follow").hidden = !live.pinned;
    const title = $("detail-title");
    const actions = $("actions");
    const logs = $("logs");
    const stickToEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    if (!step) {
      title.textContent = "Run log";
      actions.replaceChildren();
      logs.replaceChildren(...view.general_logs.map(logLine));
    } else {
      title.textContent = `Step: ${live.state.labels[step.step_id] || step.step_id}`;
      const now = nowNs();
      actions.replaceChildren(...step.actions.map((action) => actionLine(action, now)));
      const lines = step.logs.map(logLine);
      if (step.error) lines.push(el("li", "error", `error: ${step.error}`));
      logs.replaceChildren(...lines);
    }
    if (stickToEnd) logs.scrollTop = logs.scrollHeight;
  }

  function actionLine(action, now) {
    const ended = action.ended_ns != null;
    const outcome = ended ? (action.outcome || (action.failed ? "failed" : "ok")) : "running";
    const item = el("li", `action ${outcome}`);
    item.append(el("span", "mark", ended ? (MARKS[outcome] || "✔") : "▶"));
    item.append(el("span", "name", action.name));
    if (action.summary) item.append(el("span", "summary", action.summary));
    item.append(el("span", "took", durationBetween(action.started_ns, action.ended_ns, now)));
    if (action.output && action.output.length) {
      const output = el("pre", "output");
      output.textContent = action.output.join("\n");
      item.append(output);
    }
    return item;
  }

  function logLine(line) {
    const item = el("li", "log");
    item.dataset.level = line.level;
    const time = new Date(line.time_ns / 1e6);
    item.append(el("span", "time", time.toTimeString().slice(0, 8)));
    item.append(el("span", "level", line.level));
    item.append(el("span", "message", line.message));
    return item;
  }

  function drawStatus(view) {
    const counts = {};
    for (const step of view.steps) counts[step.state] = (counts[step.state] || 0) + 1;
    const parts = STATE_ORDER.filter((state) => counts[state]).map((state) => `${state} ${counts[state]}`);
    if (view.dropped) parts.push(`dropped ${view.dropped}`);
    if (view.last_message) parts.push(`last: ${view.last_message}`);
    $("statusbar").textContent = parts.join(" · ");
  }

  // -- acting -----------------------------------------------------------------------------------
  function pick(stepId) {
    live.pinned = stepId;
    draw();
    // Recorded on the run like the console's `details` (and refused there if it no longer knows it).
    if (!live.ended) command("details", stepId);
  }

  function setUp() {
    $("pause").addEventListener("click", () => command("pause"));
    $("resume").addEventListener("click", () => command("resume"));
    $("cancel").addEventListener("click", () => {
      if (window.confirm("Cancel the run? The running command is terminated and the plan ends Cancelled.")) {
        command("cancel");
      }
    });
    $("context-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = $("context-text");
      const reply = await command("context", input.value.trim());  // empty: the run says what it needs
      if (reply && reply.ok) input.value = "";
    });
    $("follow").addEventListener("click", () => {
      live.pinned = null;
      draw();
    });
    $("run-picker").addEventListener("change", (event) => watch(event.target.value));
    refreshRuns();
    let ticks = 0;
    setInterval(() => {  // a new run is looked for every second while none is followed, else every 5
      ticks += 1;
      if (!live.run || live.ended || ticks % 5 === 0) refreshRuns();
    }, 1000);
    setInterval(() => {  // the clocks of what is running move without a push
      if (live.state && !live.ended) {
        drawHeader(live.state.view);
        drawOverview(live.state.view);
      }
    }, 1000);
  }

  /** The Live view of `run` (its id in /api/live): the finished runs link a run still going here. */
  function follow(run) {
    location.hash = "#live";
    if (run !== live.run || live.ended) watch(run);
  }

  return {setUp, follow, duration, tokens, cost};
})();

// -- the page's two tabs; the first page load carried the token in its address: drop it from there
function showTab() {
  const finished = location.hash === "#history";
  document.getElementById("live").hidden = finished;
  document.getElementById("history").hidden = !finished;
  document.getElementById("tab-live").classList.toggle("active", !finished);
  document.getElementById("tab-history").classList.toggle("active", finished);
}

if (location.search.includes("token=")) history.replaceState(null, "", location.pathname + location.hash);
window.addEventListener("hashchange", showTab);
showTab();
AiwLive.setUp();
