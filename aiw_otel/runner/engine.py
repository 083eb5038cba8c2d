"""The reference engine: runs a plan's steps in dependency order with full telemetry.

It is the host that makes every span, event and log of the seed come from real work: AI turns
with tool calls, files in a workspace, real commands. Steering goes through `pause()`,
`resume()`, `cancel()` and `add_context()`, which first record the request on the run (where an
invalid one is refused) and then make it take effect through RunControl.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from aiw_otel.instrument.plan import Agent, PlanRun, Step
from aiw_otel.model import LogLevel, RunCancelled, State
from aiw_otel.otlp_values import SET_IN_ENVIRON
from aiw_otel.present import step_count
from aiw_otel.runner.command_env import without_credentials
from aiw_otel.runner.control import RunControl
from aiw_otel.runner.plan import Action, Plan, StepSpec
from aiw_otel.runner.prompts import step_messages, user_context_message
from aiw_otel.setup import Telemetry
from aiw_otel.stepref import StepRef, labels

if TYPE_CHECKING:
    from aiw_otel.redaction import Redactor

class StepFailure(Exception):
    """A step that could not do its job (a command failed, an artifact is missing)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class RunOptions:
    workspace: Path
    #: Overrides the plan's model_preference.provider / .model when set.
    provider: str | None = None
    model: str | None = None
    replay_file: str | None = None
    fail_fast: bool = False
    max_turns: int = 12
    command_timeout_s: float = 300.0
    default_provider: str = "openai"
    default_model: str = "gpt-4o-mini"
    price_table: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None
    #: Credential variables commands may still see (see runner/command_env.py); adds to $AIW_COMMAND_ENV_ALLOW.
    command_env_allow: tuple[str, ...] = ()


ClientFactory = Callable[..., Any]


def for_model(redactor: Redactor | None, message: dict[str, Any]) -> dict[str, Any]:
    """A chat message as the model may see it: its text and tool-call arguments redacted (whole,
    never cut). Secrets in the plan, in files, in command output or in the model's own replies
    do not leave the process in the requests either; None (redaction off) sends it as it is."""
    if redactor is None:
        return message
    redacted = dict(message)
    if isinstance(message.get("content"), str):
        redacted["content"] = redactor.redact_whole(message["content"])
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        redacted["tool_calls"] = [_call_for_model(redactor, call) for call in calls]
    return redacted


