"""Plans in every AIWhisperer format load into the same Plan, and every bad plan is refused early.

Error messages are compared whole where the line is predictable (hand-written YAML and JSON), so a
test fails when the file, step, field, line or wording drifts.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aiw_otel.cli.run import DEMO_PLAN
from aiw_otel.runner.plan import Action, ModelPreference, Plan, PlanError, StepSpec
from aiw_otel.runner.plan_loader import load_plan, validate_plan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLANS = EXAMPLES / "plans"
HELLO_TASK = "5b0c1c7e-2f4d-4a57-9a53-1f0d2a6e8b11"


def without_sources(plan: Plan) -> Plan:
    return replace(plan, source=None, steps=tuple(replace(step, source=None) for step in plan.steps))


def load_error(path: Path) -> PlanError:
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    return caught.value


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, data: Any) -> Path:
    return write(path, json.dumps(data, indent=2))


def step(step_id: str, *depends_on: str, **fields: Any) -> dict[str, Any]:
    """A valid single-file step; keyword fields replace agent_spec fields (None removes one)."""
    spec = {"type": "code_generation", "instructions": [f"Do {step_id}."], **fields}
    return {
        "step_id": step_id,
        "description": f"Step {step_id}.",
        "depends_on": list(depends_on),
        "agent_spec": {key: value for key, value in spec.items() if value is not None},
    }


def single_plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": "t-1", "natural_language_goal": "Test the loader.", "plan": list(steps)}


def subtask(subtask_id: str, *depends_on: str, **fields: Any) -> dict[str, Any]:
    body = {
        "subtask_id": subtask_id,
        "name": f"Step {subtask_id}",
        "type": "planning",
        "description": f"Step {subtask_id}.",
        "instructions": [f"Do {subtask_id}."],
        "depends_on": list(depends_on),
        **fields,
    }
    return {key: value for key, value in body.items() if value is not None}


def write_overview(
    folder: Path, *subtasks: dict[str, Any], entries: list[dict[str, Any]] | None = None
) -> Path:
    """An overview plus one file per subtask; `entries` overrides the overview's plan list."""
    for body in subtasks:
        write_json(folder / f"subtask_{body['subtask_id']}.json", body)
    default = [
        {"subtask_id": body["subtask_id"], "file_path": f"subtask_{body['subtask_id']}.json",
         "depends_on": body.get("depends_on", []), "type": body.get("type")}
        for body in subtasks
    ]
    overview = {"task_id": "t-2", "natural_language_goal": "Test overviews.", "plan": entries or default}
    return write_json(folder / "overview.json", overview)


# -- the examples -----------------------------------------------------------------------------


def test_overview_example_loads_every_field() -> None:
    folder = PLANS / "overview"
    plan = load_plan(folder / "overview_hello.json")

    assert (plan.plan_id, plan.name) == (HELLO_TASK, "hello")
    assert plan.goal.startswith("Add a hello-world script")
    assert plan.source == str(folder / "overview_hello.json")
    assert [s.step_id for s in plan.steps] == ["write_hello", "run_hello", "document_hello"]
    write_hello, run_hello, document_hello = plan.steps
    assert write_hello == StepSpec(
        step_id="write_hello",
        description="Write a script that prints a greeting.",
        type="code_generation",
        name="Write hello.py",
        instructions=(
            "Create hello.py that prints exactly 'Hello, world!' when run as a script.",
            'Put the printing in a main() function guarded by `if __name__ == "__main__":`.',
        ),
        output_artifacts=("hello.py",),
        constraints=("Use the standard library only.", "Do not create any other file."),
        validation_criteria=(
            "hello.py exists.",
            "`python hello.py` prints 'Hello, world!' and exits with status 0.",
        ),
        model_preference=ModelPreference("openai", "gpt-4o-mini", 0.2, 400),
        source=str(folder / "subtask_write_hello.json"),
    )
    assert run_hello.actions == (
        Action("run", command=("python", "hello.py"), timeout_s=30.0),
        Action("read", path="hello.py"),
    )
    assert (run_hello.type, run_hello.depends_on) == ("validation", ("write_hello",))
    assert run_hello.instructions == ()
    assert not run_hello.needs_ai and write_hello.needs_ai
    assert document_hello.depends_on == ("run_hello",)
    assert document_hello.model_preference is None


