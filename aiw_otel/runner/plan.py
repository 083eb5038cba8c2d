"""A plan as the engine sees it, whatever AIWhisperer format it came from.

Plain frozen data: the loaders (`plan_loader`) build it and validate it, the engine only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class PlanError(ValueError):
    """A plan that cannot run: names the file, the step and the field, and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, step: str | None = None,
                 field_name: str | None = None, line: int | None = None) -> None:
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        if step:
            where = f"{where}: step '{step}'" if where else f"step '{step}'"
        if field_name:
            where = f"{where}: {field_name}" if where else field_name
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.step = step
        self.field_name = field_name
        self.line = line


@dataclass(frozen=True)
class ModelPreference:
    """AIWhisperer's `model_preference`; any field may be missing (the CLI and config fill in)."""

    provider: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Action:
    """An explicit step action that needs no AI (our extension to the formats).

    kind: "run" (command), "write" (path + content), "read" (path) or "delete" (path).
    """

    kind: str
    command: str | tuple[str, ...] | None = None
    path: str | None = None
    content: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class StepSpec:
    step_id: str
    description: str
    type: str = "ai_interaction"
    name: str | None = None
    instructions: tuple[str, ...] = ()
    input_artifacts: tuple[str, ...] = ()
    output_artifacts: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    validation_criteria: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    model_preference: ModelPreference | None = None
    actions: tuple[Action, ...] = ()
    #: The file the step was read from (a subtask file, or the plan itself).
    source: str | None = None

    @property
    def needs_ai(self) -> bool:
        """A step with explicit actions and no instructions runs without a model."""
        return not self.actions or bool(self.instructions)


@dataclass(frozen=True)
class Plan:
    plan_id: str
    #: Low-cardinality name for `gen_ai.workflow.name` (an explicit name, else the file's stem).
    name: str
    goal: str
    steps: tuple[StepSpec, ...] = field(default_factory=tuple)
    source: str | None = None

    def step(self, step_id: str) -> StepSpec:
        return next(s for s in self.steps if s.step_id == step_id)
