"""A run as a tree of lines, with a "what failed" panel on top of a failed run.

Made to fit one screen when something went wrong: the panel names the failing step, its error
and its last log lines, and each span keeps only its last few log lines (the count of the
others is shown, `--lines 0` shows them all).

The tree is drawn line by line here (guides, then the pieces describe.py says), and each line goes
to a writer: `PlainWriter` writes it as it is, unwrapped, which is what a pipe, a file or `--no-color`
gets (an 80-column wrap would cut ids in two for grep, and laying 50,000 lines out with Rich cost
most of `logs`); `RichWriter` colours it for a terminal. Only the failure panel is drawn by Rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol, Sequence, TextIO

from aiw_otel import conventions as sc
from aiw_otel.exporters.text_format import command_output
from aiw_otel.present import Outcome, duration
from aiw_otel.readback.describe import (
    ERROR_STYLE,
    Piece,
    error_text,
    log_pieces,
    plain,
    span_outcome,
    span_pieces,
    span_title,
)
from aiw_otel.readback.records import LogRecord
from aiw_otel.readback.tree import Failure, Node, Run, failure
from aiw_otel.terminal_text import safe_line
from aiw_otel.timestamps import iso_ms

if TYPE_CHECKING:
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

#: Log lines kept per span by default; the earlier ones are counted, not shown.
DEFAULT_LOG_LINES = 5
#: Levels of spans drawn as a tree; a chain deeper than a screen is wide is only counted.
MAX_TREE_DEPTH = 12
#: A line of the tree: its guides (`│   ├── `) and what it says.
Line = tuple[str, Sequence[Piece]]
#: Lines handed to a writer at once: big enough to make writing cheap, small enough to stream.
_BATCH = 2048
_GUIDE_STYLE = "dim"


class Writer(Protocol):
    def lines(self, lines: Sequence[Line]) -> None: ...

    def panel(self, panel: Panel) -> None: ...

    def blank(self) -> None: ...


class PlainWriter:
    """Lines as they are, never wrapped: for a pipe, a file, or `--no-color`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._console: Console | None = None

    def lines(self, lines: Sequence[Line]) -> None:
        self._stream.write("".join(guide + plain(pieces) + "\n" for guide, pieces in lines))

    def panel(self, panel: Panel) -> None:
        if self._console is None:
            from rich.console import Console

            # as wide as its lines off a terminal (a pipe does not wrap), the terminal's width on one
            width = None if self._stream.isatty() else 1 << 16
            self._console = Console(file=self._stream, no_color=True, highlight=False, width=width)
        self._console.print(panel)

    def blank(self) -> None:
        self._stream.write("\n")


class RichWriter:
    """Lines in colour on a terminal (which wraps what is too long)."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def lines(self, lines: Sequence[Line]) -> None:
        from rich.text import Text

        for guide, pieces in lines:
            self._console.print(Text(guide, style=_GUIDE_STYLE).append_text(_text(pieces)), soft_wrap=True)

    def panel(self, panel: Panel) -> None:
        self._console.print(panel)

    def blank(self) -> None:
        self._console.print()


def render_runs(runs: Iterable[Run], writer: Writer, log_lines: int = DEFAULT_LOG_LINES) -> int:
    """Each run as it comes (a generator of runs is drawn one at a time); the number of runs drawn.

    A run is let go before the next is asked for, so a generator building runs holds one at a time."""
    count = 0
    pending = iter(runs)
    while (run := next(pending, None)) is not None:
        if count:
            writer.blank()
        count += 1
        _render_run(run, writer, log_lines)
        run = None
    return count


def _render_run(run: Run, writer: Writer, log_lines: int) -> None:
    labels = step_labels(run)
    found = failure(run)
    if found is not None:
        writer.panel(failure_panel(run, found, labels))
    lines = run_lines(run, log_lines, labels)
    for start in range(0, len(lines), _BATCH):
        writer.lines(lines[start:start + _BATCH])


def step_labels(run: Run) -> dict[str, str]:
    """step id -> what the run's steps are shown as (their names, else their ids, UUIDs shortened)."""
    from aiw_otel.stepref import StepRef, labels

    return labels(StepRef(n.span.step_id, n.span.attributes.get(sc.AIW_STEP_NAME) or None)
                  for n in run.nodes() if n.span is not None and n.span.is_step and n.span.step_id)


def _text(pieces: Sequence[Piece]) -> Text:
    from rich.text import Text

    text = Text()
    for index, (part, style) in enumerate(p for p in pieces if p[0]):
        if index:
            text.append("  ")
        text.append(safe_line(part), style=style)
    return text


