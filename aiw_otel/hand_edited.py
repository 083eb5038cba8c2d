"""Checking files people edit by hand: the config file, a plan and its subtask files.

One layer for both readers. YAML is read by a loader that records each key's line while parsing
(one parse, no guessing from text); a value is checked at a `Where` (file, line, the path to the
value and, in a plan, the step), so every error names where it was written and says what was
expected. The checks go on after a mistake: `check_all` raises the first error with the others
in its `also`, so one pass reports every mistake of a file.

The config reader raises ConfigError, the plan loader PlanError: a `Where` makes the error type
it was given.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

import yaml

from aiw_otel.errors import FileError

T = TypeVar("T")

#: Where a file's error type is made: ConfigError or PlanError.
ErrorType = type[FileError]


# -- YAML with lines --------------------------------------------------------------------------


class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of each key, so later checks can point at it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}


class LineList(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers the line of each item (block lists span several lines)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class LineLoader(yaml.SafeLoader):
    """SafeLoader building LineDict / LineList, and refusing duplicate keys.

    PyYAML silently keeps the last of two equal keys; in a hand-edited file that is almost always
    a paste mistake that drops half a handler, so it is an error here.
    """


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    mapping = LineDict()
    yield mapping  # yielded first so that anchors referring back to this mapping resolve
    own_keys = {id(key_node) for key_node, _ in node.value}
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merges; merged pairs come first
    written: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar", key_node.start_mark
            )
        if id(key_node) in own_keys:  # a merged key may be overridden; a written one only once
            if key in written:
                problem = f"duplicate key {key!r} (first at line {written[key]})"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            written[key] = line
        mapping[key] = loader.construct_object(value_node)
        mapping.lines[key] = line


def _construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    sequence = LineList()
    yield sequence
    for item in node.value:
        sequence.append(loader.construct_object(item))
        sequence.lines.append(item.start_mark.line + 1)


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


#: Levels of mappings and lists in one file: configs and plans use under ten; the loader recurses.
MAX_YAML_DEPTH = 64
#: Nodes of a file with every alias expanded, as the checks and dictConfig walk them: billion
#: laughs (nine aliases of nine aliases ...) stays a small file but expands without end.
MAX_YAML_NODES = 1_000_000


class _StructureCheck:
    """Refuses, before anything is built, what would exhaust the loader or whoever walks the
    result: nesting beyond MAX_YAML_DEPTH, an alias inside the node it names (a cycle), and more
    than MAX_YAML_NODES nodes once aliases are expanded. It sees the parser's events as the
    composer takes them, so the file is parsed once; the error names the file and line."""

    def __init__(self, source: str, error: ErrorType) -> None:
        self.source = source
        self.error = error
        self.sizes: dict[str, int] = {}  # anchor -> expanded node count
        self.stack: list[tuple[str | None, int]] = []  # open collections: (anchor, nodes so far)
        self.total = 0

    def see(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else None
        stack = self.stack
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_YAML_DEPTH:
                raise self.error(f"nested deeper than {MAX_YAML_DEPTH} levels", source=self.source, line=line)
            stack.append((event.anchor, 0))
            return
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack):
                raise self.error(f"alias *{event.anchor} refers to a node that contains it (a cycle)",
                                 source=self.source, line=line)
            size = self.sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                self.sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, inside = stack.pop()
            size = inside + 1
            if anchor:
                self.sizes[anchor] = size
        else:
            return
        self.total += size if not isinstance(event, yaml.CollectionEndEvent) else 1
        if self.total > MAX_YAML_NODES:
            raise self.error(f"more than {MAX_YAML_NODES} values once aliases are expanded "
                             "(an alias bomb?)", source=self.source, line=line)
        if stack:
            anchor, inside = stack[-1]
            stack[-1] = (anchor, inside + size)


class _CheckedLoader(LineLoader):
    """LineLoader whose composer hands every event to a _StructureCheck first."""

    def __init__(self, text: str, check: _StructureCheck) -> None:
        super().__init__(text)
        self._check = check

    def get_event(self) -> Any:
        event = super().get_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        self._check.see(event)
        return event


def load_checked_yaml(text: str, source: str, error: ErrorType) -> Any:
    """The document with LineDict / LineList inside, bounded by _StructureCheck; YAML's own errors
    pass through as they are (the caller words them)."""
    loader = _CheckedLoader(text, _StructureCheck(source, error))
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str, error: ErrorType) -> Any:
    """The document with LineDict / LineList inside; any problem an `error` naming file and line."""
    try:
        return load_checked_yaml(text, source, error)
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, found before parsing
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        problem = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise _yaml_error(error, source, line, column, problem) from None
    except yaml.MarkedYAMLError as exc:  # the parser's own words, where it gave up
        mark, problem = exc.problem_mark, exc.problem or "unreadable YAML"
        if exc.context and exc.context_mark:
            problem += f" ({exc.context}, line {exc.context_mark.line + 1})"
        if mark is None:  # PyYAML allows it; say what it said rather than fail on the missing mark
            raise error(f"invalid YAML: {problem}", source=source) from None
        raise _yaml_error(error, source, mark.line + 1, mark.column + 1, problem) from None


def _yaml_error(error: ErrorType, source: str, line: int, column: int, problem: str) -> FileError:
    return error(f"invalid YAML at line {line}, column {column}: {problem}", source=source, line=line)


def decode_text(data: bytes, source: str, error: ErrorType) -> str:
    """A file's bytes as text: UTF-8 (a BOM allowed), or an error naming the file and the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"not UTF-8 text ({exc.reason})", source=source, line=line) from None


