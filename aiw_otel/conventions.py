"""Attribute, event and span names in one place.

Semantic-convention names (GenAI v1.41.1 shape, process/CLI, file, error) are spelled out here
instead of imported from opentelemetry-semantic-conventions, whose GenAI constants are deprecated
("moved") and whose values we pin by our own tests. Our own `aiw.*` names are used only where no
convention exists.
"""

from __future__ import annotations

#: OTLP's Status.code of a failed span, the value of the SDK's `StatusCode.ERROR`. Spans' codes are
#: compared as numbers: importing `opentelemetry.trace` for the enum would cost `aiw-otel logs`
#: (which reads the codes from the files as numbers) ~10 ms per run, and the enum member's
#: `_value_` (a plain attribute, unlike the `value` property) reads faster than `StatusCode.ERROR`.
STATUS_ERROR = 2

# --- GenAI -------------------------------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
#: Metric attribute of `gen_ai.client.token.usage`: input or output.
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"

OP_INVOKE_WORKFLOW = "invoke_workflow"
OP_INVOKE_AGENT = "invoke_agent"
OP_CHAT = "chat"
OP_EXECUTE_TOOL = "execute_tool"

#: OpenAI `finish_reason` values -> the `FinishReason` enum of the GenAI output-messages JSON
#: schema (stop, length, content_filter, tool_call, error). Only the messages use these;
#: `gen_ai.response.finish_reasons` keeps the provider's own words, as its registry entry shows.
FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
}

#: Log-based event carrying prompt/completion content when EVENT capture is on.
EVENT_INFERENCE_DETAILS = "gen_ai.client.inference.operation.details"

# --- server / error ----------------------------------------------------------------------
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
ERROR_TYPE = "error.type"
ERROR_INTERRUPTED = "interrupted"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"

# --- process (CLI client span) -----------------------------------------------------------
PROCESS_EXECUTABLE_NAME = "process.executable.name"
PROCESS_COMMAND_ARGS = "process.command_args"
PROCESS_PID = "process.pid"
PROCESS_EXIT_CODE = "process.exit.code"
PROCESS_WORKING_DIRECTORY = "process.working_directory"

# --- file --------------------------------------------------------------------------------
FILE_PATH = "file.path"
FILE_SIZE = "file.size"

# --- ours: no convention exists ----------------------------------------------------------
AIW_PLAN_ID = "aiw.plan.id"
AIW_PLAN_STATE = "aiw.plan.state"
AIW_RUN_ID = "aiw.run.id"
AIW_STEP_ID = "aiw.step.id"
AIW_STEP_TYPE = "aiw.step.type"
AIW_STEP_STATE = "aiw.step.state"
AIW_STEP_DESCRIPTION = "aiw.step.description"
#: The step's readable name (AIWhisperer's subtask `name`), when the plan gives one: ids may be UUIDs.
AIW_STEP_NAME = "aiw.step.name"
AIW_SKIP_REASON = "aiw.skip.reason"
AIW_FILE_OPERATION = "aiw.file.operation"
#: The path as the plan or model gave it, relative to the workspace (`file.path` is absolute).
AIW_FILE_RELATIVE_PATH = "aiw.file.relative_path"
AIW_FILE_BYTES_READ = "aiw.file.bytes_read"
AIW_FILE_BYTES_WRITTEN = "aiw.file.bytes_written"
#: The command line as the plan or the model wrote it (the span describes what actually ran).
AIW_COMMAND_LINE = "aiw.command.line"
AIW_COMMAND_STREAM = "aiw.command.stream"
#: One line a command printed (a `command_output` event).
AIW_COMMAND_OUTPUT_LINE = "aiw.command.output_line"
AIW_OUTPUT_BYTES = "aiw.command.{stream}.bytes"
AIW_OUTPUT_LINES = "aiw.command.{stream}.lines"
AIW_OUTPUT_EVENTS_DROPPED = "aiw.command.output_events_dropped"
AIW_AI_ATTEMPT = "aiw.ai.attempt"
AIW_AI_COST = "aiw.ai.cost_usd"
#: On an `api_response_failed` event: the attempt will be retried after this many seconds.
AIW_AI_RETRY_AFTER_S = "aiw.ai.retry_after_s"
#: pause, resume, cancel or context. Not `aiw.interaction`: that is the namespace of these
#: attributes, and a name must not coincide with a namespace (semconv naming rules).
AIW_INTERACTION = "aiw.interaction.kind"
AIW_INTERACTION_SOURCE = "aiw.interaction.source"
AIW_IO_DIRECTION = "aiw.io.direction"
AIW_COMMAND_OUTCOME = "aiw.command.outcome"

# LogMessage fields as log-record attributes.
AIW_COMPONENT = "aiw.component"
AIW_ACTION = "aiw.action"
AIW_LOG_STEP_ID = "aiw.step_id"
AIW_EVENT_ID = "aiw.event_id"
AIW_STATE_BEFORE = "aiw.state_before"
AIW_STATE_AFTER = "aiw.state_after"
AIW_DURATION_MS = "aiw.duration_ms"

#: Our own attributes' namespace; every attribute we emit is either a convention's or under it.
AIW_PREFIX = "aiw."

#: LogMessage `details` keys (the seed's bare names) whose record attribute is an existing one,
#: a convention's where it means exactly the same thing. Any other bare key becomes `aiw.<key>`;
#: a dotted key is taken as a full attribute name already.
LOG_DETAIL_KEYS = {
    "error_type": ERROR_TYPE,
    "exit_code": PROCESS_EXIT_CODE,
    "working_directory": PROCESS_WORKING_DIRECTORY,
    "file_path": FILE_PATH,
    "file_size": FILE_SIZE,
    "status_code": HTTP_RESPONSE_STATUS_CODE,
    "api_provider": GEN_AI_PROVIDER_NAME,
    "model_used": GEN_AI_REQUEST_MODEL,
    "command": AIW_COMMAND_LINE,
    "stream": AIW_COMMAND_STREAM,
    "stdout_bytes": AIW_OUTPUT_BYTES.format(stream="stdout"),
    "stdout_lines": AIW_OUTPUT_LINES.format(stream="stdout"),
    "stderr_bytes": AIW_OUTPUT_BYTES.format(stream="stderr"),
    "stderr_lines": AIW_OUTPUT_LINES.format(stream="stderr"),
    "bytes_read": AIW_FILE_BYTES_READ,
    "bytes_written": AIW_FILE_BYTES_WRITTEN,
    "retry_after_s": AIW_AI_RETRY_AFTER_S,
    "source": AIW_INTERACTION_SOURCE,
}

#: The `aiw.action` of a plan's first log record (instrument/plan.py: `{kind}_execution_{verb}`), which
#: carries `gen_ai.workflow.name`, `aiw.plan.id` and `aiw.run.id` as the plan span does at the run's end:
#: what readers name a run by while its plan span is not written (still going, or killed).
ACTION_PLAN_STARTED = "plan_execution_started"

# Span event names (seed section 4).
EV_STATE_CHANGE = "state_change"
EV_API_REQUEST_SENT = "api_request_sent"
EV_API_RESPONSE_RECEIVED = "api_response_received"
EV_API_RESPONSE_FAILED = "api_response_failed"
EV_COMMAND_OUTPUT = "command_output"
EV_EXCEPTION = "exception"
