"""Issue 9's proof: every generated secret shape, through every path, reaches no sink.

One real `aiw-otel run` carries the whole corpus (tests/secrets_corpus.py: every shape, built
from random characters now) through every path a value takes out of the process:

* paths: the plan's name and id, step ids and descriptions (shown Pending before they run), AI
  instructions, command lines (argv and shell), stdout and stderr (a line per shape cut at 2000
  characters inside its secret, private keys over many lines), files written and read (one named
  after a secret), input artifacts and tool results sent to the model, the model's replies and tool
  calls, a model running `env`, a user context sent over the control socket, resource attributes
  (config file and OTEL_RESOURCE_ATTRIBUTES), the runner's own credentials in its environment,
  errors (a tool call refused, a config file refused, a bad ship endpoint) and `ship`;
* sinks: every file of the log directory (rotated `.gz` backups decompressed), the stdlib
  FileHandler of the config file, OTLP requests as the local receiver decoded them, the run's
  `--no-console` output, `ctl status --json`, `ctl context`, `watch`, `logs`, `check`, `ship`'s
  output, its `.ship-state.json` and what a second receiver got from it, and every request body
  the model server received.

No sink may hold the distinctive random middle of any sample; the run must still do what it was
scripted to do; and ordinary text (code naming passwords, SHAs, UUIDs ...) must come through
unchanged. A failure names the seed: `AIW_SECRETS_SEED=<seed> pytest tests/test_secrets_everywhere.py`
repeats it exactly.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from tests.cli_process import AIW, aiw
from tests.fake_openai import FakeOpenAI, completion
from tests.leak_check import read_all
from tests.otlp_files import items
from tests.otlp_receiver import Receiver
from tests.processes import until
from tests.secrets_corpus import CONTEXTS, Sample, corpus_seed, ordinary_samples, secret_samples

pytestmark = pytest.mark.slow

#: Where the command output cut falls (aiw_otel.instrument.base.Instruments.max_output_line).
CUT = 2000


def _family(samples: list[Sample], name: str) -> Sample:
    return next(s for s in samples if s.family == name)


def _no_space(samples: list[Sample]) -> list[Sample]:
    """Samples that fit in one argv element, a step id or a file name."""
    return [s for s in samples if s.inline and not any(c.isspace() for c in s.secret)]


def _long_line(secret: str) -> str:
    """A line longer than what is kept, cut at three quarters of `secret` (its random middle before the cut)."""
    start = CUT - (3 * len(secret)) // 4
    return "x" * (start - 1) + " " + secret + " end"


def _in_rotating_contexts(samples: list[Sample], shift: int) -> str:
    names = [n for n in CONTEXTS if n != "command_output"]
    parts = []
    for i, sample in enumerate(samples):
        name = names[(i + shift) % len(names)]
        if name == "url" and not sample.inline:
            name = "log_message"
        parts.append(CONTEXTS[name](sample).rstrip("\n"))
    return "\n".join(parts) + "\n"


class Sinks:
    """Each sink's text, by name; `leaks()` lists (sink, family) for every fragment found."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.texts: dict[str, str] = {}

    def add(self, name: str, text: str) -> None:
        self.texts[name] = self.texts.get(name, "") + text

    def leaks(self) -> list[str]:
        return [f"{s.family} in {name}" for name, text in self.texts.items() for s in self.samples if s.fragment in text]