def test_single_file_json_and_yaml_give_the_same_plan() -> None:
    from_json = load_plan(PLANS / "hello.json")
    from_yaml = load_plan(PLANS / "hello.yaml")

    assert without_sources(from_json) == without_sources(from_yaml)
    assert from_yaml.source == str(PLANS / "hello.yaml")
    assert {s.source for s in from_yaml.steps} == {str(PLANS / "hello.yaml")}
    assert (from_json.name, from_json.plan_id) == ("hello", HELLO_TASK)  # the name is the file's stem


def test_the_three_example_formats_describe_the_same_work() -> None:
    overview = load_plan(PLANS / "overview" / "overview_hello.json")
    unnamed = replace(overview, steps=tuple(replace(s, name=None) for s in overview.steps))

    assert without_sources(unnamed) == without_sources(load_plan(PLANS / "hello.json"))


def test_demo_plan_has_the_scripted_steps() -> None:
    plan = load_plan(DEMO_PLAN / "overview_greet_release.json")

    assert plan.name == "greet-release"
    assert [(s.step_id, s.type, s.depends_on) for s in plan.steps] == [
        ("write_spec", "planning", ()),
        ("generate_code", "code_generation", ("write_spec",)),
        ("check_style", "validation", ("generate_code",)),
        ("publish_package", "deployment", ("check_style",)),
        ("announce_release", "documentation", ("publish_package",)),
    ]
    steps = {s.step_id: s for s in plan.steps}
    assert steps["write_spec"].output_artifacts == ("spec.md",)
    assert steps["generate_code"].input_artifacts == ("spec.md",)
    assert steps["generate_code"].output_artifacts == ("greet.py", "test_greet.py")
    assert steps["generate_code"].model_preference == ModelPreference("openai", "gpt-4o-mini", 0.2, 800)
    assert steps["check_style"].actions == (
        Action("run", command="python -m py_compile greet.py"),
        Action("read", path="greet.py"),
    )
    assert not steps["check_style"].needs_ai
    assert steps["publish_package"].output_artifacts == ("dist/greet.whl",)
    assert steps["announce_release"].output_artifacts == ("CHANGELOG.md",)
    assert all(s.description and s.constraints and s.validation_criteria for s in plan.steps)


# -- what the formats allow -------------------------------------------------------------------


def test_instructions_may_be_one_string(tmp_path: Path) -> None:
    plan = load_plan(write_json(tmp_path / "p.json", single_plan(step("a", instructions="Just do it."))))

    assert plan.steps[0].instructions == ("Just do it.",)


def test_unknown_extra_fields_are_ignored(tmp_path: Path) -> None:
    data = single_plan(step("a", priority="high"))
    data["input_hashes"] = {"requirements_md": "abc"}
    data["plan"][0]["completed"] = True
    plan = load_plan(write_json(tmp_path / "p.json", data))

    assert plan.steps[0].instructions == ("Do a.",)
    overview = write_overview(tmp_path / "o", subtask("a", task_id="t-2", input_hashes={"x": "y"}))
    assert load_plan(overview).steps[0].step_id == "a"


def test_name_or_title_names_the_plan_and_task_id_is_optional_then(tmp_path: Path) -> None:
    titled = {"title": "release", "plan": [step("a")]}
    plan = load_plan(write_json(tmp_path / "p.json", titled))

    assert (plan.name, plan.plan_id, plan.goal) == ("release", "release", "")


def test_steps_keep_the_file_order_not_the_dependency_order(tmp_path: Path) -> None:
    plan = load_plan(write_json(tmp_path / "p.json", single_plan(step("late", "early"), step("early"))))

    assert [s.step_id for s in plan.steps] == ["late", "early"]


