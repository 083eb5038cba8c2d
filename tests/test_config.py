"""The config file (telemetry section and dictConfig part) and the environment overrides."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aiw_otel.config import (
    ConfigError,
    ConsoleSinkConfig,
    ContentCapture,
    LoadedConfig,
    OtlpSinkConfig,
    QueueConfig,
    RedactionConfig,
    SinksConfig,
    TelemetryConfig,
)
from aiw_otel.config_env import apply_environment, config_path_from_environment, read_environment
from aiw_otel.config_yaml import config_from_text, load_config_file
from aiw_otel.model import ComponentType, LogLevel

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "logging_config.yaml"
SEED_HANDLERS = ["console_rich", "file_rotating_text", "file_rotating_json"]


def load(text: str) -> LoadedConfig:
    return config_from_text(textwrap.dedent(text).lstrip("\n"), source="test.yaml")


def telemetry(text: str) -> TelemetryConfig:
    return load(text).telemetry


def case(case_id: str, first: Any, second: Any, *fragments: str) -> Any:
    """One named row of an error table: the two inputs, then what the message must contain."""
    return pytest.param(first, second, list(fragments), id=case_id)


def only_plain_containers(value: Any) -> bool:
    if isinstance(value, dict):
        return type(value) is dict and all(only_plain_containers(v) for v in value.values())
    if isinstance(value, list):
        return type(value) is list and all(only_plain_containers(v) for v in value)
    return True


# -- the example file -------------------------------------------------------------------------


def test_example_has_the_seed_logging_part_and_default_telemetry() -> None:
    loaded = load_config_file(EXAMPLE)

    assert loaded.telemetry == TelemetryConfig()
    assert loaded.source == str(EXAMPLE)
    logging_dict = loaded.logging_dict
    assert logging_dict is not None and "telemetry" not in logging_dict
    assert logging_dict["version"] == 1
    assert logging_dict["disable_existing_loggers"] is False
    assert list(logging_dict["handlers"]) == SEED_HANDLERS
    json_class = logging_dict["formatters"]["json_file"]["class"]
    assert json_class == "pythonjsonlogger.jsonlogger.JsonFormatter"
    assert logging_dict["root"]["handlers"] == SEED_HANDLERS
    assert logging_dict["loggers"]["ai_service_logger"]["propagate"] is False
    assert only_plain_containers(logging_dict)


def test_example_logging_lines_point_at_each_entry() -> None:
    text_lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    loaded = load_config_file(EXAMPLE)

    assert set(loaded.logging_lines) == {
        "formatters.simple_console",
        "formatters.detailed_file",
        "formatters.json_file",
        *(f"handlers.{name}" for name in SEED_HANDLERS),
        "loggers.ai_service_logger",
        "root",
    }
    for key, line in loaded.logging_lines.items():
        name = key.rpartition(".")[2]
        assert text_lines[line - 1].lstrip().startswith(f"{name}:"), key


def test_loading_the_example_creates_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    load_config_file(EXAMPLE)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_dictconfig_accepts_the_checked_logging_part(tmp_path: Path) -> None:
    # In a child process: dictConfig replaces the global logging setup, which pytest relies on.
    script = (
        "import logging.config, sys\n"
        "from aiw_otel.config_yaml import load_config_file\n"
        "logging.config.dictConfig(load_config_file(sys.argv[1]).logging_dict)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


# -- telemetry values -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["telemetry:\n", "telemetry: {}\n", "# a comment\ntelemetry:\n"])
def test_an_empty_telemetry_section_gives_the_defaults(text: str) -> None:
    loaded = load(text)

    assert loaded.telemetry == TelemetryConfig()
    assert loaded.logging_dict is None
    assert loaded.logging_lines == {}


def test_a_logging_only_file_gives_default_telemetry() -> None:
    loaded = load("version: 1\nroot: {level: INFO}\n")

    assert loaded.telemetry == TelemetryConfig()
    assert loaded.logging_dict == {"version": 1, "root": {"level": "INFO"}}
    assert loaded.logging_lines == {"root": 2}


def test_every_telemetry_key_is_read() -> None:
    parsed = telemetry(
        """
        telemetry:
          service_name: my-runner
          service_version: "1.2.3"
          resource_attributes:
            {deployment.environment.name: dev, team.size: 3, beta: true, ratio: 0.5}
          enabled: false
          log_level: debug
          component_levels: {ai_service: DEBUG, RUNNER: warn}
          content_capture: span_and_event
          redaction:
            enabled: false
            extra_patterns:
              - {label: ticket, pattern: "TCK-[0-9]{6}"}
            extra_keys: [ssn]
            safe_keys: [aiw.step.id]
            max_value_length: 256
          queue: {max_size: 100, batch_size: 100, schedule_delay_ms: 50, export_timeout_ms: 2000}
          sinks:
            console: {enabled: true, level: WARNING, signals: [logs]}
            otlp:
              enabled: true
              endpoint: "https://collector.example:4318"
              protocol: grpc
              headers: {x-token: abc}
              timeout_s: 3
              compression: gzip
              signals: [traces, metrics]
          shutdown_timeout_s: 2.5
        """
    )

    assert parsed == TelemetryConfig(
        service_name="my-runner",
        service_version="1.2.3",
        resource_attributes={
            "deployment.environment.name": "dev",
            "team.size": 3,
            "beta": True,
            "ratio": 0.5,
        },
        enabled=False,
        log_level=LogLevel.DEBUG,
        component_levels={
            ComponentType.AI_SERVICE: LogLevel.DEBUG,
            ComponentType.RUNNER: LogLevel.WARNING,
        },
        content_capture=ContentCapture.SPAN_AND_EVENT,
        redaction=RedactionConfig(
            enabled=False,
            extra_patterns=(("ticket", "TCK-[0-9]{6}"),),
            extra_keys=("ssn",),
            safe_keys=("aiw.step.id",),
            max_value_length=256,
        ),
        queue=QueueConfig(
            max_size=100, batch_size=100, schedule_delay_ms=50, export_timeout_ms=2000
        ),
        sinks=SinksConfig(
            console=ConsoleSinkConfig(
                enabled=True, level=LogLevel.WARNING, signals=frozenset({"logs"})
            ),
            otlp=OtlpSinkConfig(
                enabled=True,
                endpoint="https://collector.example:4318",
                protocol="grpc",
                headers={"x-token": "abc"},
                timeout_s=3.0,
                compression="gzip",
                signals=frozenset({"traces", "metrics"}),
            ),
        ),
        shutdown_timeout_s=2.5,
    )
    assert isinstance(parsed.sinks.otlp.timeout_s, float)
    assert only_plain_containers(dict(parsed.resource_attributes))


@pytest.mark.parametrize(
    ("snippet", "attribute", "expected"),
    [
        ("sinks: {otlp: {compression: none}}", "sinks.otlp.compression", None),
        ("sinks: {otlp: {compression: null}}", "sinks.otlp.compression", None),
        ("sinks: {otlp: {endpoint: null}}", "sinks.otlp.endpoint", None),
        ("sinks: {console: {signals: []}}", "sinks.console.signals", frozenset()),
        ("service_version: null", "service_version", None),
        ("log_level: 10", "log_level", LogLevel.DEBUG),
        ("content_capture: Event_Only", "content_capture", ContentCapture.EVENT_ONLY),
        ("redaction:", "redaction", RedactionConfig()),
        ("shutdown_timeout_s: 1", "shutdown_timeout_s", 1.0),
    ],
)
def test_telemetry_value_forms(snippet: str, attribute: str, expected: Any) -> None:
    value: Any = telemetry(f"telemetry:\n  {snippet}\n")
    for name in attribute.split("."):
        value = getattr(value, name)

    assert value == expected


def test_merge_keys_and_anchors_work_and_a_merged_key_may_be_overridden() -> None:
    loaded = load(
        """
        version: 1
        handlers:
          base: &base {class: logging.StreamHandler, level: INFO}
          verbose:
            <<: *base
            level: DEBUG
        """
    )

    assert loaded.logging_dict is not None
    verbose = loaded.logging_dict["handlers"]["verbose"]
    assert verbose == {"class": "logging.StreamHandler", "level": "DEBUG"}
    assert loaded.logging_lines == {"handlers.base": 3, "handlers.verbose": 4}


# -- the dictConfig part ----------------------------------------------------------------------


def test_logging_lines_cover_every_section_and_root() -> None:
    loaded = load(
        """
        version: 1
        formatters:
          plain: {format: "%(message)s"}
        filters:
          only_aiw: {name: aiw}
        handlers:
          console:
            class: logging.StreamHandler
            formatter: plain
            filters: [only_aiw]
            level: 10
        loggers:
          aiw: {level: WARN, handlers: [console], filters: [only_aiw], propagate: false}
        root:
          level: NOTSET
        """
    )

    assert loaded.logging_lines == {
        "formatters.plain": 3,
        "filters.only_aiw": 5,
        "handlers.console": 7,
        "loggers.aiw": 13,
        "root": 14,
    }


def test_factories_given_with_parentheses_are_checked_like_classes() -> None:
    loaded = load(
        """
        version: 1
        filters:
          custom: {"()": logging.Filter, name: aiw}
        handlers:
          console: {"()": logging.StreamHandler}
        """
    )

    assert loaded.logging_dict is not None
    assert loaded.logging_dict["handlers"]["console"] == {"()": "logging.StreamHandler"}


def test_null_optional_logging_keys_count_as_absent_as_in_dictconfig() -> None:
    loaded = load(
        """
        version: 1
        disable_existing_loggers:
        handlers:
          console: {class: logging.StreamHandler, level: null, formatter: null, filters: null}
        loggers:
          aiw: {level: null, handlers: null, propagate: null}
        root:
        """
    )

    assert loaded.logging_lines == {"handlers.console": 4, "loggers.aiw": 6}


def test_an_incremental_config_only_needs_valid_levels() -> None:
    text = """
        version: 1
        incremental: true
        handlers:
          console: {level: DEBUG}
        loggers:
          aiw: {level: INFO, handlers: [defined_elsewhere]}
        """

    assert load(text).logging_dict is not None
    with pytest.raises(ConfigError, match="handlers.console.level"):
        load(text.replace("DEBUG", "LOUD"))


# -- errors: line, key path and what was expected ---------------------------------------------

BAD_FILES = [
    case("string-for-bool", 'telemetry:\n  enabled: "yes"\n', 2, "telemetry.enabled",
        "expected a boolean", "'yes'"),
    case("bool-for-int", "telemetry:\n  queue:\n    max_size: true\n", 3,
        "telemetry.queue.max_size", "expected an integer >= 1, got true"),
    case("float-for-int", "telemetry:\n  queue:\n    schedule_delay_ms: 1.5\n", 3,
        "telemetry.queue.schedule_delay_ms", "got 1.5"),
    case("zero-int", "telemetry:\n  queue: {export_timeout_ms: 0}\n", 2, "export_timeout_ms",
        "an integer >= 1, got 0"),
    case("string-for-number", "telemetry:\n  shutdown_timeout_s: soon\n", 2,
        "telemetry.shutdown_timeout_s", "expected a number > 0, got 'soon'"),
    case("zero-number", "telemetry:\n  shutdown_timeout_s: 0\n", 2, "expected a number > 0, got 0"),
    case("infinite-number", "telemetry:\n  shutdown_timeout_s: .inf\n", 2, "expected a number > 0"),
    case("null-string", "telemetry:\n  service_name:\n", 2, "telemetry.service_name",
        "expected a non-empty string, got null"),
    case("number-for-string", "telemetry:\n  service_version: 1.2\n", 2,
        "telemetry.service_version", "got 1.2"),
    case("unknown-key", "telemetry:\n  log_level: INFO\n  servce_name: x\n", 3,
        "telemetry.servce_name: unknown key", "service_name"),
    case("unknown-nested-key", "telemetry:\n  sinks:\n    otlp:\n      protcol: grpc\n", 4,
        "telemetry.sinks.otlp.protcol: unknown key", "protocol"),
    case("unknown-top-level-key", "telemetry: {}\nhandler: {}\n", 2, "handler: unknown key",
        "handlers"),
    case("telemetry-list", "telemetry: [log_level]\n", 1,
        "telemetry: expected a mapping, got a list"),
    case("sinks-string", "telemetry:\n  sinks: console\n", 2,
        "telemetry.sinks: expected a mapping, got 'console'"),
    case("bad-level", "telemetry:\n  log_level: LOUD\n", 2, "telemetry.log_level",
        "unknown log level 'LOUD'", "DEBUG"),
    case("bad-sink-level", "telemetry:\n  sinks:\n    console: {level: chatty}\n", 3,
        "telemetry.sinks.console.level", "unknown log level"),
    case("bad-component",
        "telemetry:\n  component_levels:\n    ai_service: DEBUG\n    ai_servce: DEBUG\n", 4,
        "telemetry.component_levels.ai_servce", "unknown component", "ai_service"),
    case("bad-component-level", "telemetry:\n  component_levels:\n    runner: LOUD\n", 3,
        "telemetry.component_levels.runner", "unknown log level"),
    case("bad-content-capture", "telemetry:\n  content_capture: everything\n", 2,
        "telemetry.content_capture", "NO_CONTENT", "'everything'"),
    case("bool-content-capture", "telemetry:\n  content_capture: false\n", 2,
        "telemetry.content_capture", "got false"),
    case("bad-regex",
        "telemetry:\n  redaction:\n    extra_patterns:\n"
        "      - label: ticket\n        pattern: 'TCK-[0-9]{6}'\n"
        "      - label: broken\n        pattern: '(unclosed'\n",
        7, "telemetry.redaction.extra_patterns[1].pattern",
        "invalid regular expression for label 'broken'"),
    case("pattern-without-label",
        "telemetry:\n  redaction:\n    extra_patterns:\n      - {pattern: abc}\n", 4,
        "extra_patterns[0]", "missing required key 'label'"),
    case("pattern-unknown-key",
        "telemetry:\n  redaction:\n    extra_patterns:\n      - {label: x, pattern: y, flags: i}\n",
        4, "extra_patterns[0].flags: unknown key", "label, pattern"),
    case("keys-not-list", "telemetry:\n  redaction:\n    extra_keys: ssn\n", 3,
        "telemetry.redaction.extra_keys", "expected a list, got 'ssn'"),
    case("short-max-value-length", "telemetry:\n  redaction:\n    max_value_length: 100\n", 3,
        "telemetry.redaction.max_value_length", "an integer >= 256, got 100"),
    case("bad-protocol", "telemetry:\n  sinks:\n    otlp:\n      protocol: htp\n", 4,
        "telemetry.sinks.otlp.protocol: expected one of grpc, http/protobuf, got 'htp'"),
    case("json-protocol", "telemetry:\n  sinks:\n    otlp: {protocol: http/json}\n", 3,
        "telemetry.sinks.otlp.protocol", "http/json is not supported"),
    case("endpoint-without-scheme",
        "telemetry:\n  sinks:\n    otlp: {endpoint: 'localhost:4318'}\n", 3,
        "telemetry.sinks.otlp.endpoint", "http:// or https:// URL", "'localhost:4318'"),
    case("endpoint-bad-scheme", "telemetry:\n  sinks:\n    otlp: {endpoint: 'ftp://collector'}\n",
        3, "telemetry.sinks.otlp.endpoint"),
    case("endpoint-bad-port",
        "telemetry:\n  sinks:\n    otlp: {endpoint: 'http://collector:port'}\n", 3,
        "telemetry.sinks.otlp.endpoint"),
    case("bad-compression", "telemetry:\n  sinks:\n    otlp: {compression: zip}\n", 3,
        "telemetry.sinks.otlp.compression", "gzip, deflate, none", "'zip'"),
    case("bad-signal",
        "telemetry:\n  sinks:\n    console:\n      signals:\n        - traces\n        - spans\n",
        6, "telemetry.sinks.console.signals[1]",
        "expected one of traces, logs, metrics, got 'spans'"),
    case("header-not-string", "telemetry:\n  sinks:\n    otlp:\n      headers: {x-retries: 3}\n", 4,
        "telemetry.sinks.otlp.headers.x-retries", "expected a non-empty string, got 3"),
    case("attribute-not-scalar", "telemetry:\n  resource_attributes:\n    team: {name: x}\n", 3,
        "telemetry.resource_attributes.team", "a string, number or boolean, got a mapping"),
    case("attribute-service-name", "telemetry:\n  resource_attributes:\n    service.name: x\n", 3,
        "telemetry.resource_attributes.service.name", "telemetry.service_name"),
    case("batch-over-max", "telemetry:\n  queue:\n    max_size: 100\n    batch_size: 200\n", 4,
        "telemetry.queue.batch_size", "batch_size (200) must not exceed max_size (100)"),
    case("max-under-default-batch", "telemetry:\n  queue:\n    max_size: 100\n", 3,
        "telemetry.queue.max_size", "batch_size (512) must not exceed max_size (100)"),
    case("handler-module-missing",
        "version: 1\nhandlers:\n  console:\n    class: no_such_module.Handler\n", 4,
        "handlers.console.class", "cannot import 'no_such_module.Handler'",
        "No module named 'no_such_module'"),
    case("handler-class-missing",
        "version: 1\nhandlers:\n  console:\n    class: logging.handlers.NoSuchHandler\n", 4,
        "handlers.console.class", "has no attribute 'NoSuchHandler'"),
    case("handler-without-class", "version: 1\nhandlers:\n  console:\n    level: INFO\n", 3,
        "handlers.console: missing 'class'"),
    case("formatter-class-missing",
        "version: 1\nformatters:\n  json:\n    class: jsonlogger.JsonFormatter\n", 4,
        "formatters.json.class", "cannot import"),
    case("filter-factory-missing", "version: 1\nfilters:\n  custom:\n    (): my_filters.Custom\n",
        4, "filters.custom.()", "cannot import"),
    case("undefined-formatter",
        "version: 1\nformatters:\n  plain: {format: '%(message)s'}\n"
        "handlers:\n  console:\n    class: logging.StreamHandler\n    formatter: fancy\n",
        7, "handlers.console.formatter", "no formatter named 'fancy'", "plain"),
    case("undefined-filter",
        "version: 1\nhandlers:\n  console:\n"
        "    class: logging.StreamHandler\n    filters: [quiet]\n",
        5, "handlers.console.filters[0]", "no filter named 'quiet'", "none"),
    case("logger-undefined-handler",
        "version: 1\nhandlers:\n  console: {class: logging.StreamHandler}\n"
        "loggers:\n  aiw:\n    handlers:\n      - console\n      - file\n",
        8, "loggers.aiw.handlers[1]", "no handler named 'file'", "console"),
    case("root-undefined-handler", "version: 1\nroot:\n  handlers: [file]\n", 3, "root.handlers[0]",
        "no handler named 'file'"),
    case("handlers-not-list",
        "version: 1\nhandlers:\n  console: {class: logging.StreamHandler}\n"
        "root:\n  handlers: console\n",
        5, "root.handlers", "expected a list, got 'console'"),
    case("handler-level-case",
        "version: 1\nhandlers:\n  console:\n    class: logging.StreamHandler\n    level: info\n",
        5, "handlers.console.level", "got 'info'", "'INFO'"),
    case("logger-bad-level", "version: 1\nloggers:\n  aiw:\n    level: LOUD\n", 4,
        "loggers.aiw.level", "expected a logging level name"),
    case("root-bad-level", "version: 1\nroot: {level: true}\n", 2, "root.level", "got true"),
    case("bad-propagate", "version: 1\nloggers:\n  aiw: {propagate: 'no'}\n", 3,
        "loggers.aiw.propagate", "expected a boolean"),
    case("missing-version", "telemetry: {}\ndisable_existing_loggers: false\nhandlers: {}\n", 2,
        "version: missing", "version: 1"),
    case("wrong-version", "version: 2\nhandlers: {}\n", 1, "version: expected 1", "got 2"),
    case("string-for-flag", "version: 1\ndisable_existing_loggers: 'False'\n", 2,
        "disable_existing_loggers", "expected a boolean", "'False'"),
    case("handler-not-mapping", "version: 1\nhandlers:\n  console: logging.StreamHandler\n", 3,
        "handlers.console: expected a mapping, got 'logging.StreamHandler'"),
    case("handlers-list", "version: 1\nhandlers:\n  - console\n", 2,
        "handlers: expected a mapping, got a list"),
    case("duplicate-key", "telemetry:\n  log_level: INFO\n  log_level: DEBUG\n", 3,
        "invalid YAML at line 3, column 3", "duplicate key 'log_level' (first at line 2)"),
    case("yaml-bad-indent", "telemetry:\n  log_level: INFO\n queue: 3\n", 3,
        "invalid YAML at line 3, column 2", "expected <block end>"),
    case("yaml-nested-colon", "version: 1\nroot: level: INFO\n", 2,
        "invalid YAML at line 2, column 12", "mapping values are not allowed here"),
    case("yaml-unclosed-flow", "telemetry: {queue: {max_size: 1}\n", 2,
        "invalid YAML at line 2, column 1", "expected ',' or '}'"),
    case("yaml-tab", "telemetry:\n\tlog_level: INFO\n", 2, "invalid YAML at line 2, column 1",
        "'\\t'"),
    case("yaml-control-character", "telemetry:\n  service_name: a\x07b\n", 2,
        "invalid YAML at line 2, column 18", "unacceptable character #x0007"),
    case("yaml-python-tag", "telemetry: !!python/object/apply:os.system ['true']\n", 1,
        "invalid YAML", "could not determine a constructor"),
]


@pytest.mark.parametrize(("text", "line", "fragments"), BAD_FILES)
def test_errors_give_the_line_key_path_and_expectation(
    text: str, line: int, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_text(text, source="bad.yaml")

    error = raised.value
    assert error.line == line
    assert error.source == "bad.yaml"
    assert str(error).startswith(f"bad.yaml:{line}: ")
    for fragment in fragments:
        assert fragment in str(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("# nothing but a comment\n", "the file is empty"),
        ("- telemetry\n", "top level: expected a mapping, got a list"),
        ("just words\n", "top level: expected a mapping, got 'just words'"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_a_clear_error(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_text(text, source="bad.yaml")

    assert raised.value.line is None
    assert str(raised.value).startswith(f"bad.yaml: {expected}")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    with pytest.raises(ConfigError, match="config file not found") as raised:
        load_config_file(path)

    assert raised.value.source == str(path)
    assert str(path) in str(raised.value)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config_file(tmp_path)


def test_a_file_that_is_not_utf8_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("telemetry:\n  service_name: caf\u00e9\n".encode("latin-1"))

    with pytest.raises(ConfigError, match="not UTF-8") as raised:
        load_config_file(path)

    assert raised.value.line == 2


def test_file_errors_start_with_the_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "logging_config.yaml"
    path.write_text("telemetry:\n  sinks:\n    otlp: {protocol: htp}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_config_file(path)

    assert str(raised.value) == (
        f"{path}:3: telemetry.sinks.otlp.protocol: expected one of grpc, http/protobuf, got 'htp'"
    )


def test_a_valid_file_on_disk_loads(tmp_path: Path) -> None:
    path = tmp_path / "logging_config.yaml"
    path.write_text("\ufefftelemetry:\n  log_level: WARNING\n", encoding="utf-8")  # with a BOM

    loaded = load_config_file(str(path))

    assert loaded.telemetry.log_level is LogLevel.WARNING
    assert loaded.source == str(path)


# -- the environment --------------------------------------------------------------------------


def env(config: TelemetryConfig | None = None, **variables: str) -> TelemetryConfig:
    return apply_environment(config or TelemetryConfig(), variables)


def with_otlp(**changes: Any) -> TelemetryConfig:
    defaults = TelemetryConfig()
    otlp = replace(defaults.sinks.otlp, **changes)
    return replace(defaults, sinks=replace(defaults.sinks, otlp=otlp))


def test_no_variables_change_nothing() -> None:
    assert env(PATH="/usr/bin", HOME="/root") == TelemetryConfig()


@pytest.mark.parametrize(
    "name",
    [
        "OTEL_SERVICE_NAME",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "AIW_LOG_LEVEL",
        "AIW_CONSOLE",
    ],
)
def test_an_empty_variable_counts_as_unset(name: str) -> None:
    assert env(**{name: "  "}) == TelemetryConfig()


def test_config_path_comes_from_aiw_config() -> None:
    assert config_path_from_environment({"AIW_CONFIG": "conf/logging.yaml"}) == "conf/logging.yaml"
    assert config_path_from_environment({"AIW_CONFIG": ""}) is None
    assert config_path_from_environment({}) is None


def test_service_name_and_resource_attributes() -> None:
    base = TelemetryConfig(resource_attributes={"team": "a", "keep": 1})

    result = env(
        base,
        OTEL_SERVICE_NAME="runner-from-env",
        OTEL_RESOURCE_ATTRIBUTES="team=b, deployment.environment.name=prod%2Ceu,note=a%3Db,",
    )

    assert result.service_name == "runner-from-env"
    assert result.resource_attributes == {
        "team": "b",
        "keep": 1,
        "deployment.environment.name": "prod,eu",
        "note": "a=b",
    }
    assert base.resource_attributes == {"team": "a", "keep": 1}


def test_service_name_and_version_in_resource_attributes_set_their_fields() -> None:
    result = env(OTEL_RESOURCE_ATTRIBUTES="service.name=from-attrs,service.version=2.0,host.name=h")

    assert result.service_name == "from-attrs"
    assert result.service_version == "2.0"
    assert result.resource_attributes == {"host.name": "h"}


def test_otel_service_name_wins_over_the_resource_attribute() -> None:
    result = env(OTEL_SERVICE_NAME="explicit", OTEL_RESOURCE_ATTRIBUTES="service.name=from-attrs")

    assert result.service_name == "explicit"
    assert "service.name" not in result.resource_attributes


@pytest.mark.parametrize(
    ("value", "enabled"), [("true", False), ("TRUE", False), ("True", False), ("false", True)]
)
def test_sdk_disabled(value: str, enabled: bool) -> None:
    assert env(OTEL_SDK_DISABLED=value).enabled is enabled


ALL = {"traces", "logs", "metrics"}


@pytest.mark.parametrize(
    ("variables", "otlp_on", "otlp_signals", "console_on", "console_signals"),
    [
        pytest.param(
            {"OTEL_TRACES_EXPORTER": "otlp"}, True, {"traces"}, False, {"logs"}, id="traces-otlp"
        ),
        pytest.param(
            {"OTEL_TRACES_EXPORTER": "console"}, False, ALL - {"traces"}, True, {"traces"},
            id="traces-console",
        ),
        pytest.param(
            {"OTEL_LOGS_EXPORTER": "otlp,console"}, True, {"logs"}, True, {"logs"},
            id="logs-both",
        ),
        pytest.param(
            {"OTEL_METRICS_EXPORTER": "console"}, False, {"traces", "logs"}, True, {"metrics"},
            id="metrics-console",
        ),
        pytest.param(
            {"OTEL_METRICS_EXPORTER": "none"}, False, {"traces", "logs"}, False, {"traces", "logs"},
            id="metrics-none",
        ),
        pytest.param(
            {"OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}, False, {"metrics"},
            False, set(),
            id="two-none",
        ),
    ],
)
def test_exporter_variables_route_signals(
    variables: dict[str, str],
    otlp_on: bool,
    otlp_signals: set[str],
    console_on: bool,
    console_signals: set[str],
) -> None:
    sinks = env(**variables).sinks

    assert (sinks.otlp.enabled, sinks.otlp.signals) == (otlp_on, otlp_signals)
    assert (sinks.console.enabled, sinks.console.signals) == (console_on, console_signals)


def test_exporter_none_keeps_an_enabled_sink_but_removes_the_signal() -> None:
    otlp = env(with_otlp(enabled=True), OTEL_TRACES_EXPORTER="none").sinks.otlp

    assert otlp.enabled is True
    assert otlp.signals == {"logs", "metrics"}


def test_the_otlp_endpoint_turns_the_sink_on() -> None:
    otlp = env(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318").sinks.otlp

    assert otlp.enabled is True
    assert otlp.endpoint == "http://collector:4318"
    assert otlp.signals == {"traces", "logs", "metrics"}


@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_a_signal_endpoint_turns_the_sink_and_the_signal_on(signal: str) -> None:
    name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"

    url = f"https://collector:4318/v1/{signal}"

    otlp = env(with_otlp(signals=frozenset()), **{name: url}).sinks.otlp

    assert otlp.enabled is True
    assert otlp.signals == {signal}
    assert otlp.endpoint is None
    assert otlp.target(signal).url == url  # a signal's own endpoint is used as is


def test_an_explicit_exporter_choice_beats_a_signal_endpoint() -> None:
    otlp = env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://collector:4318/v1/traces",
        OTEL_TRACES_EXPORTER="none",
    ).sinks.otlp

    assert "traces" not in otlp.signals


def test_otlp_settings() -> None:
    base = with_otlp(headers={"x-a": "1", "x-b": "2"})

    otlp = env(
        base,
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_HEADERS="x-b=3,authorization=Bearer%20abc",
        OTEL_EXPORTER_OTLP_TIMEOUT="2500",
        OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
    ).sinks.otlp

    assert otlp.protocol == "grpc"
    assert otlp.headers == {"x-a": "1", "x-b": "3", "authorization": "Bearer abc"}
    assert otlp.timeout_s == 2.5
    assert otlp.compression == "gzip"
    assert otlp.enabled is False  # settings alone do not switch export on
    assert base.sinks.otlp.headers == {"x-a": "1", "x-b": "2"}


@pytest.mark.parametrize(
    ("value", "expected"), [("gzip", "gzip"), ("deflate", "deflate"), ("none", None)]
)
def test_otlp_compression(value: str, expected: str | None) -> None:
    otlp = env(with_otlp(compression="gzip"), OTEL_EXPORTER_OTLP_COMPRESSION=value).sinks.otlp

    assert otlp.compression == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NO_CONTENT", ContentCapture.NO_CONTENT),
        ("span_only", ContentCapture.SPAN_ONLY),
        ("Event_Only", ContentCapture.EVENT_ONLY),
        ("SPAN_AND_EVENT", ContentCapture.SPAN_AND_EVENT),
        ("true", ContentCapture.SPAN_ONLY),
        ("False", ContentCapture.NO_CONTENT),
    ],
)
def test_content_capture(value: str, expected: ContentCapture) -> None:
    base = TelemetryConfig(content_capture=ContentCapture.EVENT_ONLY)

    result = env(base, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=value)

    assert result.content_capture is expected


def test_levels() -> None:
    base = TelemetryConfig(
        component_levels={
            ComponentType.RUNNER: LogLevel.ERROR,
            ComponentType.FILE_OPERATIONS: LogLevel.INFO,
        }
    )

    result = env(
        base, AIW_LOG_LEVEL="debug", AIW_COMPONENT_LEVELS="ai_service=DEBUG, runner=warning"
    )

    assert result.log_level is LogLevel.DEBUG
    assert result.component_levels == {
        ComponentType.RUNNER: LogLevel.WARNING,
        ComponentType.FILE_OPERATIONS: LogLevel.INFO,
        ComponentType.AI_SERVICE: LogLevel.DEBUG,
    }


@pytest.mark.parametrize(
    ("value", "enabled"), [("on", True), ("OFF", False), ("true", True), ("false", False)]
)
def test_redaction_and_console_switches(value: str, enabled: bool) -> None:
    base = TelemetryConfig(redaction=RedactionConfig(enabled=not enabled))
    base = replace(base, sinks=replace(base.sinks, console=ConsoleSinkConfig(enabled=not enabled)))

    result = env(base, AIW_REDACTION=value, AIW_CONSOLE=value)

    assert result.redaction.enabled is enabled
    assert result.sinks.console.enabled is enabled


def test_aiw_console_off_beats_a_console_exporter() -> None:
    console = env(OTEL_TRACES_EXPORTER="console", AIW_CONSOLE="off").sinks.console

    assert console.enabled is False


def test_shutdown_timeout() -> None:
    assert env(AIW_SHUTDOWN_TIMEOUT="1.5").shutdown_timeout_s == 1.5


def test_environment_overrides_the_file_and_the_file_overrides_defaults() -> None:
    from_file = telemetry(
        """
        telemetry:
          service_name: from-file
          log_level: WARNING
          sinks:
            otlp: {protocol: grpc, timeout_s: 3, headers: {x-file: f}}
        """
    )

    result = env(
        from_file,
        OTEL_SERVICE_NAME="from-env",
        AIW_LOG_LEVEL="ERROR",
        OTEL_EXPORTER_OTLP_HEADERS="x-env=e",
    )

    assert result.service_name == "from-env"
    assert result.log_level is LogLevel.ERROR
    assert result.sinks.otlp.protocol == "grpc"
    assert result.sinks.otlp.timeout_s == 3.0
    assert result.sinks.otlp.headers == {"x-file": "f", "x-env": "e"}
    assert result.shutdown_timeout_s == TelemetryConfig().shutdown_timeout_s


#: Values the OpenTelemetry specification says to warn about and ignore (Boolean, Enum, Timeout
#: and OTEL_RESOURCE_ATTRIBUTES rules): the settings stay as if the variable were unset.
IGNORED_VARIABLES = [
    case("attributes-no-equals", "OTEL_RESOURCE_ATTRIBUTES", "team=a,oops", "key=value pairs", "'oops'"),
    case("attributes-empty-key", "OTEL_RESOURCE_ATTRIBUTES", "=x", "key=value pairs"),
    case("sdk-disabled", "OTEL_SDK_DISABLED", "1", "only 'true' disables"),
    case("jaeger", "OTEL_TRACES_EXPORTER", "jaeger", "unsupported exporter 'jaeger'",
        "otlp, console, none"),
    case("zipkin", "OTEL_TRACES_EXPORTER", "otlp,zipkin", "unsupported exporter 'zipkin'"),
    case("traces-prometheus", "OTEL_TRACES_EXPORTER", "prometheus",
        "unsupported exporter 'prometheus'"),
    case("logs-prometheus", "OTEL_LOGS_EXPORTER", "prometheus", "unsupported exporter 'prometheus'",
        "(supported: otlp, console, none)"),
    case("metrics-prometheus-typo", "OTEL_METRICS_EXPORTER", "otlp,prometeus", "unsupported exporter 'prometeus'",
        "otlp, console, none, prometheus"),
    case("prometheus-port", "OTEL_EXPORTER_PROMETHEUS_PORT", "http", "port number from 0 to 65535", "'http'"),
    case("prometheus-port-range", "OTEL_EXPORTER_PROMETHEUS_PORT", "65536", "port number from 0 to 65535"),
    case("none-combined", "OTEL_LOGS_EXPORTER", "none,otlp", "'none' cannot be combined"),
    case("json-protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "http/json is not supported",
        "grpc, http/protobuf"),
    case("protocol", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift",
        "expected one of grpc, http/protobuf, got 'thrift'"),
    case("timeout-unit", "OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "whole number of milliseconds"),
    case("timeout-negative", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "-5", "whole number of milliseconds"),
    case("timeout-float", "OTEL_EXPORTER_OTLP_TIMEOUT", "2.5", "whole number of milliseconds"),
    case("compression", "OTEL_EXPORTER_OTLP_COMPRESSION", "zip", "gzip, deflate, none", "'zip'"),
    case("length-limit-unit", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4k", "whole number of characters"),
    case("span-length-limit-negative", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1", "whole number of characters"),
    case("log-length-limit-float", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1.5", "whole number of characters"),
]


@pytest.mark.parametrize(("name", "value", "fragments"), IGNORED_VARIABLES)
def test_values_the_specification_ignores_are_warned_about_and_change_nothing(
    name: str, value: str, fragments: list[str]
) -> None:
    config, warnings = read_environment(TelemetryConfig(), {name: value})

    assert config == TelemetryConfig()
    (warning,) = warnings
    assert warning.startswith(f"environment variable {name}={value!r} ignored: ")
    for fragment in fragments:
        assert fragment in warning


def test_a_signals_length_limit_wins_and_a_bad_one_leaves_the_generic_limit() -> None:
    config, warnings = read_environment(TelemetryConfig(), {
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "100",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "lots",
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": "0",
    })

    assert config.value_length_limits == {"traces": 100, "logs": 0}
    (warning,) = warnings
    assert "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT='lots' ignored" in warning
    assert read_environment(TelemetryConfig(), {})[0].value_length_limits == {}


def test_a_zero_timeout_means_indefinite_and_signal_settings_win() -> None:
    otlp = env(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318/",
        OTEL_EXPORTER_OTLP_TIMEOUT="0",
        OTEL_EXPORTER_OTLP_HEADERS="x-a=1",
        OTEL_EXPORTER_OTLP_METRICS_TIMEOUT="1500",
        OTEL_EXPORTER_OTLP_METRICS_HEADERS="x-b=2",
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="http://metrics:4317",
        OTEL_EXPORTER_OTLP_LOGS_COMPRESSION="gzip",
    ).sinks.otlp

    traces, logs, metrics = otlp.target("traces"), otlp.target("logs"), otlp.target("metrics")
    assert traces.url == "http://collector:4318/v1/traces"  # generic: the signal path appended, one slash
    assert traces.timeout_s > 2_000_000 and traces.headers == {"x-a": "1"} and traces.protocol == "http/protobuf"
    assert (logs.url, logs.compression, traces.compression) == ("http://collector:4318/v1/logs", "gzip", None)
    assert (metrics.url, metrics.protocol, metrics.timeout_s, metrics.headers) == (
        "http://metrics:4317", "grpc", 1.5, {"x-b": "2"})


def test_default_endpoints_follow_the_protocol() -> None:
    assert env(OTEL_TRACES_EXPORTER="otlp").sinks.otlp.target("traces").url == "http://localhost:4318/v1/traces"
    grpc = env(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="grpc").sinks.otlp
    assert grpc.target("traces").url == "http://localhost:4317"


BAD_VARIABLES = [
    case("endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "http:// or https:// URL"),
    case("signal-endpoint", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://", "URL with a host"),
    case("headers", "OTEL_EXPORTER_OTLP_HEADERS", "authorization", "key=value pairs"),
    case("capture", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "yes", "NO_CONTENT",
        "'yes'"),
    case("log-level", "AIW_LOG_LEVEL", "LOUD", "unknown log level 'LOUD'"),
    case("component", "AIW_COMPONENT_LEVELS", "ai_servce=DEBUG", "unknown component 'ai_servce'"),
    case("component-level", "AIW_COMPONENT_LEVELS", "runner=LOUD", "unknown log level 'LOUD'"),
    case("component-pairs", "AIW_COMPONENT_LEVELS", "runner", "key=value pairs"),
    case("redaction", "AIW_REDACTION", "maybe", "expected on, off, true or false, got 'maybe'"),
    case("console", "AIW_CONSOLE", "1", "expected on, off, true or false"),
    case("shutdown", "AIW_SHUTDOWN_TIMEOUT", "-1", "number of seconds > 0, got '-1'"),
]


@pytest.mark.parametrize(("name", "value", "fragments"), BAD_VARIABLES)
def test_bad_variables_name_the_variable_and_what_was_expected(
    name: str, value: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        env(**{name: value})

    error = raised.value
    assert error.source == f"environment variable {name}"
    assert error.line is None
    assert str(error).startswith(f"environment variable {name}: ")
    for fragment in fragments:
        assert fragment in str(error)