# -- values -----------------------------------------------------------------------------------


def describe_value(value: Any, *, names: bool = False) -> str:
    """How YAML spells the value, so `'true'` (a string) and `true` (a boolean) read differently;
    with `names`, a list of strings is shown whole (a plan's lists are names worth seeing)."""
    if names and isinstance(value, (tuple, list)) and all(isinstance(item, str) for item in value):
        return repr(list(value))
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def named_after_a_secret(source: str) -> bool:
    """Whether a file's name says it holds a secret (`token.txt`, `db-password.yaml`): its text is
    then never quoted back in an error, which may end in a CI log."""
    from aiw_otel.errors import default_redactor

    return default_redactor().is_sensitive_key(os.path.basename(source))


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def refuse_nul(text: str, at: Where) -> str:
    """A path with a NUL byte cannot name a file (the OS refuses it): say where it was written."""
    if "\0" in text:
        raise at.error("contains a NUL byte (\\0); a file path cannot")
    return text


# -- where a value was written ----------------------------------------------------------------


class Problems:
    """The errors one check has found so far, in the order found."""

    def __init__(self) -> None:
        self.found: list[FileError] = []


@dataclass(frozen=True)
class Where:
    """The file, line, step (plans) and path to the value that an error about one value names."""

    source: str
    path: str | None = None
    line: int | None = None
    step: str | None = None
    error_type: ErrorType = FileError
    #: Whether a list of strings is shown whole in "expected ..., got ..." (see describe_value).
    show_names: bool = False
    #: Where errors are collected during `check_all`; None: the first error is raised.
    problems: Problems | None = field(default=None, compare=False, repr=False)

    def child(self, mapping: Mapping[Any, Any], key: Any) -> Where:
        path = f"{self.path}.{key}" if self.path else str(key)
        line = getattr(mapping, "lines", {}).get(key, self.line)  # plain dicts (JSON) have none
        return replace(self, path=path, line=line)

    def item(self, sequence: Sequence[Any], index: int) -> Where:
        lines = getattr(sequence, "lines", None)
        return replace(self, path=f"{self.path or ''}[{index}]", line=lines[index] if lines else self.line)

    def in_step(self, step_id: str) -> Where:
        """Once a plan step's id is known, its errors name the step, and paths start afresh."""
        return replace(self, step=step_id, path=None)

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def error(self, message: str) -> FileError:
        return self.error_type(message, source=self.source, line=self.line, step=self.step,
                               field_name=self.path or None)

    def expected(self, what: str, value: Any) -> FileError:
        return self.error(f"expected {what}, got {self.describe(value)}")

    def describe(self, value: Any) -> str:
        if not named_after_a_secret(self.source):
            return describe_value(value, names=self.show_names)
        # `aiw-otel check token.txt`: "expected a mapping, got 'hunter2'" would print the token.
        if isinstance(value, str):
            return "a string"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "a number"
        return describe_value(value)

    def report(self, error: FileError) -> None:
        """One mistake: noted when this check goes on after mistakes, else raised."""
        if self.problems is None:
            raise error
        self.problems.found.append(error)

    def attempt(self, check: Callable[[], T], fallback: T) -> T:
        """What `check()` returns; on a mistake, when this check goes on after mistakes,
        `fallback` once the mistake is noted."""
        try:
            return check()
        except FileError as error:
            self.report(error)
            return fallback

    @property
    def found(self) -> int:
        """How many mistakes this check has noted so far (to skip checks that would only repeat them)."""
        return len(self.problems.found) if self.problems is not None else 0


def check_all(check: Callable[[Where], T], at: Where) -> T:
    """Run a whole-file check that goes on after mistakes, from `at`; if it found any, raise the
    first with the others in its `also`."""
    problems = Problems()
    result: T | None = None
    try:
        result = check(replace(at, problems=problems))
    except FileError as error:  # one that ends the check: unreadable file, not a mapping...
        problems.found.append(error)
    if problems.found:
        # In the order of the files (a plan's overview, then its subtask files), line by line.
        files = list(dict.fromkeys(error.source for error in problems.found))
        found = sorted(problems.found, key=lambda error: (files.index(error.source), error.line or 0))
        first, *others = found
        first.also = tuple(others)
        raise first
    return result  # type: ignore[return-value]  # set: check() returned without a mistake