def test_action_kinds_and_a_path_that_stays_inside(tmp_path: Path) -> None:
    actions = [
        {"run": "make test", "timeout_s": 2.5},
        {"write": "out/a/../notes.md", "content": ""},
        {"read": "notes.md"},
        {"delete": "tmp.txt"},
    ]
    data = single_plan(step("a", instructions=None))
    data["plan"][0]["actions"] = actions
    plan = load_plan(write_json(tmp_path / "p.json", data))

    assert plan.steps[0].actions == (
        Action("run", command="make test", timeout_s=2.5),
        Action("write", path="out/a/../notes.md", content=""),
        Action("read", path="notes.md"),
        Action("delete", path="tmp.txt"),
    )


def test_yaml_overview_with_yaml_subtasks(tmp_path: Path) -> None:
    write(tmp_path / "steps" / "a.yaml", "subtask_id: a\ndescription: Step a.\ninstructions: Do a.\n")
    overview = write(tmp_path / "plan.yml", "task_id: t\nplan:\n- subtask_id: a\n  file_path: steps/a.yaml\n")
    plan = load_plan(overview)

    assert plan.steps[0].source == str(tmp_path / "steps" / "a.yaml")
    assert plan.steps[0].type == "ai_interaction"


# -- files that cannot be read ----------------------------------------------------------------


def test_missing_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"

    assert str(load_error(path)) == f"{path}: plan file not found (looked for {path})"


def test_a_folder_stands_for_its_overview_file(tmp_path: Path) -> None:
    folder = DEMO_PLAN

    assert load_plan(folder) == load_plan(folder / "overview_greet_release.json")
    assert str(load_error(tmp_path)) == (
        f"{tmp_path}: a folder with no overview file; expected exactly one overview*.json (or .yaml, .yml) in it"
    )
    write(tmp_path / "overview_a.json", "{}")
    write(tmp_path / "overview_b.yaml", "")
    assert str(load_error(tmp_path)) == (
        f"{tmp_path}: a folder with 2 overview files (overview_a.json, overview_b.yaml); "
        "expected exactly one overview*.json (or .yaml, .yml) in it"
    )


def test_a_subtask_path_naming_a_folder(tmp_path: Path) -> None:
    entries = [{"subtask_id": "a", "file_path": "steps"}]
    overview = write_overview(tmp_path, subtask("a"), entries=entries)
    (tmp_path / "steps").mkdir()

    assert str(load_error(overview)).endswith(
        f"step 'a': file_path: {tmp_path / 'steps'} is a directory; expected a subtask file (.json, .yaml or .yml)"
    )


def test_unreadable_plan_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "p.json", "{}")

    def refuse(source: str, *_: Any) -> bytes:
        raise PermissionError(13, "Permission denied", source)

    monkeypatch.setattr("aiw_otel.runner.plan_loader.read_regular", refuse)  # chmod does not stop root, who runs CI here
    assert str(load_error(path)) == f"{path}: cannot read the plan file: Permission denied"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"task_id: t\nplan: \xff\n")

    assert str(load_error(path)) == f"{path}:2: not UTF-8 text (invalid start byte)"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "p.json", '{\n  "task_id": "t",\n  "plan": [,]\n}')

    error = load_error(path)
    assert str(error) == f"{path}:3: invalid JSON at line 3, column 12: Expecting value"
    assert error.line == 3


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "task_id: t\nplan:\n  - step_id: [a\n")

    message = str(load_error(path))
    assert message.startswith(f"{path}:4: invalid YAML at line 4, column 1: ")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write_json(tmp_path / "p.json", [step("a")])

    assert str(load_error(path)) == f"{path}: top level: expected a mapping, got a list"


def test_empty_yaml_file(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "# nothing yet\n")

    assert str(load_error(path)) == f"{path}: the file is empty; expected a plan file (a mapping)"


# -- required fields and types ----------------------------------------------------------------


def test_plan_needs_a_task_id_or_a_name(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "natural_language_goal: x\nplan: []\n")

    assert str(load_error(path)) == (
        f"{path}: task_id: missing; a plan needs a task_id (or a name) to identify it"
    )