def _call_for_model(redactor: Redactor, call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    return {**call, "function": {**function, "arguments": redactor.redact_whole(function["arguments"])}}


def command_environment(environ: Mapping[str, str] | None, allow: tuple[str, ...] = ()) -> dict[str, str]:
    """The runner's environment without its credentials, with its own Python first on PATH.

    Plans say `python ...`; on a machine with only `python3`, or with the runner in a virtualenv
    that is not activated, that must still be the interpreter (and packages) the runner uses.
    Credentials (API keys, tokens, the OTLP headers ...) stay with the runner unless allowed:
    see runner/command_env.py.
    """
    env, _ = without_credentials(os.environ if environ is None else environ, allow)
    if environ is None or environ is os.environ:  # what aiw-otel added to its own, not the user's
        for name in SET_IN_ENVIRON:
            env.pop(name, None)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", os.defpath)
    return env


class Engine:
    """Run one plan; steer it from any thread while it runs."""

    def __init__(self, telemetry: Telemetry, plan: Plan, options: RunOptions,
                 client_factory: ClientFactory | None = None) -> None:
        self.telemetry = telemetry
        self.plan = plan
        self.options = options
        self.control = RunControl()
        self.run_record: PlanRun | None = None
        self._started = threading.Event()
        #: Set as soon as a cancel is asked for, before it is recorded or takes effect: what the
        #: front end's watchdog waits on, in case the engine cannot act on it (runner/watchdog.py).
        self.cancel_requested = threading.Event()
        self._clients: dict[str, Any] = {}
        self._client_factory = client_factory
        self._workspace: Any = None
        self._order: tuple[StepSpec, ...] = ()
        #: step id -> what log messages call it: the console's label (its name, else a short id).
        self._labels: dict[str, str] = {}

    # -- steering (any thread) ------------------------------------------------------------
    def wait_until_started(self, timeout_s: float | None = None) -> bool:
        return self._started.wait(timeout_s)

    def pause(self, source: str = "api") -> None:
        self._require_run().pause(source=source)
        self.control.pause()

    def resume(self, source: str = "api") -> None:
        self._require_run().resume(source=source)
        self.control.resume()

    def cancel(self, source: str = "api") -> None:
        self.cancel_requested.set()
        self._require_run().cancel(source=source)
        self.control.cancel()

    def add_context(self, text: str, source: str = "api") -> None:
        self._require_run().add_context(text, source=source)

    def stop(self, source: str = "api") -> None:
        """Cancel whether or not the run has started, once: before the start the run stops at its
        first checkpoint (nothing to record yet); a repeated request, or one after the end, does nothing."""
        if self.control.cancelled:
            return
        self.cancel_requested.set()
        if not self.wait_until_started(0):
            self.control.cancel()
            return
        try:
            self.cancel(source=source)
        except ValueError:  # already finished (InvalidTransition): nothing to cancel
            pass

    def _require_run(self) -> PlanRun:
        if self.run_record is None:
            raise RuntimeError("the plan has not started yet")
        return self.run_record

    # -- running --------------------------------------------------------------------------
    def run(self) -> State:
        """Execute the plan on this thread; returns its final state."""
        from aiw_otel.runner.workspace import Workspace

        self.prepare()
        self.options.workspace.mkdir(parents=True, exist_ok=True)
        self._workspace = Workspace(self.options.workspace,
                                    env=command_environment(self.options.environ, self.options.command_env_allow))
        with self.telemetry.plan_run(self.plan.plan_id, self.plan.name) as run:
            self.run_record = run
            self._started.set()
            run.log(LogLevel.INFO, "plan_loaded", f"Plan '{self.plan.name}' has {step_count(len(self.plan.steps))}.",
                    details={"plan_source": self.plan.source or "", "workspace": str(self.options.workspace),
                             "goal": self.plan.goal})
            for spec in self._order:
                self._run_or_skip(run, spec)
            if self.control.cancelled and not run.state.is_terminal:
                run.finish(State.CANCELLED, "cancelled before the run could record it")
        return run.state

    def _run_or_skip(self, run: PlanRun, spec: StepSpec) -> None:
        label = self._labels[spec.step_id]
        if self.control.cancelled or run.state is State.CANCELLED:
            self._skip(run, spec, "the run was cancelled", State.CANCELLED)
            return
        blocked = [self._labels[d] for d in spec.depends_on if run.steps[d].state is not State.COMPLETED]
        if blocked:
            self._skip(run, spec, f"dependency {', '.join(repr(b) for b in blocked)} did not complete")
            return
        if self.options.fail_fast and run.failed_steps:
            self._skip(run, spec, "an earlier step failed (--fail-fast)")
            return
        try:
            self.control.checkpoint()  # a pause between steps holds the next one here
        except RunCancelled:
            self._skip(run, spec, "the run was cancelled", State.CANCELLED)
            return
        try:
            with run.step(spec.step_id, spec.type, spec.description, self._agent(run, spec), spec.name,
                          label) as step:
                try:
                    self._execute(step, spec)
                except StepFailure as failure:
                    step.fail(failure.error_type, str(failure))
        except RunCancelled:
            pass  # the step ended Cancelled; the remaining steps are recorded as cancelled
        except Exception:  # recorded on the step (Failed, error.type, exception event); independent steps go on
            pass

    def _skip(self, run: PlanRun, spec: StepSpec, reason: str, state: State = State.SKIPPED) -> None:
        run.skip_step(spec.step_id, reason, step_type=spec.type, description=spec.description, state=state,
                      name=spec.name, label=self._labels[spec.step_id])

    def _execute(self, step: Step, spec: StepSpec) -> None:
        for action in spec.actions:
            self.control.checkpoint()
            self._perform(step, action)
        if spec.needs_ai:
            self._converse(step, spec)
        missing = [a for a in spec.output_artifacts if not self._workspace.exists(a)]
        if missing:
            raise StepFailure("MissingOutputArtifact", f"output artifact(s) not produced: {', '.join(missing)}")

    def _perform(self, step: Step, action: Action) -> None:
        from aiw_otel.runner.processes import run_command

        workspace = self._workspace
        if action.kind == "run":
            result = run_command(step, action.command or "", cwd=workspace.root, control=self.control,
                                 timeout_s=action.timeout_s or self.options.command_timeout_s, env=workspace.env)
            if result.timed_out:
                raise StepFailure("CommandTimeout", f"command timed out: {action.command}")
            if result.exit_code != 0:
                raise StepFailure("CommandFailed", f"command exited with {result.exit_code}: {action.command}")
        elif action.kind == "write":
            workspace.write(step, action.path, action.content or "")
        elif action.kind == "read":
            workspace.read(step, action.path)
        elif action.kind == "delete":
            workspace.delete(step, action.path)

    def _converse(self, step: Step, spec: StepSpec) -> None:
        from aiw_otel.runner.tools import TOOL_DEFINITIONS, execute_tool

        run = self._require_run()
        preference = spec.model_preference
        provider, model = self._model_for(spec)
        client = self._client(provider, model)
        redactor = self.telemetry.redactor
        messages = [for_model(redactor, m) for m in step_messages(self.plan, spec, self._read_inputs(step, spec))]
        for _turn in range(self.options.max_turns):
            self.control.checkpoint()
            context = run.take_context()
            if context:
                messages.append(for_model(redactor, user_context_message(context)))
                step.log(LogLevel.INFO, "context_applied", "User context added to the next AI call.",
                         details={"context_items": len(context)})
            result = client.chat(step, model=model, messages=messages, tools=TOOL_DEFINITIONS,
                                 temperature=preference.temperature if preference else None,
                                 max_tokens=preference.max_tokens if preference else None, control=self.control)
            messages.append(for_model(redactor, result.message))
            if not result.tool_calls:
                return
            for call in result.tool_calls:
                output = execute_tool(step, call, self._workspace, self.control, self.options.command_timeout_s)
                messages.append(for_model(redactor, {"role": "tool", "tool_call_id": call.id, "content": output}))
        raise StepFailure("TurnLimitExceeded", f"the model did not finish within {self.options.max_turns} turns")

    def _agent(self, run: PlanRun, spec: StepSpec) -> Agent | None:
        """The agent of a step that converses with a model; its conversation is this step in this run,
        so the id is stable and says where it comes from."""
        if not spec.needs_ai:
            return None
        provider, model = self._model_for(spec)
        return Agent(name=spec.type, provider=self._client(provider, model).provider, model=model,
                     conversation_id=f"{run.run_id}:{spec.step_id}")

    def _model_for(self, spec: StepSpec) -> tuple[str, str]:
        preference = spec.model_preference
        provider = self.options.provider or (preference.provider if preference else None) or self.options.default_provider
        model = self.options.model or (preference.model if preference else None) or self.options.default_model
        return provider, model

    def prepare(self) -> None:
        """Order the steps and build the AI clients the plan needs: a dependency the plan lacks, a
        cycle, a missing key or replay file is refused before anything runs."""
        self._order = self.plan.in_dependency_order()
        self._labels = labels(StepRef(spec.step_id, spec.name) for spec in self.plan.steps)
        for spec in self.plan.steps:
            if spec.needs_ai:
                self._client(*self._model_for(spec))

    def _read_inputs(self, step: Step, spec: StepSpec) -> dict[str, str]:
        inputs = {}
        for artifact in spec.input_artifacts:
            if self._workspace.exists(artifact):
                inputs[artifact] = self._workspace.read(step, artifact)
        return inputs

    def _client(self, provider: str, model: str) -> Any:
        if provider not in self._clients:
            from aiw_otel.runner.ai_client import make_client

            factory = self._client_factory or make_client
            self._clients[provider] = factory(
                provider, model=model, replay_file=self.options.replay_file, price_table=self.options.price_table,
                environ=self.options.environ)
        return self._clients[provider]
