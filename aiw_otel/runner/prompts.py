"""The conversation a step starts with: what the model is told about its task and its tools."""

from __future__ import annotations

from typing import Mapping, Sequence

from aiw_otel.runner.plan import Plan, StepSpec

SYSTEM_PROMPT = (
    "You are the AI agent of the AIWhisperer runner, executing one step of a plan. "
    "Work only inside the workspace, with relative paths, through the tools: read_file, write_file, "
    "list_files, delete_file and execute_command (commands run in the workspace). "
    "Produce every output artifact the step lists. When the step is done, reply with a short summary "
    "and no tool call."
)


def _section(title: str, items: Sequence[str]) -> str:
    return f"{title}:\n" + "\n".join(f"- {item}" for item in items) if items else ""


def step_messages(plan: Plan, spec: StepSpec, inputs: Mapping[str, str]) -> list[dict[str, str]]:
    """System and user messages for the first turn of a step; input artifacts are inlined."""
    parts = [
        f"Plan goal: {plan.goal}" if plan.goal else "",
        f"Step '{spec.step_id}' ({spec.type}): {spec.description}",
        _section("Instructions", spec.instructions),
        _section("Constraints", spec.constraints),
        _section("Output artifacts to produce", spec.output_artifacts),
        _section("Validation criteria", spec.validation_criteria),
    ]
    for name, content in inputs.items():
        parts.append(f"Input artifact {name}:\n```\n{content}\n```")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(p for p in parts if p)},
    ]


def user_context_message(context: Sequence[str]) -> dict[str, str]:
    """Context the user typed while the run was going; it rides on the next AI call."""
    return {"role": "user", "content": "Additional context from the user:\n" + "\n".join(context)}
