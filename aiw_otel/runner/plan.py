"""A plan as the engine sees it, whatever AIWhisperer format it came from.

Plain frozen data: the loaders (`plan_loader`) build it and validate it, the engine only reads it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Sequence

from aiw_otel.errors import FileError


class PlanError(FileError):
    """A plan that cannot run: names the file, the step and the field, and what was expected."""


#: The AI providers a plan's `model_preference.provider` (and `run --provider`) may name.
PROVIDERS = ("openai", "openrouter", "replay")


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

    def in_dependency_order(self) -> tuple[StepSpec, ...]:
        """The steps in the order they run: each after its dependencies, otherwise as listed.

        The file order is only a tie-break: a step may depend on one listed after it. An unknown
        dependency or a cycle (which `validate_plan` reports with its lines) is a PlanError.
        """
        known = {step.step_id for step in self.steps}
        for step in self.steps:
            for dep in step.depends_on:
                if dep not in known:
                    raise PlanError(f"depends on unknown step {dep!r}", source=step.source or self.source,
                                    step=step.step_id, field_name="depends_on")
        order, cycle = dependency_order(self.steps)
        if cycle:
            path = " -> ".join(self.steps[i].step_id for i in cycle)
            raise PlanError(f"dependency cycle: {path} (each step depends on the next)", source=self.source)
        return tuple(self.steps[i] for i in order)


def dependency_order(steps: Sequence[StepSpec]) -> tuple[list[int], list[int] | None]:
    """Step indexes in running order, and a cycle (indexes, first one repeated) if some steps
    can never run. Iterative (Kahn's algorithm), so a plan of any length and depth is fine;
    among steps that are ready, the one listed first goes first. Unknown dependencies are ignored.
    """
    index = {step.step_id: i for i, step in enumerate(steps)}
    waiting_on = [0] * len(steps)
    dependents: list[list[int]] = [[] for _ in steps]
    for i, step in enumerate(steps):
        for j in {index[dep] for dep in step.depends_on if dep in index}:
            waiting_on[i] += 1
            dependents[j].append(i)
    ready = [i for i, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for k in dependents[i]:
            waiting_on[k] -= 1
            if waiting_on[k] == 0:
                heapq.heappush(ready, k)
    if len(order) == len(steps):
        return order, None
    return order, _cycle_among(steps, index, {i for i, count in enumerate(waiting_on) if count})


def _cycle_among(steps: Sequence[StepSpec], index: dict[str, int], stuck: set[int]) -> list[int]:
    """Every stuck step waits on another stuck step, so following the first such dependency from
    the first stuck step (in file order) must come back to a step already on the path."""
    path: list[int] = []
    seen: dict[int, int] = {}
    i = min(stuck)
    while i not in seen:
        seen[i] = len(path)
        path.append(i)
        i = next(index[dep] for dep in steps[i].depends_on if index.get(dep) in stuck)
    return path[seen[i]:] + [i]