@pytest.mark.parametrize(
    ("plan_value", "got"),
    [(None, "no value (the key is missing)"), ([], "[]"), ({"a": 1}, "a mapping")],
)
def test_plan_list_must_hold_steps(tmp_path: Path, plan_value: Any, got: str) -> None:
    data = {"task_id": "t"} if plan_value is None else {"task_id": "t", "plan": plan_value}
    path = write_json(tmp_path / "p.json", data)

    assert str(load_error(path)).endswith(f": plan: expected a non-empty list of steps, got {got}")


def test_yaml_errors_point_at_the_line_of_the_value(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.yaml",
        """task_id: t
plan:
  - step_id: write_code
    description: Write it.
    agent_spec:
      type: code_generation
      instructions: 12
""",
    )

    assert str(load_error(path)) == (
        f"{path}:7: step 'write_code': agent_spec.instructions: "
        "expected a list of strings (or a single string), got 12"
    )


def test_json_errors_point_at_the_line_of_the_value(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", single_plan(step("write_code", constraints=["ok", 3])))
    line = path.read_text().splitlines().index("          3") + 1

    error = load_error(path)
    assert str(error) == (
        f"{path}:{line}: step 'write_code': agent_spec.constraints[1]: expected a non-empty string, got 3"
    )
    assert (error.step, error.field_name, error.line) == ("write_code", "agent_spec.constraints[1]", line)


def test_json_that_yaml_cannot_read_still_loads_and_errors_go_without_a_line(tmp_path: Path) -> None:
    data = single_plan(step("a", instructions=12))
    path = write(tmp_path / "p.json", json.dumps(data, indent="\t"))  # tabs: valid JSON, not YAML

    assert str(load_error(path)) == (
        f"{path}: step 'a': agent_spec.instructions: expected a list of strings (or a single string), got 12"
    )
    write(path, json.dumps(single_plan(step("a")), indent="\t"))
    assert load_plan(path).steps[0].instructions == ("Do a.",)


def remove(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys[:-1]:
        data = data[key]
    del data[keys[-1]]
    return data


MISSING = "got no value (the key is missing)"
NOTHING_TO_DO = "missing; a step needs instructions (for the AI) or actions (or both)"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: remove(s, "step_id"), f"plan[0].step_id: expected a non-empty string, {MISSING}"),
        (lambda s: s.update(step_id=""), "plan[0].step_id: expected a non-empty string, got ''"),
        (lambda s: remove(s, "description"), f"step 'a': description: expected a non-empty string, {MISSING}"),
        (lambda s: remove(s, "agent_spec"), f"step 'a': agent_spec: expected a mapping, {MISSING}"),
        (lambda s: s.update(agent_spec=["x"]), "step 'a': agent_spec: expected a mapping, got ['x']"),
        (lambda s: remove(s, "agent_spec", "instructions"), f"step 'a': agent_spec.instructions: {NOTHING_TO_DO}"),
        (lambda s: s["agent_spec"].update(instructions=[]), f"step 'a': agent_spec.instructions: {NOTHING_TO_DO}"),
        (
            lambda s: s["agent_spec"].update(instructions=["ok", True]),
            "step 'a': agent_spec.instructions[1]: expected a non-empty string, got true",
        ),
        (
            lambda s: s["agent_spec"].update(output_artifacts="a.py"),
            "step 'a': agent_spec.output_artifacts: expected a list of strings, got 'a.py'",
        ),
        (lambda s: s["agent_spec"].update(type=3), "step 'a': agent_spec.type: expected a non-empty string, got 3"),
        (lambda s: s.update(depends_on="b"), "step 'a': depends_on: expected a list of strings, got 'b'"),
        (lambda s: s.update(name=["x", 1]), "step 'a': name: expected a non-empty string, got a list"),
    ],
)
def test_step_fields_must_have_the_right_type(tmp_path: Path, change: Any, expected: str) -> None:
    data = single_plan(step("a"))
    change(data["plan"][0])
    path = write_json(tmp_path / "p.json", data)

    error = load_error(path)
    assert str(error).endswith(expected)
    assert error.source == str(path) and error.line is not None