def _plan(samples: list[Sample], ordinary: list[str], names: dict[str, Sample]) -> dict[str, Any]:
    """One plan: a gate step holding the run while the test steers it, a step of commands and
    files, an AI step and a last check step; secrets in every field a plan has."""
    tokens = _no_space(samples)
    # Secrets in names stand apart, as a word of their own: glued to other word characters
    # (`gate-<secret>`, `<secret>.txt`), a shape whose alphabet has `-` or `.` cannot say where it starts.
    step_ids = {key: f"{key} {names[key].secret}" for key in ("gate", "emit", "ask", "verify")}
    third = len(samples) // 3
    described = [samples[:third], samples[third : 2 * third], samples[2 * third :], samples[::5]]
    descriptions = ["\n".join(CONTEXTS["log_message"](s) for s in chunk) for chunk in described]
    gate_code = "import os, time\nwhile not os.path.exists('go'): time.sleep(0.02)"
    file_token = names["file"]
    printf_args = " ".join(f"'{s.secret}'" for s in tokens[:8])
    return {
        "task_id": f"proof {names['plan_id'].secret}",
        "name": f"secrets-everywhere {names['plan_name'].secret}",
        "natural_language_goal": "\n".join(ordinary),
        "plan": [
            {
                "step_id": step_ids["gate"],
                "description": descriptions[0],
                "agent_spec": {"type": "validation"},
                "actions": [{"run": ["python", "-c", gate_code, *(s.secret for s in tokens)], "timeout_s": 120}],
            },
            {
                "step_id": step_ids["emit"],
                "description": descriptions[1],
                "depends_on": [step_ids["gate"]],
                "agent_spec": {"type": "file_operations"},
                "actions": [
                    {"write": "stdout.txt", "content": "".join(CONTEXTS["command_output"](s) for s in samples)},
                    {"write": "stderr.txt", "content": _in_rotating_contexts(samples, 0)},
                    {"write": "long.txt", "content": "".join(_long_line(s.secret) + "\n" for s in tokens)},
                    {"write": "ordinary.txt", "content": "\n".join(ordinary) + "\n"},
                    {"write": f"note {file_token.secret} .txt", "content": _in_rotating_contexts(samples, 3)},
                    {"run": "cat stdout.txt"},
                    {"run": "cat stderr.txt >&2"},
                    {"run": "cat long.txt"},
                    {"run": ["cat", "ordinary.txt"]},
                    {"run": f"printf '%s\\n' {printf_args} | wc -l"},
                    {"read": "stderr.txt"},
                    {"read": f"note {file_token.secret} .txt"},
                ],
            },
            {
                "step_id": step_ids["ask"],
                "description": descriptions[2],
                "depends_on": [step_ids["emit"]],
                "agent_spec": {
                    "type": "code_generation",
                    "instructions": [CONTEXTS["dotenv"](s) for s in samples[::4]],
                    "input_artifacts": ["stdout.txt"],
                    "output_artifacts": ["reply.txt"],
                    "model_preference": {"provider": "openai", "model": "proof-model"},
                },
            },
            {
                "step_id": step_ids["verify"],
                "description": descriptions[3],
                "depends_on": [step_ids["ask"]],
                "agent_spec": {"type": "validation"},
                "actions": [{"run": "test -s reply.txt"}, {"read": "reply.txt"}],
            },
        ],
    }


def _script_model(fake: FakeOpenAI, samples: list[Sample], names: dict[str, Sample]) -> None:
    tokens = _no_space(samples)
    said = "\n".join(CONTEXTS["json"](s) for s in samples[1::3])
    fake.script(
        completion(
            "Looking around first. " + said,
            tool_calls=[
                ("execute_command", {"command": "env"}),
                ("read_file", {"path": "stderr.txt"}),
                ("write_file", {"path": "reply.txt", "content": _in_rotating_contexts(samples, 5)}),
                ("read_file", {"path": f"missing {names['missing'].secret} .txt"}),
                ("execute_command", {"command": f"echo '{tokens[-1].secret}' >&2; exit 4"}),
            ],
        ),
        completion("Done. " + "\n".join(CONTEXTS["yaml"](s) for s in samples[2::3])),
    )


