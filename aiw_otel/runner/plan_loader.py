"""Read an AIWhisperer plan (overview + subtask files, or one JSON / YAML file) into a `Plan`.

A plan is written by hand or by a model, and a mistake found half-way through a run costs the steps
already done; so everything is checked before anything runs, and every error names the file, the
step and the field (with the line), and says what was expected.

Lines: YAML is read with hand_edited's line-tracking loader. JSON is read by `json` (its syntax
errors carry line and column) and then, for the lines, once more by that loader: JSON is nearly
always YAML too, and when the two readings differ the JSON one wins and errors go without a line.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence, TypeVar

import yaml

from aiw_otel.hand_edited import (MAX_YAML_DEPTH, Where, check_all, decode_text, is_int, load_checked_yaml, parse_yaml,
                                  refuse_nul)
from aiw_otel.regular_file import read_regular
from aiw_otel.runner.plan import (PROVIDERS, Action, ModelPreference, Plan, PlanError, StepSpec,
                                  dependency_order)

T = TypeVar("T")

_YAML_SUFFIXES = (".yaml", ".yml")
#: StepSpec's own default ("ai_interaction"), for a step whose files give no type.
def _default_step_type() -> str:
    default = next(f.default for f in fields(StepSpec) if f.name == "type")
    if not isinstance(default, str):
        raise TypeError("StepSpec.type must have a default step type")
    return default


_DEFAULT_STEP_TYPE = _default_step_type()

#: Each action kind and the keys its mapping may hold (the kind's own key first).
_ACTION_KEYS = {
    "run": ("run", "timeout_s"),
    "write": ("write", "content"),
    "read": ("read",),
    "delete": ("delete",),
}


# -- public API -------------------------------------------------------------------------------


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and check a plan file; any problem is a PlanError, raised before anything runs.

    `.yaml` / `.yml` files are YAML, anything else JSON. Whether the file is an overview (its
    `plan[]` entries point at subtask files with `file_path`) or a single-file plan (steps with
    `step_id` and `agent_spec`) is read from the content, not the name. A folder stands for the
    one overview file in it, so a plan folder can be run as it is.
    """
    source = _plan_file(os.fsdecode(path))
    return plan_from_document(_read_document(source, _at(source), "plan file"), source)


def plan_from_document(document: Any, source: str) -> Plan:
    """The same as `load_plan` for a plan file already read and parsed (`aiw-otel check` reads a
    YAML file once to tell a plan from a config); subtask files are read beside `source`."""
    return check_all(partial(_plan, document), _at(source))


def _plan(document: Any, top_at: Where) -> Plan:
    """Every mistake is noted at `top_at` and the checks go on: a step, a field of a step, an action."""
    source = top_at.source
    top = _mapping(document, replace(top_at, path="top level"))
    plan_id, name = _identity(top, top_at)
    goal = _optional(top, "natural_language_goal", top_at, _text, "")
    entries_at = top_at.child(top, "plan")
    entries = _required(top, "plan", top_at, _step_list)
    is_overview = any(isinstance(entry, dict) and "file_path" in entry for entry in entries)
    read_step = _single_file_step
    if is_overview:
        read_step = partial(_overview_step, plan_dir=os.path.dirname(source))
    wheres = [entries_at.item(entries, i) for i in range(len(entries))]
    read = [where.attempt(partial(read_step, entry, where), None) for entry, where in zip(entries, wheres)]
    parsed = [step for step in read if step is not None]
    plan = Plan(plan_id, name, goal, tuple(step for step, _ in parsed), source)
    # A step with a mistake is left out; its id (when it has one) still counts as a step's.
    ids = [entry.get(key) for entry, step in zip(entries, read) if step is None and isinstance(entry, dict)
           for key in ("step_id", "subtask_id")]
    _check_graph(plan.steps, [places for _, places in parsed], {step_id for step_id in ids if isinstance(step_id, str)})
    return plan