@pytest.mark.parametrize(
    ("preference", "expected"),
    [
        ("fast", "model_preference: expected a mapping, got 'fast'"),
        ({"temperature": 2.5}, "model_preference.temperature: expected a number from 0 to 2, got 2.5"),
        ({"temperature": -0.1}, "model_preference.temperature: expected a number from 0 to 2, got -0.1"),
        ({"temperature": "hot"}, "model_preference.temperature: expected a number from 0 to 2, got 'hot'"),
        ({"temperature": True}, "model_preference.temperature: expected a number from 0 to 2, got true"),
        ({"max_tokens": 0}, "model_preference.max_tokens: expected a positive integer, got 0"),
        ({"max_tokens": 1.5}, "model_preference.max_tokens: expected a positive integer, got 1.5"),
        ({"model": 4}, "model_preference.model: expected a non-empty string, got 4"),
    ],
)
def test_model_preference_types(tmp_path: Path, preference: Any, expected: str) -> None:
    path = write_json(tmp_path / "p.json", single_plan(step("a", model_preference=preference)))

    assert str(load_error(path)).endswith(f"step 'a': agent_spec.{expected}")


def test_model_preference_fields_are_each_optional(tmp_path: Path) -> None:
    preference = {"temperature": 0, "provider": None}
    path = write_json(tmp_path / "p.json", single_plan(step("a", model_preference=preference)))

    assert load_plan(path).steps[0].model_preference == ModelPreference(temperature=0.0)


# -- actions ----------------------------------------------------------------------------------


ONE_KIND = "expected exactly one of run, write, read, delete"
COMMAND = "expected a command string or a non-empty list of strings (argv)"
ABSOLUTE = "expected a path relative to the workspace (absolute paths are refused)"
OUTSIDE = "expected a path inside the workspace ('..' leads out of it)"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ({"run": "ls", "read": "a"}, f"actions[0]: {ONE_KIND} (keys given: run, read)"),
        ({"copy": "a"}, f"actions[0]: {ONE_KIND} (keys given: copy)"),
        ({}, f"actions[0]: {ONE_KIND} (keys given: none)"),
        ("ls", "actions[0]: expected a mapping, got 'ls'"),
        ({"write": "a.txt"}, f"actions[0].content: expected a string, {MISSING}"),
        ({"read": "a", "timeout_s": 3}, "actions[0].timeout_s: unknown key for a read action; allowed keys: read"),
        ({"run": []}, f"actions[0].run: {COMMAND}, got []"),
        ({"run": 12}, f"actions[0].run: {COMMAND}, got 12"),
        ({"run": ["ls", 1]}, "actions[0].run[1]: expected a non-empty string, got 1"),
        ({"run": "ls", "timeout_s": 0}, "actions[0].timeout_s: expected a number > 0, got 0"),
        ({"read": ""}, "actions[0].read: expected a non-empty string, got ''"),
        ({"read": "/etc/passwd"}, f"actions[0].read: {ABSOLUTE}, got '/etc/passwd'"),
        ({"delete": "C:\\Windows"}, f"actions[0].delete: {ABSOLUTE}, got 'C:\\\\Windows'"),
        ({"write": "../outside.txt", "content": "x"}, f"actions[0].write: {OUTSIDE}, got '../outside.txt'"),
        ({"delete": "a/../../b"}, f"actions[0].delete: {OUTSIDE}, got 'a/../../b'"),
        ({"delete": "a/.."}, "actions[0].delete: expected a file path inside the workspace, got 'a/..'"),
    ],
)
def test_bad_actions(tmp_path: Path, action: Any, expected: str) -> None:
    data = single_plan(step("a"))
    data["plan"][0]["actions"] = [action]
    path = write_json(tmp_path / "p.json", data)

    assert str(load_error(path)).endswith(f"step 'a': {expected}")


def test_actions_must_be_a_list(tmp_path: Path) -> None:
    data = single_plan(step("a"))
    data["plan"][0]["actions"] = {"run": "ls"}

    assert str(load_error(write_json(tmp_path / "p.json", data))).endswith(
        "step 'a': actions: expected a list of actions, got a mapping"
    )