def _logging_config(tmp_path: Path, stdlib_file: Path, logs: Path, note: Sample) -> Path:
    """A config file in the seed's format: a stdlib FileHandler on the `aiw` loggers, small files
    so that they rotate and are gzipped, prompts and completions captured, a resource attribute."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
        "handlers": {"proof_file": {"class": "logging.FileHandler", "formatter": "plain", "level": "DEBUG",
                                    "filename": str(stdlib_file)}},
        "loggers": {"aiw": {"handlers": ["proof_file"], "level": "DEBUG"}},
        "telemetry": {
            "log_level": "DEBUG",
            "content_capture": "SPAN_AND_EVENT",
            "resource_attributes": {"deployment.environment.name": "proof", "build.note": f"made with {note.secret}"},
            "sinks": {"file": {"directory": str(logs), "max_bytes": 16384, "backup_count": 1000}},
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config, indent=1))  # YAML is a superset of JSON
    return path


def _otlp_text(receiver: Receiver) -> str:
    return "\n".join(str(request) for path in receiver.received for _, request in receiver.received[path])


def _signal_files(logs: Path, prefix: str) -> Iterator[dict[str, Any]]:
    for path in sorted(logs.glob(prefix + "*")):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.decode().splitlines():
            yield json.loads(line)


def _value(attribute: dict[str, Any]) -> Any:
    return next(iter(attribute["value"].values()), None)


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return aiw(*args, env=env, cwd=cwd, timeout=120)


def test_no_generated_secret_reaches_any_sink(tmp_path: Path, receiver: Receiver, fake_openai: FakeOpenAI) -> None:
    seed = corpus_seed()
    print(f"secrets corpus seed: {seed} (repeat with AIW_SECRETS_SEED={seed})")
    try:
        _prove(tmp_path, receiver, fake_openai, random.Random(seed))
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nrepeat with AIW_SECRETS_SEED={seed}") from None


def _prove(tmp_path: Path, receiver: Receiver, fake_openai: FakeOpenAI, rng: random.Random) -> None:
    samples = secret_samples(rng)
    ordinary = ordinary_samples()
    assert len({s.family for s in samples}) >= 40
    tokens = _no_space(samples)
    chooser = random.Random(rng.random())
    names = {key: chooser.choice(tokens) for key in
             ("gate", "emit", "ask", "verify", "plan_id", "plan_name", "missing", "resource", "note")}
    # A file name holds no `/` (a path would be normalised: `https://` becomes `https:/`).
    file_names = [s for s in tokens if "/" not in s.secret and len(s.secret) < 150]
    names["file"], names["missing"] = chooser.choice(file_names), chooser.choice(file_names)

    logs, workspace, stdlib_file = tmp_path / "logs", tmp_path / "ws", tmp_path / "stdlib.log"
    workspace.mkdir()
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(_plan(samples, ordinary, names), indent=1))
    config = _logging_config(tmp_path, stdlib_file, logs, names["note"])
    _script_model(fake_openai, samples, names)

    openai_key = _family(samples, "openai_project_key").secret
    bearer = _family(samples, "authorization_bearer").secret.split()[-1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIW_", "OTEL_"))}
    environ.update({
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": openai_key,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=" + quote(f"Bearer {bearer}", safe=""),
        "OTEL_RESOURCE_ATTRIBUTES": ",".join(
            [f"ci.note={quote(names['resource'].secret, safe='')}", "ci.pipeline=proof",
             f"ci.connection={quote(_family(samples, 'azure_storage_connection_string').secret, safe='')}"]),
        "DEPLOY_DB_URL": _family(samples, "postgres_url").secret,
        "AIW_PROOF_MARKER": "kept",
        "COLUMNS": "120",
    })
    sinks = Sinks(samples)
    socket = tmp_path / "run.sock"
    started = time.monotonic()
    run = subprocess.Popen([*AIW, "run", str(plan), "--no-console", "--config", str(config), "--log-dir", str(logs),
                            "--workspace", str(workspace), "--control-socket", str(socket)],
                           cwd=tmp_path, env=environ, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        until(socket.exists, "the control socket", 60)
        # The gate step holds the run: the other steps are Pending, as seeded from the plan file.
        until(lambda: (workspace / "stdout.txt").exists() or "Running" in _cli(
            "ctl", "status", "--json", "--socket", str(socket), env=environ, cwd=tmp_path).stdout,
              "the gate step running", 60)
        status = _cli("ctl", "status", "--json", "--socket", str(socket), env=environ, cwd=tmp_path)
        context_text = " and ".join(s.secret for s in samples[::7])
        context = _cli("ctl", "context", context_text, "--socket", str(socket), env=environ, cwd=tmp_path)
        watch = subprocess.Popen([*AIW, "watch", "--socket", str(socket)], cwd=tmp_path, env=environ, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert watch.stdout is not None
        watch_first = watch.stdout.readline()  # its first line, taken while the later steps are Pending
        (workspace / "go").write_text("")
        out, err = run.communicate(timeout=240)
        watch_out, watch_err = watch.communicate(timeout=60)
        watch_out = watch_first + watch_out
    finally:
        if run.poll() is None:
            run.kill()
    run_seconds = time.monotonic() - started

    # -- the run did its job ------------------------------------------------------------------
    assert status.returncode == 0 and context.returncode == 0, status.stderr + context.stderr
    assert run.returncode == 0, f"run exited {run.returncode}\n{out[-3000:]}\n{err[-3000:]}"
    view = json.loads(status.stdout)["data"]
    assert [s["state"] for s in view["steps"]] == ["Running", "Pending", "Pending", "Pending"], view["steps"]
    spans = [span for export in _signal_files(logs, "traces.otlp.jsonl") for span in items(export, "traces")]
    states = [_value(a) for span in spans for a in span.get("attributes", []) if a["key"] == "aiw.step.state"]
    assert states.count("Completed") == 4 and "Failed" not in states, states
    assert (workspace / "reply.txt").read_text() == _in_rotating_contexts(samples, 5)  # the model's write, as it asked
    requests = fake_openai.requests
    assert len(requests) == 2, [r.body for r in requests]
    tool_results = [m["content"] for m in requests[1].body["messages"] if m.get("role") == "tool"]
    assert len(tool_results) == 5
    env_seen = json.loads(tool_results[0])["stdout"]
    assert "AIW_PROOF_MARKER=kept" in env_seen and "OPENAI_API_KEY=" not in env_seen
    assert "DEPLOY_DB_URL=" not in env_seen and "OTEL_EXPORTER_OTLP_HEADERS=" not in env_seen
    assert "Error" in tool_results[3] and json.loads(tool_results[4])["exit_code"] == 4

    # -- after the run: read back, ship (twice: a refused endpoint, then a real one), a refused config
    after_env = {k: v for k, v in environ.items() if not k.startswith("OTEL_")}
    logs_out = _cli("logs", str(logs), "--no-color", "--lines", "0", env=after_env, cwd=tmp_path)
    assert logs_out.returncode == 0, logs_out.stderr
    shipped_to = Receiver()
    password = _family(samples, "url_userinfo").secret.split("deploy:", 1)[1].split("@", 1)[0]
    try:
        host = shipped_to.endpoint.split("//", 1)[1]
        refused = _cli("ship", str(logs), "--endpoint", f"htp://deploy:{password}@{host}", env=after_env, cwd=tmp_path)
        shipped = _cli("ship", str(logs), "--endpoint", f"http://deploy:{password}@{host}",
                       "--headers", "authorization=" + quote(f"Bearer {bearer}", safe=""), env=after_env, cwd=tmp_path)
    finally:
        shipped_to.close()
    assert refused.returncode == 2 and shipped.returncode == 0, refused.stderr + shipped.stderr
    assert shipped_to.requests() > 0
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text(json.dumps({"telemetry": {"sinks": {"otlp": {
        "enabled": True, "endpoint": f"htp://admin:{password}@collector:4318",
        "headers": {"authorization": f"Bearer {bearer}"}}}}}))
    checked = _cli("check", str(bad_config), env=after_env, cwd=tmp_path)
    assert checked.returncode == 2 and "collector" in checked.stderr, checked.stdout + checked.stderr

    # -- every sink ------------------------------------------------------------------------------
    assert (logs / ".ship-state.json").exists()
    assert any(p.name.endswith(".gz") for p in logs.iterdir()), sorted(p.name for p in logs.iterdir())
    sinks.add("log dir files (gz included, .ship-state.json)", read_all(logs))
    sinks.add("stdlib FileHandler", stdlib_file.read_text())
    sinks.add("OTLP received by the run's receiver", _otlp_text(receiver))
    sinks.add("OTLP shipped to the second receiver", _otlp_text(shipped_to))
    sinks.add("run --no-console stdout", out)
    sinks.add("run stderr", err)
    sinks.add("ctl status --json", status.stdout + status.stderr)
    sinks.add("ctl context", context.stdout + context.stderr)
    sinks.add("watch", watch_out + watch_err)
    sinks.add("logs", logs_out.stdout + logs_out.stderr)
    sinks.add("ship", refused.stdout + refused.stderr + shipped.stdout + shipped.stderr)
    sinks.add("check (a refused config)", checked.stdout + checked.stderr)
    sinks.add("requests to the model", "\n".join(json.dumps(r.body) for r in requests))
    leaks = sinks.leaks()
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks)
    quiet = ("run stderr", "ctl context", "ship", "check (a refused config)")  # nothing to show when all is well
    for name, text in sinks.texts.items():  # every other sink saw secrets (and hid them), or it proves nothing
        assert name in quiet or "[REDACTED:" in text, f"{name} never saw a secret: {text[:500]}"
    assert password not in sinks.texts["ship"] + sinks.texts["check (a refused config)"]

    # -- ordinary text comes through unchanged ---------------------------------------------------
    records = [r for export in _signal_files(logs, "logs.otlp.jsonl") for r in items(export, "logs")]
    bodies = {r.get("body", {}).get("stringValue") for r in records}
    assert [line for line in ordinary if line not in bodies] == []  # the output of `cat ordinary.txt`
    goals = [_value(a) for r in records for a in r.get("attributes", []) if a["key"] == "aiw.goal"]
    assert goals == ["\n".join(ordinary)]
    received = {r.body.string_value for r in receiver.log_records()}
    assert [line for line in ordinary if line not in received] == []
    first_prompt = next(m["content"] for m in requests[0].body["messages"] if m["role"] == "user")
    assert [line for line in ordinary if line not in first_prompt] == []
    print(f"{len(samples)} shapes, {len(sinks.texts)} sinks, run took {run_seconds:.1f} s")
