"""Tool calls chosen by a model: `execute_tool {name}`, hosting the file and command spans they cause."""

from __future__ import annotations

import json
from typing import Any

from aiw_otel import conventions as sc
from aiw_otel.instrument.base import Instruments, Operation
from aiw_otel.instrument.host import ActionHost
from aiw_otel.model import ComponentType


class ToolCall(ActionHost):
    """A tool chosen by the model: `execute_tool {name}`; file and command spans nest under it."""

    component = ComponentType.AI_SERVICE

    def __init__(
        self, instruments: Instruments, parent: Operation, name: str, call_id: str | None = None, arguments: Any = None
    ) -> None:
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: name,
            sc.GEN_AI_TOOL_TYPE: "function",
        }
        if call_id:
            attributes[sc.GEN_AI_TOOL_CALL_ID] = call_id
        if arguments is not None and instruments.content_capture.on_span:
            attributes["gen_ai.tool.call.arguments"] = arguments if isinstance(arguments, str) else json.dumps(arguments)
        super().__init__(instruments, f"{sc.OP_EXECUTE_TOOL} {name}", attributes=attributes, parent=parent)
        self.tool_name = name

    def result(self, value: Any) -> None:
        """The tool's result; kept only when content capture is on (it may hold file contents)."""
        if self._instruments.content_capture.on_span:
            self.set_attribute("gen_ai.tool.call.result", value if isinstance(value, str) else json.dumps(value))