# -- the step graph ---------------------------------------------------------------------------


def yaml_plan_after_step_a(tmp_path: Path, second_step: str) -> Path:
    """A YAML plan with step 'a' on lines 3-5 and `second_step` from line 6 on."""
    first = "  - step_id: a\n    description: First.\n    agent_spec: {instructions: [x]}\n"
    second = textwrap.indent(textwrap.dedent(second_step), "  ")
    return write(tmp_path / "p.yaml", "task_id: t\nplan:\n" + first + second)


def test_duplicate_step_ids_name_both_places(tmp_path: Path) -> None:
    path = yaml_plan_after_step_a(
        tmp_path,
        """\
          - step_id: a
            description: Second.
            agent_spec: {instructions: [y]}
        """,
    )

    assert str(load_error(path)) == f"{path}:6: step 'a': step_id: duplicate step id (first at {path}:3)"


def test_unknown_dependency_names_the_step_and_the_dependency(tmp_path: Path) -> None:
    path = yaml_plan_after_step_a(
        tmp_path,
        """\
          - step_id: b
            description: Second.
            depends_on:
              - a
              - deploy
            agent_spec: {instructions: [y]}
        """,
    )

    assert str(load_error(path)) == (
        f"{path}:10: step 'b': depends_on[1]: depends on unknown step 'deploy'; steps in this plan: a, b"
    )


@pytest.mark.parametrize(
    ("steps", "cycle", "failing_step"),
    [
        ([step("x"), step("a", "a")], "a -> a", "a"),
        ([step("a", "b"), step("b", "a")], "a -> b -> a", "a"),
        ([step("a", "b"), step("b", "c"), step("c", "a")], "a -> b -> c -> a", "a"),
        ([step("start"), step("c", "a"), step("a", "start", "b"), step("b", "c")], "c -> a -> b -> c", "c"),
    ],
)
def test_cycles_are_listed_in_order(
    tmp_path: Path, steps: list[dict[str, Any]], cycle: str, failing_step: str
) -> None:
    path = write_json(tmp_path / "p.json", single_plan(*steps))

    error = load_error(path)
    assert str(error).endswith(
        f"step '{failing_step}': depends_on[0]: dependency cycle: {cycle} (each step depends on the next)"
    )
    assert error.line is not None


# -- overview plans and their subtask files ---------------------------------------------------


def test_subtask_file_missing_is_blamed_on_the_overview(tmp_path: Path) -> None:
    overview = write_overview(tmp_path, subtask("a"))
    (tmp_path / "subtask_a.json").unlink()
    line = overview.read_text().splitlines().index('      "file_path": "subtask_a.json",') + 1

    assert str(load_error(overview)) == (
        f"{overview}:{line}: step 'a': file_path: "
        f"subtask file not found (looked for {tmp_path / 'subtask_a.json'})"
    )


def test_invalid_subtask_file_names_the_subtask_file(tmp_path: Path) -> None:
    overview = write_overview(tmp_path, subtask("a"))
    write(tmp_path / "subtask_a.json", "{\n  oops\n}")

    assert str(load_error(overview)) == (
        f"{tmp_path / 'subtask_a.json'}:2: invalid JSON at line 2, column 3: "
        "Expecting property name enclosed in double quotes"
    )


def test_subtask_file_fields_are_checked_in_that_file(tmp_path: Path) -> None:
    overview = write_overview(tmp_path, subtask("a", description=None))

    error = load_error(overview)
    assert str(error) == (
        f"{tmp_path / 'subtask_a.json'}: step 'a': description: "
        "expected a non-empty string, got no value (the key is missing)"
    )


def test_subtask_id_must_match_the_overview(tmp_path: Path) -> None:
    overview = write_overview(tmp_path, subtask("a"))
    write_json(tmp_path / "subtask_a.json", subtask("b"))
    entry_line = overview.read_text().splitlines().index('      "subtask_id": "a",') + 1

    assert str(load_error(overview)) == (
        f"{tmp_path / 'subtask_a.json'}:2: step 'a': subtask_id: 'b' differs from the overview's 'a' "
        f"({overview}:{entry_line}); the two must agree"
    )


