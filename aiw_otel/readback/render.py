"""A run as a Rich tree, with a "what failed" panel on top of a failed run.

Made to fit one screen when something went wrong: the panel names the failing step, its error
and its last log lines, and each span keeps only its last few log lines (the count of the
others is shown, `--lines 0` shows them all).
"""

from __future__ import annotations

from typing import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from aiw_otel import conventions as sc
from aiw_otel.exporters.text_format import iso_ms
from aiw_otel.exporters.text_format import command_output
from aiw_otel.present import Outcome, duration
from aiw_otel.readback.describe import (
    ERROR_STYLE,
    Piece,
    error_text,
    log_pieces,
    span_outcome,
    span_pieces,
    span_title,
)
from aiw_otel.readback.records import LogRecord
from aiw_otel.readback.tree import Failure, Node, Run, failure
from aiw_otel.terminal_text import safe_line

#: Log lines kept per span by default; the earlier ones are counted, not shown.
DEFAULT_LOG_LINES = 5


def render_runs(runs: Sequence[Run], console: Console, log_lines: int = DEFAULT_LOG_LINES) -> None:
    for index, run in enumerate(runs):
        if index:
            console.print()
        labels = step_labels(run)
        found = failure(run)
        if found is not None:
            console.print(failure_panel(run, found, labels))
        console.print(run_tree(run, log_lines, labels))


def step_labels(run: Run) -> dict[str, str]:
    """step id -> what the run's steps are shown as (their names, else their ids, UUIDs shortened)."""
    from aiw_otel.stepref import StepRef, labels

    return labels(StepRef(n.span.step_id, n.span.attributes.get(sc.AIW_STEP_NAME) or None)
                  for n in run.nodes() if n.span is not None and n.span.is_step and n.span.step_id)


def _text(pieces: Sequence[Piece]) -> Text:
    text = Text()
    for index, (part, style) in enumerate(p for p in pieces if p[0]):
        if index:
            text.append("  ")
        text.append(safe_line(part), style=style)
    return text


def node_label(node: Node, is_root: bool = False, labels: dict[str, str] | None = None) -> Text:
    if node.span is None:
        what = "plan: " if is_root else f"step {node.step_id}: " if node.step_id else ""
        return Text(safe_line(f"{what}span {node.span_id[:16]} is not in the files (still running, or lost)"),
                    style="italic yellow")
    return _text(span_pieces(node.span, node.usage, (labels or {}).get(node.span.step_id or "")))


def _run_label(run: Run) -> Text:
    root = run.root
    if not run.trace_id:
        return Text("log records outside any run", style="bold")
    if root is None:
        return _text([(f"trace {run.trace_id}", "bold"), (iso_ms(run.start_ns), "dim")])
    facts: list[Piece] = []
    if root.span is not None:
        attributes = root.span.attributes
        facts += [(f"plan {attributes[sc.AIW_PLAN_ID]}", "dim")] if sc.AIW_PLAN_ID in attributes else []
        facts += [(f"run {attributes[sc.AIW_RUN_ID]}", "dim")] if sc.AIW_RUN_ID in attributes else []
    facts += [(f"trace {run.trace_id}", "dim"), (iso_ms(run.start_ns), "dim")]
    return node_label(root, is_root=True).append("\n").append_text(_text(facts))


#: Levels of spans drawn as a tree; a chain deeper than a screen is wide is only counted.
MAX_TREE_DEPTH = 12


def run_tree(run: Run, log_lines: int = DEFAULT_LOG_LINES, labels: dict[str, str] | None = None) -> Tree:
    tree = Tree(_run_label(run), guide_style="dim")
    root = run.root
    labels = step_labels(run) if labels is None else labels
    if root is not None:
        _add_items(tree, root.children, root.logs, log_lines, labels)
    else:
        _add_items(tree, run.top, [], log_lines, labels)
    _add_items(tree, [], run.logs, log_lines, labels)
    return tree