def validate_plan(plan: Plan) -> None:
    """The checks that need the whole plan, for plans built in code as much as for files.

    A duplicate id, a dependency on a missing step or a cycle would leave the engine waiting on a
    step that can never run. `load_plan` runs the same checks with the lines it read; here there
    are no lines, only each step's source file.
    """
    if not plan.steps:
        raise PlanError("expected at least one step", source=plan.source, field_name="plan")
    _check_graph(plan.steps, [_unplaced(step, plan.source) for step in plan.steps])


# -- where a value was written ----------------------------------------------------------------

def _at(source: str, step: str | None = None) -> Where:
    """A place in a plan: its errors are PlanErrors naming the step; lists of names are shown whole."""
    return Where(source, step=step, error_type=PlanError, show_names=True)


class _Missing:
    """Stands for an absent key, so a value check reports "got no value (the key is missing)"."""

    def __repr__(self) -> str:
        return "no value (the key is missing)"


_MISSING = _Missing()

#: A value check: takes the value and where it was written, returns it parsed or raises PlanError.
_Parse = Callable[[Any, Where], T]


# -- reading files ----------------------------------------------------------------------------


def _plan_file(source: str) -> str:
    """AIWhisperer names an overview `overview_<name>.json` and keeps its subtasks beside it."""
    if not os.path.isdir(source):
        return source
    found = sorted(name for name in os.listdir(source) if _is_overview_name(name))
    if len(found) != 1:
        count = f"{len(found)} overview files ({', '.join(found)})" if found else "no overview file"
        message = f"a folder with {count}; expected exactly one overview*.json (or .yaml, .yml) in it"
        raise PlanError(message, source=source)
    return os.path.join(source, found[0])


def _is_overview_name(name: str) -> bool:
    return name.startswith("overview") and name.endswith((".json", *_YAML_SUFFIXES))


def _read_document(source: str, blame: Where, what: str) -> Any:
    """Read and parse one file; a file that cannot be read is blamed on whatever named it."""
    text = _read_text(source, blame, what)
    parse = _parse_yaml_text if source.endswith(_YAML_SUFFIXES) else _parse_json
    document = parse(text, source)
    if document is None:
        raise PlanError(f"the file is empty; expected a {what} (a mapping)", source=source)
    return document


def _read_text(source: str, blame: Where, what: str) -> str:
    try:
        data = read_regular(source)
    except FileNotFoundError:
        raise blame.error(f"{what} not found (looked for {os.path.abspath(source)})") from None
    except IsADirectoryError:
        raise blame.error(f"{source} is a directory; expected a {what} (.json, .yaml or .yml)") from None
    except OSError as exc:
        # There, but not ours to read: the file's own problem, not the path that named it. Its path
        # is the error's source, shown apart from the reason (`token.txt: cannot read the plan file: ...`).
        raise PlanError(f"cannot read the {what}: {exc.strerror or exc}", source=source) from None
    return decode_text(data, source, PlanError)


def _parse_yaml_text(text: str, source: str) -> Any:
    return parse_yaml(text, source, PlanError)


def _parse_json(text: str, source: str) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise PlanError(message, source=source, line=exc.lineno) from None
    except RecursionError:
        raise PlanError(f"nested deeper than {MAX_YAML_DEPTH} levels", source=source) from None
    try:
        lined = load_checked_yaml(text, source, PlanError)  # the same bounds as a YAML plan, with the line
    except yaml.YAMLError:  # tabs, duplicate keys...: valid JSON that YAML refuses
        return data
    return lined if lined == data else data


# -- value checks: each takes the value and where it was written ------------------------------


def _required(mapping: Mapping[str, Any], key: str, at: Where, parse: _Parse[T], *fallback: T) -> T:
    """The value of `key`, checked; with a `fallback`, a mistake in it is noted and the checks go
    on (without one, the mistake ends what the caller was reading: a step without an id)."""
    where = at.child(mapping, key)
    check = partial(parse, mapping.get(key, _MISSING), where)
    return where.attempt(check, fallback[0]) if fallback else check()


def _optional(mapping: Mapping[str, Any], key: str, at: Where, parse: _Parse[T], default: T) -> T:
    """Absent and null both mean "not given": generated plans write `model_preference: null`.
    A mistaken value is noted, and the checks go on with the default."""
    value = mapping.get(key)
    if value is None:
        return default
    where = at.child(mapping, key)
    return where.attempt(partial(parse, value, where), default)