def test_fields_in_both_files_must_agree(tmp_path: Path) -> None:
    entries = [{"subtask_id": "a", "file_path": "subtask_a.json", "type": "validation"}]
    overview = write_overview(tmp_path, subtask("a", type="planning"), entries=entries)

    assert "step 'a': type: 'planning' differs from the overview's 'validation'" in str(load_error(overview))


def test_fields_given_once_come_from_either_file(tmp_path: Path) -> None:
    entries = [
        {"subtask_id": "a", "file_path": "subtask_a.json", "type": "validation"},
        {"subtask_id": "b", "file_path": "subtask_b.json", "depends_on": ["a"]},
    ]
    subtasks = subtask("a", type=None, name=None), subtask("b", depends_on=None)
    overview = write_overview(tmp_path, *subtasks, entries=entries)
    a, b = load_plan(overview).steps

    assert (a.type, a.name, b.type, b.depends_on) == ("validation", None, "planning", ("a",))


def test_unknown_dependency_in_an_overview_points_at_the_overview(tmp_path: Path) -> None:
    entries = [{"subtask_id": "a", "file_path": "subtask_a.json", "depends_on": ["ghost"]}]
    overview = write_overview(tmp_path, subtask("a", depends_on=None), entries=entries)

    error = load_error(overview)
    assert error.source == str(overview)
    assert str(error).endswith("step 'a': depends_on[0]: depends on unknown step 'ghost'; steps in this plan: a")


@pytest.mark.parametrize(
    ("file_path", "expected"),
    [
        ("../x/subtask_a.json", "expected a path inside the plan's folder ('..' leads out of it), got '../x/subtask_a.json'"),
        ("/tmp/a.json", "expected a path relative to the plan's folder (absolute paths are refused), got '/tmp/a.json'"),
    ],
)
def test_subtask_path_may_not_leave_the_plan_folder(tmp_path: Path, file_path: str, expected: str) -> None:
    entries = [{"subtask_id": "a", "file_path": file_path}]
    overview = write_overview(tmp_path, subtask("a"), entries=entries)

    assert str(load_error(overview)).endswith(f"step 'a': file_path: {expected}")


def test_subtask_file_must_be_a_mapping(tmp_path: Path) -> None:
    overview = write_overview(tmp_path, subtask("a"))
    write_json(tmp_path / "subtask_a.json", ["a"])

    subtask_file = tmp_path / "subtask_a.json"
    assert str(load_error(overview)) == f"{subtask_file}: step 'a': expected a mapping, got ['a']"


def test_overview_entries_need_a_subtask_id(tmp_path: Path) -> None:
    overview = write_overview(tmp_path, subtask("a"), entries=[{"file_path": "subtask_a.json"}])

    assert str(load_error(overview)).endswith(
        ": plan[0].subtask_id: expected a non-empty string, got no value (the key is missing)"
    )


# -- validate_plan on plans built in code -----------------------------------------------------


def spec(step_id: str, *depends_on: str) -> StepSpec:
    return StepSpec(step_id, "A step.", instructions=("x",), depends_on=depends_on, source="built.py")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ((), "plan.json: plan: expected at least one step"),
        ((spec("a"), spec("a")), "built.py: step 'a': step_id: duplicate step id (first at built.py)"),
        ((spec("a", "b"),), "built.py: step 'a': depends_on[0]: depends on unknown step 'b'; steps in this plan: a"),
        ((spec("a", "b"), spec("b", "a")),
         "built.py: step 'a': depends_on[0]: dependency cycle: a -> b -> a (each step depends on the next)"),
    ],
)
def test_validate_plan_checks_plans_built_in_code(steps: tuple[StepSpec, ...], expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        validate_plan(Plan("p", "p", "goal", steps, source="plan.json"))
    assert str(caught.value) == expected


def test_validate_plan_accepts_a_good_plan() -> None:
    validate_plan(Plan("p", "p", "goal", (spec("a"), spec("b", "a"))))
    validate_plan(load_plan(DEMO_PLAN / "overview_greet_release.json"))

