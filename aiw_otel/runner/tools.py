"""The tools a model may call in a step: files in the workspace and shell commands.

What goes wrong because of the call itself (arguments that do not fit, a refused path, a missing
file, a failing command) goes back to the model as text, so it can correct itself, and is recorded
on the `execute_tool` span. Only a cancel (RunCancelled) and our own bugs leave `execute_tool`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from aiw_otel.instrument.base import error_type_of
from aiw_otel.instrument.command import exit_error_type
from aiw_otel.instrument.plan import Step
from aiw_otel.instrument.tool import ToolCall
from aiw_otel.runner.processes import run_command
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.workspace import Workspace, WorkspaceError

#: Entries of one directory listing given to the model; the rest is only counted.
MAX_LIST_ENTRIES = 1000


class ToolCallLike(Protocol):
    """What a model's tool call must offer (aiw_otel.runner.ai_chat.ToolCallRequest does)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def arguments(self) -> str: ...


class ToolError(Exception):
    """The call itself is wrong: an unknown tool, or arguments that are not what the schema says."""


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


_PATH = {"type": "string", "description": "A path relative to the workspace root, e.g. 'src/app.py'."}

#: The tools in the OpenAI `tools` format (also what OpenAI-compatible servers accept).
TOOL_DEFINITIONS: list[dict[str, Any]] = [
    _function("read_file", "Read a file of the workspace as text; a very long file is cut, with a note saying so.",
              {"path": _PATH}, ["path"]),
    _function("write_file", "Create or overwrite a file of the workspace with the given text; missing directories "
              "are created.", {"path": _PATH, "content": {"type": "string", "description": "The whole new content."}},
              ["path", "content"]),
    _function("list_files", "List a directory of the workspace (default: its root); directories end with '/'.",
              {"path": {**_PATH, "default": "."}}, []),
    _function("delete_file", "Delete a file of the workspace.", {"path": _PATH}, ["path"]),
    _function("execute_command", "Run a shell command (/bin/sh -c) in the workspace root. Returns JSON with "
              "exit_code, timed_out and the end of stdout and stderr.",
              {"command": {"type": "string", "description": "The shell command line."},
               "timeout_s": {"type": "number", "description": "Seconds before the command is stopped; the runner's "
                             "own limit still applies."}}, ["command"]),
]


@dataclass(frozen=True)
class _Invocation:
    tool: ToolCall
    args: Mapping[str, Any]
    workspace: Workspace
    control: RunControl
    timeout_s: float | None

    def string(self, key: str, default: str | None = None) -> str:
        value = self.args.get(key, default)
        if value is None:
            raise ToolError(f"missing argument '{key}'")
        if not isinstance(value, str):
            raise ToolError(f"argument '{key}' must be a string, got {type(value).__name__}")
        return value

    def command_timeout(self) -> float | None:
        """The model may ask for less time than the runner allows, never for more."""
        asked = self.args.get("timeout_s")
        if asked is None:
            return self.timeout_s
        if isinstance(asked, bool) or not isinstance(asked, (int, float)) or asked <= 0:
            raise ToolError(f"argument 'timeout_s' must be a positive number, got {asked!r}")
        return float(asked) if self.timeout_s is None else min(float(asked), self.timeout_s)


def execute_tool(
    step: Step, call: ToolCallLike, workspace: Workspace, control: RunControl, timeout_s: float | None
) -> str:
    """Run one tool call under an `execute_tool` span; the result (or the error) as text for the model.

    A paused run holds the call before it starts; a cancelled one raises RunCancelled.
    """
    control.checkpoint()
    tool = step.tool_call(call.name, call_id=call.id, arguments=call.arguments)
    with tool:
        try:
            handler = _HANDLERS.get(call.name)
            if handler is None:
                raise ToolError(f"unknown tool '{call.name}'; the tools are {', '.join(_HANDLERS)}")
            output = handler(_Invocation(tool, _parse_arguments(call.arguments), workspace, control, timeout_s))
        except (ToolError, WorkspaceError, OSError, UnicodeError) as error:
            tool.set_error(error_type_of(error), str(error))
            output = f"Error: {error}"
        tool.result(output)
    return output


def _parse_arguments(raw: str) -> Mapping[str, Any]:
    try:
        args = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as error:
        raise ToolError(f"the arguments are not valid JSON: {error}") from None
    if not isinstance(args, dict):
        raise ToolError(f"the arguments must be a JSON object, got {type(args).__name__}")
    return args


def _read_file(call: _Invocation) -> str:
    return call.workspace.read(call.tool, call.string("path"))


def _write_file(call: _Invocation) -> str:
    path = call.string("path")
    written = call.workspace.write(call.tool, path, call.string("content"))
    return f"Wrote {written} bytes to {path}."


def _list_files(call: _Invocation) -> str:
    entries = call.workspace.list(call.tool, call.string("path", "."))
    text = "\n".join(entries[:MAX_LIST_ENTRIES]) or "(empty directory)"
    if len(entries) > MAX_LIST_ENTRIES:
        text += f"\n[... {len(entries) - MAX_LIST_ENTRIES} more entries ...]"
    return text


def _delete_file(call: _Invocation) -> str:
    path = call.string("path")
    call.workspace.delete(call.tool, path)
    return f"Deleted {path}."


def _execute_command(call: _Invocation) -> str:
    timeout_s = call.command_timeout()
    result = run_command(call.tool, call.string("command"), cwd=call.workspace.root, control=call.control,
                         timeout_s=timeout_s, env=call.workspace.env)
    if result.timed_out:
        call.tool.set_error("timeout", f"command timed out after {timeout_s} s")
    elif result.exit_code != 0:
        call.tool.set_error(exit_error_type(result.exit_code), f"command exited with {result.exit_code}")
    return json.dumps({"exit_code": result.exit_code, "timed_out": result.timed_out,
                       "stdout": result.stdout_tail, "stderr": result.stderr_tail}, ensure_ascii=False)


_HANDLERS: dict[str, Callable[[_Invocation], str]] = {
    "read_file": _read_file,
    "write_file": _write_file,
    "list_files": _list_files,
    "delete_file": _delete_file,
    "execute_command": _execute_command,
}