def _checked(
    what: str, accept: Callable[[Any], bool], convert: Callable[[Any], Any] = lambda v: v
) -> _Parse[Any]:
    """A check of one kind of value; `what` is what its error says was expected."""

    def parse(value: Any, at: Where) -> Any:
        if accept(value):
            return convert(value)
        raise at.expected(what, value)

    return parse


def _is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


# Each annotated with what its `accept` guarantees it returns.
_mapping: _Parse[dict[str, Any]] = _checked("a mapping", lambda v: isinstance(v, dict))
_step_list: _Parse[list[Any]] = _checked("a non-empty list of steps", lambda v: isinstance(v, list) and bool(v))
_text: _Parse[str] = _checked("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()))
_any_text: _Parse[str] = _checked("a string", lambda v: isinstance(v, str))
_temperature: _Parse[float] = _checked("a number from 0 to 2", lambda v: _is_number(v) and 0 <= v <= 2, float)
_positive_int: _Parse[int] = _checked("a positive integer", lambda v: is_int(v) and v > 0)
_positive_number: _Parse[float] = _checked("a number > 0", lambda v: _is_number(v) and v > 0, float)
#: `run` would refuse any other before the first step (and `check` must refuse what `run` refuses).
_provider: _Parse[str] = _checked(f"one of {', '.join(PROVIDERS)}", lambda v: v in PROVIDERS)


def _text_items(value: Any, at: Where) -> list[tuple[str, Where]]:
    """Each string of a list with where it was written (dependency errors point at the item)."""
    if not isinstance(value, list):
        raise at.expected("a list of strings", value)
    places = [at.item(value, index) for index in range(len(value))]
    return [(_text(item, place), place) for item, place in zip(value, places)]


def _texts(value: Any, at: Where) -> tuple[str, ...]:
    return tuple(text for text, _ in _text_items(value, at))


def _instructions(value: Any, at: Where) -> tuple[str, ...]:
    """AIWhisperer's schema says a list; hand-written plans often give one string."""
    if isinstance(value, str):
        return (_text(value, at),)
    if isinstance(value, list):
        return _texts(value, at)
    raise at.expected("a list of strings (or a single string)", value)


def _confined(within: str) -> _Parse[str]:
    """A relative path that stays inside `within`: the runner confines files to the workspace,
    and a plan must not reach outside its own folder for subtask files."""

    def parse(value: Any, at: Where) -> str:
        text = refuse_nul(_text(value, at), at)
        normal = posixpath.normpath(text.replace("\\", "/"))
        if normal.startswith("/") or re.match(r"[A-Za-z]:", normal):
            raise at.expected(f"a path relative to {within} (absolute paths are refused)", value)
        if normal == ".." or normal.startswith("../"):
            raise at.expected(f"a path inside {within} ('..' leads out of it)", value)
        if normal == ".":
            raise at.expected(f"a file path inside {within}", value)
        return text

    return parse


_workspace_path = _confined("the workspace")
_subtask_path = _confined("the plan's folder")


# -- the plan and its steps -------------------------------------------------------------------


@dataclass(frozen=True)
class _StepPlaces:
    """Where a step's id and each of its dependencies were written, for the whole-plan checks."""

    step_id: Where
    depends_on: tuple[Where, ...]


def _identity(top: Mapping[str, Any], at: Where) -> tuple[str, str]:
    """(plan_id, name): the name becomes a span name, so it is a short label, never the goal."""
    name = _optional(top, "name", at, _text, None) or _optional(top, "title", at, _text, None)
    task_id = _optional(top, "task_id", at, _text, None)
    if task_id is None and name is None:
        missing = "missing; a plan needs a task_id (or a name) to identify it"
        raise at.child(top, "task_id").error(missing)
    name = name or Path(at.source).stem
    return task_id or name, name


def _single_file_step(value: Any, at: Where) -> tuple[StepSpec, _StepPlaces]:
    step = _mapping(value, at)
    step_id = _required(step, "step_id", at, _text)
    at = at.in_step(step_id)
    spec_at = at.child(step, "agent_spec")
    spec = _required(step, "agent_spec", at, _mapping)
    dependencies: list[tuple[str, Where]] = _optional(step, "depends_on", at, _text_items, [])
    return (
        StepSpec(
            step_id,
            _required(step, "description", at, _text, ""),
            type=_optional(spec, "type", spec_at, _text, _DEFAULT_STEP_TYPE),
            name=_optional(step, "name", at, _text, None),
            depends_on=tuple(dep for dep, _ in dependencies),
            source=at.source,
            **_work(spec, spec_at, step, at),
        ),
        _StepPlaces(at.child(step, "step_id"), tuple(place for _, place in dependencies)),
    )


def _overview_step(value: Any, at: Where, plan_dir: str) -> tuple[StepSpec, _StepPlaces]:
    entry = _mapping(value, at)
    step_id = _required(entry, "subtask_id", at, _text)
    at = at.in_step(step_id)
    file_at = at.child(entry, "file_path")
    path = os.path.normpath(os.path.join(plan_dir, _required(entry, "file_path", at, _subtask_path)))
    detail_at = replace(at, source=path, path=None, line=None)
    detail = _mapping(_read_document(path, file_at, "subtask file"), detail_at)
    sides = ((entry, at), (detail, detail_at))
    for key, parse in _SHARED_FIELDS.items():
        at.attempt(partial(_check_agreement, key, parse, sides), None)
    dependencies: list[tuple[str, Where]] = _shared("depends_on", sides, _text_items, [])
    return (
        StepSpec(
            step_id,
            _required(detail, "description", detail_at, _text, ""),
            type=_shared("type", sides, _text, _DEFAULT_STEP_TYPE),
            name=_shared("name", sides, _text, None),
            depends_on=tuple(dep for dep, _ in dependencies),
            source=path,
            **_work(detail, detail_at, detail, detail_at),
        ),
        _StepPlaces(at.child(entry, "subtask_id"), tuple(place for _, place in dependencies)),
    )


_Side = tuple[Mapping[str, Any], Where]

#: Fields an overview entry and its subtask file may both carry.
_SHARED_FIELDS: dict[str, _Parse[Any]] = {
    "subtask_id": _text,
    "name": _text,
    "type": _text,
    "depends_on": _texts,
}


def _shared(key: str, sides: tuple[_Side, _Side], parse: _Parse[T], default: T) -> T:
    """From the overview entry, unless only the subtask file gives it (where both do, they agree)."""
    (entry, entry_at), (detail, detail_at) = sides
    if entry.get(key) is None:
        return _optional(detail, key, detail_at, parse, default)
    return _optional(entry, key, entry_at, parse, default)


def _check_agreement(key: str, parse: _Parse[Any], sides: tuple[_Side, _Side]) -> None:
    """A field written in both files must say the same, or one of them is silently ignored."""
    (entry, entry_at), (detail, detail_at) = sides
    if entry.get(key) is None or detail.get(key) is None:
        return
    theirs = parse(entry[key], entry_at.child(entry, key))
    ours = parse(detail[key], detail_at.child(detail, key))
    if ours != theirs:
        where = entry_at.child(entry, key).location
        raise detail_at.child(detail, key).error(
            f"{detail_at.describe(ours)} differs from the overview's {detail_at.describe(theirs)} ({where}); the two must agree"
        )


def _work(
    spec: Mapping[str, Any], spec_at: Where, step: Mapping[str, Any], step_at: Where
) -> dict[str, Any]:
    """What a step does: `spec` holds the AIWhisperer fields, `step` our `actions` extension
    (the same mapping in a subtask file; agent_spec and the step in a single-file plan)."""
    found = step_at.found
    instructions: tuple[str, ...] = _optional(spec, "instructions", spec_at, _instructions, ())
    actions: tuple[Action, ...] = _optional(step, "actions", step_at, _actions, ())
    if not instructions and not actions and step_at.found == found:  # not when they were only mistaken
        where = spec_at.child(spec, "instructions")
        raise where.error("missing; a step needs instructions (for the AI) or actions (or both)")
    lists = ("input_artifacts", "output_artifacts", "constraints", "validation_criteria")
    none: tuple[str, ...] = ()
    return {
        "instructions": instructions,
        "actions": actions,
        "model_preference": _optional(spec, "model_preference", spec_at, _model_preference, None),
        **{key: _optional(spec, key, spec_at, _texts, none) for key in lists},
    }


def _model_preference(value: Any, at: Where) -> ModelPreference:
    preference = _mapping(value, at)
    return ModelPreference(
        provider=_optional(preference, "provider", at, _provider, None),
        model=_optional(preference, "model", at, _text, None),
        temperature=_optional(preference, "temperature", at, _temperature, None),
        max_tokens=_optional(preference, "max_tokens", at, _positive_int, None),
    )


def _actions(value: Any, at: Where) -> tuple[Action, ...]:
    if not isinstance(value, list):
        raise at.expected("a list of actions", value)
    wheres = [at.item(value, index) for index in range(len(value))]
    actions = (where.attempt(partial(_action, item, where), None) for item, where in zip(value, wheres))
    return tuple(action for action in actions if action is not None)


def _action(value: Any, at: Where) -> Action:
    """Our own extension, so it is strict: one kind per action and no keys the runner ignores."""
    action = _mapping(value, at)
    kinds = [kind for kind in _ACTION_KEYS if kind in action]
    if len(kinds) != 1:
        given = ", ".join(map(str, action)) or "none"
        raise at.error(f"expected exactly one of {', '.join(_ACTION_KEYS)} (keys given: {given})")
    kind = kinds[0]
    allowed = _ACTION_KEYS[kind]
    for key in action:
        if key not in allowed:
            message = f"unknown key for a {kind} action; allowed keys: {', '.join(allowed)}"
            at.report(at.child(action, key).error(message))
    if kind == "run":
        return Action(
            "run",
            command=_required(action, "run", at, _command),
            timeout_s=_optional(action, "timeout_s", at, _positive_number, None),
        )
    content = _required(action, "content", at, _any_text) if kind == "write" else None
    return Action(kind, path=_required(action, kind, at, _workspace_path), content=content)


def _command(value: Any, at: Where) -> str | tuple[str, ...]:
    """A string goes to the shell as written; a list is an argv, run without one."""
    if isinstance(value, str):
        return _text(value, at)
    if isinstance(value, list) and value:
        return _texts(value, at)
    raise at.expected("a command string or a non-empty list of strings (argv)", value)


# -- whole-plan checks ------------------------------------------------------------------------


def _unplaced(step: StepSpec, plan_source: str | None) -> _StepPlaces:
    """Places for a step of a plan built in code: its file when known, no lines."""
    at = _at(step.source or plan_source or "<plan>", step.step_id)
    dependencies = tuple(replace(at, path=f"depends_on[{i}]") for i in range(len(step.depends_on)))
    return _StepPlaces(replace(at, path="step_id"), dependencies)


def _check_graph(steps: Sequence[StepSpec], places: Sequence[_StepPlaces], mistaken: Collection[str] = ()) -> None:
    """`mistaken`: the ids of steps left out for their own mistakes (depending on one is no mistake)."""
    first: dict[str, Where] = {}
    duplicated = False
    for step, place in zip(steps, places):
        if step.step_id in first:
            duplicated = True
            place.step_id.report(place.step_id.error(f"duplicate step id (first at {first[step.step_id].location})"))
            continue
        first[step.step_id] = place.step_id
    known = ", ".join(first)
    for step, place in zip(steps, places):
        for dep, dep_at in zip(step.depends_on, place.depends_on):
            if dep not in first and dep not in mistaken:
                dep_at.report(dep_at.error(f"depends on unknown step {dep!r}; steps in this plan: {known}"))
    _, cycle = dependency_order(steps)
    if cycle and not duplicated:
        start, following = steps[cycle[0]], steps[cycle[1]].step_id
        edge = places[cycle[0]].depends_on[start.depends_on.index(following)]
        path = " -> ".join(steps[i].step_id for i in cycle)
        raise edge.error(f"dependency cycle: {path} (each step depends on the next)")
