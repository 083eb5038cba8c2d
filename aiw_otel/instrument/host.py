"""Operations that may contain AI calls, file operations and commands (steps and tool calls)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from aiw_otel.instrument.ai import AICall
from aiw_otel.instrument.base import Operation
from aiw_otel.instrument.command import Command
from aiw_otel.instrument.files import FileOp, FileOperation


class ActionHost(Operation):
    """Factories for child operations; each child is parented explicitly to this span."""

    def ai_call(
        self,
        *,
        provider: str,
        model: str,
        server_address: str | None = None,
        server_port: int | None = None,
        attempt: int = 1,
        event_id: str | None = None,
        request: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> AICall:
        """A `chat {model}` span; `request` holds `gen_ai.request.*` parameters (max_tokens, temperature),
        `conversation_id` the conversation the call continues (`gen_ai.conversation.id`)."""
        return AICall(
            self._instruments,
            self,
            provider=provider,
            model=model,
            server_address=server_address,
            server_port=server_port,
            attempt=attempt,
            event_id=event_id,
            request=request,
            conversation_id=conversation_id,
        )

    def file_operation(self, operation: FileOp | str, path: str, relative_path: str | None = None) -> FileOperation:
        """`path` is the full path (`file.path`); `relative_path` the one the step gave, if relative to somewhere."""
        return FileOperation(self._instruments, self, operation, path, relative_path)

    def command(self, command: str | Sequence[str], cwd: str | None = None, shown_as: str | None = None) -> Command:
        """`shown_as`: the command as written (`aiw.command.line`), when `command` is what runs it
        (a shell line run as `sh -c LINE`, or split into the program's argv)."""
        return Command(self._instruments, self, command, cwd, shown_as)