def node_pieces(node: Node, is_root: bool = False, labels: dict[str, str] | None = None) -> list[Piece]:
    if node.span is None:
        what = "plan: " if is_root else f"step {node.step_id}: " if node.step_id else ""
        return [(f"{what}span {node.span_id[:16]} is not in the files (still running, or lost)", "italic yellow")]
    return span_pieces(node.span, node.usage, (labels or {}).get(node.span.step_id or ""))


def _run_heading(run: Run) -> list[Sequence[Piece]]:
    root = run.root
    if not run.trace_id:
        return [[("log records outside any run", "bold")]]
    if root is None:
        return [[(f"trace {run.trace_id}", "bold"), (iso_ms(run.start_ns), "dim")]]
    from aiw_otel.readback.identity import of_node

    title, facts = node_pieces(root, is_root=True), []
    identity = of_node(root)  # a run without its plan span (going, or killed) by its start record
    if identity is not None:
        title = [(identity.plan, "bold"), *title] if root.span is None else title
        facts += [(f"plan {identity.plan_id}", "dim")] if identity.plan_id else []
        facts += [(f"run {identity.run_id}", "dim")] if identity.run_id else []
    facts += [(f"trace {run.trace_id}", "dim"), (iso_ms(run.start_ns), "dim")]
    return [title, facts]


def run_lines(run: Run, log_lines: int = DEFAULT_LOG_LINES, labels: dict[str, str] | None = None) -> list[Line]:
    """The run's heading, then its tree: the plan's steps, their actions and log lines, in time order."""
    lines: list[Line] = [("", heading) for heading in _run_heading(run)]
    root = run.root
    labels = step_labels(run) if labels is None else labels
    if root is not None:
        items = _items(root.children, root.logs, log_lines)
    else:
        items = _items(run.top, [], log_lines)
    _branch(lines, items + _items([], run.logs, log_lines), "", log_lines, labels, 0)
    return lines


def _items(children: Sequence[Node], logs: Sequence[LogRecord], log_lines: int) -> list[Node | LogRecord | str]:
    """Children and the last `log_lines` log lines in time order, the earlier lines counted where they were."""
    shown = list(logs[-log_lines:]) if log_lines else list(logs)
    hidden = len(logs) - len(shown)
    entries: list[tuple[int, int, Node | LogRecord]] = [(c.start_ns, 0, c) for c in children]
    entries += [(r.time_ns, 1, r) for r in shown]
    entries.sort(key=lambda entry: entry[:2])
    items: list[Node | LogRecord | str] = []
    marker_due = hidden > 0
    for _, kind, item in entries:
        if kind and marker_due:
            items.append(f"... {hidden} earlier line{'s' if hidden != 1 else ''}")
            marker_due = False
        items.append(item)
    return items


def _branch(lines: list[Line], items: Sequence[Node | LogRecord | str], indent: str, log_lines: int,
            labels: dict[str, str], depth: int) -> None:
    """One level of the tree, appended to `lines`; below MAX_TREE_DEPTH levels a subtree is counted,
    not drawn (each level indents the next). Recursion is as deep as the levels drawn, so at most MAX_TREE_DEPTH."""
    if depth >= MAX_TREE_DEPTH and any(isinstance(item, Node) for item in items):
        hidden_spans = sum(1 for item in items if isinstance(item, Node) for _ in item.walk())
        note = (f"... {hidden_spans} span{'s' if hidden_spans != 1 else ''} nested deeper than "
                f"{MAX_TREE_DEPTH} levels, not shown")
        items = [note, *(item for item in items if not isinstance(item, Node))]
    last = len(items) - 1
    for index, item in enumerate(items):
        guide, below = ("└── ", "    ") if index == last else ("├── ", "│   ")
        if isinstance(item, Node):
            lines.append((indent + guide, node_pieces(item, labels=labels)))
            _branch(lines, _items(item.children, item.logs, log_lines), indent + below, log_lines, labels, depth + 1)
        elif isinstance(item, str):
            lines.append((indent + guide, [(item, "dim italic")]))
        else:
            lines.append((indent + guide, log_pieces(item)))


def _one_line(text: Text) -> Text:
    """The panel is a summary that must stay short; the tree below has the full lines."""
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _failed_command_output(node: Node) -> list[Text]:
    """The last lines the last failed command under `node` printed: usually the reason itself."""
    from rich.text import Text

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
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

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