def _add_items(branch: Tree, children: Sequence[Node], logs: Sequence[LogRecord], log_lines: int,
               labels: dict[str, str], depth: int = 0) -> None:
    """Children and the last `log_lines` log lines, interleaved in time order; below
    MAX_TREE_DEPTH levels a subtree is counted, not drawn (each level indents the next)."""
    if depth >= MAX_TREE_DEPTH and children:
        hidden_spans = sum(1 for child in children for _ in child.walk())
        branch.add(Text(f"... {hidden_spans} span{'s' if hidden_spans != 1 else ''} nested deeper than "
                        f"{MAX_TREE_DEPTH} levels, not shown", style="dim italic"))
        children = ()
    shown = list(logs[-log_lines:]) if log_lines else list(logs)
    hidden = len(logs) - len(shown)
    items: list[tuple[int, int, Node | LogRecord]] = [(c.start_ns, 0, c) for c in children]
    items += [(r.time_ns, 1, r) for r in shown]
    marker_due = hidden > 0
    for _, _, item in sorted(items, key=lambda entry: entry[:2]):
        if isinstance(item, Node):
            _add_items(branch.add(node_label(item, labels=labels)), item.children, item.logs, log_lines, labels,
                       depth + 1)
            continue
        if marker_due:
            branch.add(Text(f"... {hidden} earlier line{'s' if hidden != 1 else ''}", style="dim italic"))
            marker_due = False
        branch.add(_text(log_pieces(item)))


def _one_line(text: Text) -> Text:
    """The panel is a summary that must stay short; the tree below has the full lines."""
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _failed_command_output(node: Node) -> list[Text]:
    """The last lines the last failed command under `node` printed: usually the reason itself."""
    commands = [n.span for n in node.walk() if n.span is not None and sc.PROCESS_EXECUTABLE_NAME in n.span.attributes
                and span_outcome(n.span) is Outcome.FAILED]
    for command in sorted(commands, key=lambda s: s.end_ns, reverse=True):
        output = command_output((e.name, e.attributes) for e in command.events)
        if not output:
            continue
        attributes = command.attributes
        line = span_title(command)
        exit_code = attributes.get(sc.PROCESS_EXIT_CODE)
        lines = [Text(safe_line(f"output of `{line}`" + (f" (exit {exit_code})" if exit_code is not None else "")
                                + f", last {len(output)} line{'s' if len(output) != 1 else ''}:"), style="dim")]
        lines += [_one_line(Text("  ").append(safe_line(f"{stream}: {text}"), style=ERROR_STYLE if stream == "stderr"
                                              else "")) for stream, text in output]
        return lines
    return []


def failure_panel(run: Run, found: Failure, labels: dict[str, str] | None = None) -> Panel:
    span = found.node.span
    assert span is not None
    kind = "step" if found.node.is_step else "plan"
    label = (labels if labels is not None else step_labels(run)).get(span.step_id or "")
    lines: list[Text] = [
        _text([(f"{kind} {span_title(span, label)}", "bold"), (span.state or "failed", ERROR_STYLE),
               (f"after {duration(span.duration_ms)}", "dim")]),
        Text(safe_line(error_text(found.error_type, found.message) or "no error recorded"), style="bold red"),
    ]
    if found.cause is not None:
        cause = found.cause
        lines.append(Text(safe_line(f"at `{span_title(cause)}`: {error_text(cause.error_type, cause.status_message)}"),
                          style=ERROR_STYLE))
    if found.exception is not None:
        attributes = found.exception.attributes
        lines.append(Text(safe_line(f"exception {attributes.get(sc.EXCEPTION_TYPE, '?')}: "
                                    f"{attributes.get(sc.EXCEPTION_MESSAGE, '')}"), style=ERROR_STYLE))
    lines += _failed_command_output(found.node)
    if found.last_logs:
        lines.append(Text(f"last {len(found.last_logs)} log lines:", style="dim"))
        lines += [_one_line(Text("  ").append_text(_text(log_pieces(record)))) for record in found.last_logs]
    title = safe_line(f"what failed (trace {run.trace_id[:16]})")
    return Panel(Group(*lines), title=title, title_align="left", border_style="red", expand=False)
