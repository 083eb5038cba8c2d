"""Read a `logging_config.yaml`: the seed's `logging.config.dictConfig` part plus `telemetry:`.

A config file is edited by hand, so every error names the file, the line and the key path, and says
what was expected. The YAML loader records each key's line while parsing (one parse, no guessing
from text). The dictConfig part is checked statically, never instantiated: checking a file must not
open the log files its handlers name.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import pkgutil
import re
from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from aiw_otel.config import (
    SIGNALS,
    ConfigError,
    ConsoleSinkConfig,
    ContentCapture,
    FileSinkConfig,
    LoadedConfig,
    OtlpSinkConfig,
    PrometheusSinkConfig,
    QueueConfig,
    RedactionConfig,
    SinksConfig,
    TelemetryConfig,
)
from aiw_otel.hand_edited import (LineDict, LineList, Where, check_all, decode_text, describe_value, is_int,
                                  parse_yaml, refuse_nul)
from aiw_otel.model import ComponentType, LogLevel
from aiw_otel.otlp_values import one_of
from aiw_otel.otlp_values import parse_endpoint as parse_endpoint, parse_pairs as parse_pairs  # re-exported
from aiw_otel.ports import MAX_PORT
from aiw_otel.regular_file import read_regular

T = TypeVar("T")

PROTOCOLS = ("grpc", "http/protobuf")
#: `none` is accepted as a word because that is how OTEL_EXPORTER_OTLP_COMPRESSION spells "off".
COMPRESSIONS = ("gzip", "deflate", "none")

#: Resource attributes with fields of their own: a second way to set them would only raise the
#: question which one wins, so the file refuses them and the environment moves them to the field.
SERVICE_ATTRIBUTES = {"service.name": "service_name", "service.version": "service_version"}

_LOGGING_SECTIONS = ("formatters", "filters", "handlers", "loggers")
_LOGGING_KEYS = ("version", "disable_existing_loggers", "incremental", *_LOGGING_SECTIONS, "root")
_TOP_LEVEL_KEYS = ("telemetry", *_LOGGING_KEYS)


# -- public API -------------------------------------------------------------------------------


def load_config_file(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and check a config file; any problem is a ConfigError naming the file and line."""
    source = os.fsdecode(path)
    return config_from_text(_read_text(source), source)


def config_from_text(text: str, source: str = "<string>") -> LoadedConfig:
    """The same as `load_config_file` for text already in hand (tests, stdin, embedded configs).

    Every mistake of the file is reported: the ConfigError raised is the first, the others in its `also`.
    """
    return config_from_document(parse_yaml(text, source, ConfigError), source)


def config_from_document(document: Any, source: str) -> LoadedConfig:
    """The same for a YAML document already parsed with `hand_edited.parse_yaml` (lines kept)."""
    if document is None:
        raise ConfigError(
            "the file is empty; expected a mapping with a `telemetry:` section and/or "
            "logging.config.dictConfig keys (version: 1, handlers, ...)",
            source=source,
        )
    return check_all(functools.partial(_config, document), Where(source, error_type=ConfigError))


def _config(document: Any, top: Where) -> LoadedConfig:
    mapping = _mapping(document, replace(top, path="top level"))
    _known_keys(mapping, top, _TOP_LEVEL_KEYS)
    telemetry = top.attempt(lambda: _telemetry(mapping.get("telemetry"), top.child(mapping, "telemetry")),
                            TelemetryConfig())
    no_logging: tuple[dict[str, Any] | None, dict[str, int]] = (None, {})
    logging_dict, logging_lines = top.attempt(lambda: _logging_part(mapping, top), no_logging)
    return LoadedConfig(telemetry, logging_dict, logging_lines, top.source)


# Value rules shared with `config_env`, so that a file and a variable reject the same values the
# same way. They take text and raise ValueError saying what was expected; callers add the "where".
# (The port's rule is in `ports`, the endpoint's and pairs' in `otlp_values`: the command line uses them.)


def parse_protocol(text: str) -> str:
    """http/json is a valid OTel value that the Python exporters do not implement: say so."""
    if text == "http/json":
        raise ValueError(f"http/json is not supported; expected one of {', '.join(PROTOCOLS)}")
    return one_of(PROTOCOLS, text)


def parse_compression(text: str) -> str | None:
    choice = one_of(COMPRESSIONS, text)
    return None if choice == "none" else choice


ROTATE_WHEN = ("hourly", "daily")


def parse_rotate_when(text: str) -> str:
    return one_of(ROTATE_WHEN, text)


def parse_content_capture(text: str) -> ContentCapture:
    """Case-insensitive, like util-genai's own reading of the same values."""
    try:
        return ContentCapture[text.strip().upper()]
    except KeyError:
        choices = ", ".join(ContentCapture.__members__)
        raise ValueError(f"expected one of {choices} (any case), got {text!r}") from None


# -- reading and parsing ----------------------------------------------------------------------


def _read_text(source: str) -> str:
    try:
        data = read_regular(source)
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found (looked for {os.path.abspath(source)})", source=source
        ) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a YAML config file", source=source) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read the config file: {reason}", source=source) from None
    return decode_text(data, source, ConfigError)


def _plain(value: Any) -> Any:
    """dictConfig and its callers get ordinary dicts and lists, not our line-carrying ones."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# -- the small typed checks, each at the Where its value was written -------------------------


Parser = Callable[[Any, Where], Any]


def _mapping(value: Any, at: Where) -> LineDict:
    if isinstance(value, dict):
        return value  # type: ignore[return-value]
    raise at.expected("a mapping", value)


def _sequence(value: Any, at: Where) -> LineList:
    if isinstance(value, list):
        return value  # type: ignore[return-value]
    raise at.expected("a list", value)


def _known_keys(mapping: LineDict, at: Where, allowed: Sequence[str]) -> None:
    for key in mapping:
        if key not in allowed:
            at.report(at.child(mapping, key).error(f"unknown key; allowed keys: {', '.join(allowed)}"))


def _string(value: Any, at: Where) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise at.expected("a non-empty string", value)


def _path(value: Any, at: Where) -> str:
    return refuse_nul(_string(value, at), at)


def _boolean(value: Any, at: Where) -> bool:
    if isinstance(value, bool):
        return value
    raise at.expected("a boolean (true or false)", value)


def _integer(minimum: int) -> Parser:
    def parse(value: Any, at: Where) -> int:
        if is_int(value) and value >= minimum:
            return int(value)
        raise at.expected(f"an integer >= {minimum}", value)

    return parse


def _positive_number(value: Any, at: Where) -> float:
    if (is_int(value) or isinstance(value, float)) and math.isfinite(value) and value > 0:
        return float(value)
    raise at.expected("a number > 0", value)


def _non_negative_number(value: Any, at: Where) -> float:
    if (is_int(value) or isinstance(value, float)) and math.isfinite(value) and value >= 0:
        return float(value)
    raise at.expected("a number >= 0", value)


def _port(value: Any, at: Where) -> int:
    if is_int(value) and 0 <= value <= MAX_PORT:
        return int(value)
    raise at.expected(f"a port number from 0 to {MAX_PORT} (0: any free port)", value)


def _scalar(value: Any, at: Where) -> Any:
    if isinstance(value, (str, int, float)):  # bool is an int
        return value
    raise at.expected("a string, number or boolean", value)


def _optional(parse: Parser) -> Parser:
    def parse_or_none(value: Any, at: Where) -> Any:
        return None if value is None else parse(value, at)

    return parse_or_none


def _convert(parse: Callable[[Any], T], value: Any, at: Where) -> T:
    """Run one of the ValueError-raising parsers (LogLevel.parse, parse_protocol...) at a place."""
    try:
        return parse(value)
    except ValueError as exc:
        raise at.error(str(exc)) from None


def _via(parse: Callable[[str], Any]) -> Parser:
    def parse_text(value: Any, at: Where) -> Any:
        return _convert(parse, _string(value, at), at)

    return parse_text


def _level(value: Any, at: Where) -> LogLevel:
    return _convert(LogLevel.parse, value, at)


def _component(value: Any, at: Where) -> ComponentType:
    return _convert(ComponentType.parse, value, at)


#: What a value check that failed (and was noted) leaves in a section, a list or a mapping.
_FAILED: Any = object()


def _list_of(parse_item: Parser) -> Parser:
    def parse(value: Any, at: Where) -> tuple[Any, ...]:
        items = _sequence(value, at)
        wheres = [at.item(items, index) for index in range(len(items))]
        parsed = (where.attempt(functools.partial(parse_item, item, where), _FAILED)
                  for item, where in zip(items, wheres))
        return tuple(item for item in parsed if item is not _FAILED)

    return parse


def _mapping_of(parse_key: Parser, parse_value: Parser) -> Parser:
    def parse(value: Any, at: Where) -> dict[Any, Any]:
        mapping = _mapping(value, at)
        parsed = {}
        for key, item in mapping.items():
            where = at.child(mapping, key)
            pair = where.attempt(lambda: (parse_key(key, where), parse_value(item, where)), None)  # noqa: B023
            if pair is not None:
                parsed[pair[0]] = pair[1]
        return parsed

    return parse


def _section(cls: Callable[..., T], fields: Mapping[str, Parser]) -> Callable[[Any, Where], T]:
    """Build a config dataclass from a mapping; absent keys keep the dataclass defaults.

    An empty section (`redaction:` with everything under it commented out) is the defaults too.
    """

    def parse(value: Any, at: Where) -> T:
        mapping = LineDict() if value is None else _mapping(value, at)
        _known_keys(mapping, at, tuple(fields))
        values = {}
        for key, item in mapping.items():
            where = at.child(mapping, key)
            if key in fields:  # a mistaken value leaves the default, so the checks go on
                values[key] = where.attempt(functools.partial(fields[key], item, where), _FAILED)
        return cls(**{key: value for key, value in values.items() if value is not _FAILED})

    return parse


# -- the telemetry section --------------------------------------------------------------------


def _attribute_key(value: Any, at: Where) -> str:
    key = _string(value, at)
    if key in SERVICE_ATTRIBUTES:
        raise at.error(f"set telemetry.{SERVICE_ATTRIBUTES[key]} instead")
    return key


def _redaction_pattern(value: Any, at: Where) -> tuple[str, str]:
    entry = _mapping(value, at)
    _known_keys(entry, at, ("label", "pattern"))
    for key in ("label", "pattern"):
        if key not in entry:
            raise at.error(f"missing required key {key!r} (each entry needs a label and a pattern)")
    label = _string(entry["label"], at.child(entry, "label"))
    where = at.child(entry, "pattern")
    pattern = _string(entry["pattern"], where)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise where.error(f"invalid regular expression for label {label!r}: {exc}") from None
    return label, pattern


_signal_list = _list_of(_via(functools.partial(one_of, SIGNALS)))


def _signals(value: Any, at: Where) -> frozenset[str]:
    return frozenset(_signal_list(value, at))


_QUEUE_SECTION = _section(
    QueueConfig,
    {
        "max_size": _integer(1),
        "batch_size": _integer(1),
        "schedule_delay_ms": _integer(1),
        "export_timeout_ms": _integer(1),
    },
)


def _queue(value: Any, at: Where) -> QueueConfig:
    found = at.found
    queue = _QUEUE_SECTION(value, at)
    if at.found == found and queue.batch_size > queue.max_size:  # not against a mistaken one's default
        # Point at whichever of the two was written; the other is a default.
        key = "batch_size" if "batch_size" in value else "max_size"
        raise at.child(value, key).error(
            f"batch_size ({queue.batch_size}) must not exceed max_size ({queue.max_size})"
        )
    return queue


_telemetry = _section(
    TelemetryConfig,
    {
        "service_name": _string,
        "service_version": _optional(_string),
        "resource_attributes": _mapping_of(_attribute_key, _scalar),
        "enabled": _boolean,
        "log_level": _level,
        "component_levels": _mapping_of(_component, _level),
        "content_capture": _via(parse_content_capture),
        "redaction": _section(
            RedactionConfig,
            {
                "enabled": _boolean,
                "extra_patterns": _list_of(_redaction_pattern),
                "extra_keys": _list_of(_string),
                "safe_keys": _list_of(_string),
                "max_value_length": _integer(256),
            },
        ),
        "queue": _queue,
        "sinks": _section(
            SinksConfig,
            {
                "console": _section(
                    ConsoleSinkConfig, {"enabled": _boolean, "level": _level, "signals": _signals}
                ),
                "otlp": _section(
                    OtlpSinkConfig,
                    {
                        "enabled": _boolean,
                        "endpoint": _optional(_via(parse_endpoint)),
                        "protocol": _via(parse_protocol),
                        "headers": _mapping_of(_string, _string),
                        "timeout_s": _positive_number,
                        "compression": _optional(_via(parse_compression)),
                        "signals": _signals,
                    },
                ),
                "file": _section(
                    FileSinkConfig,
                    {
                        "enabled": _boolean,
                        "directory": _path,
                        "max_bytes": _integer(4096),
                        "backup_count": _integer(0),
                        "rotate_when": _optional(_via(parse_rotate_when)),
                        "compress": _boolean,
                        "text_log": _boolean,
                        "text_level": _level,
                        "flush_interval_ms": _integer(10),
                        "signals": _signals,
                    },
                ),
                "prometheus": _section(
                    PrometheusSinkConfig,
                    {"enabled": _boolean, "host": _string, "port": _port, "linger_s": _non_negative_number},
                ),
            },
        ),
        "shutdown_timeout_s": _positive_number,
    },
)


# -- the logging.config.dictConfig part -------------------------------------------------------

#: name -> (its mapping, where it is), for one of formatters / filters / handlers / loggers.
_Entries = dict[Any, tuple[LineDict, Where]]


def _logging_part(document: LineDict, top: Where) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """Check what dictConfig would choke on, without letting it build (and open) anything."""
    keys = [key for key in document if key != "telemetry"]
    if not keys:
        return None, {}
    _noting(top, _check_version, document, top, first_key=keys[0])
    for flag in ("disable_existing_loggers", "incremental"):
        if _given(document, flag):
            _noting(top, _boolean, document[flag], top.child(document, flag))
    found = top.found
    none: _Entries = {}
    sections = {section: top.attempt(functools.partial(_entries, document, section, top), none)
                for section in _LOGGING_SECTIONS}
    complete = top.found == found  # a section that is no mapping: its names are unknown
    lines = {
        f"{section}.{name}": at.line
        for section, entries in sections.items()
        for name, (_, at) in entries.items()
        if at.line is not None
    }
    loggers = list(sections["loggers"].values())
    if _given(document, "root"):
        root_at = top.child(document, "root")
        root = top.attempt(functools.partial(_mapping, document["root"], root_at), _BROKEN)
        loggers.append((root, root_at))  # checked like a logger
        lines["root"] = document.lines["root"]
    if document.get("incremental"):
        # dictConfig then only changes levels (and propagate) of objects that already exist.
        for entry, at in [*sections["handlers"].values(), *loggers]:
            if entry is not _BROKEN:
                _noting(at, _check_level, entry, at)
    elif complete:
        _check_complete(sections, loggers)
    return _plain({key: document[key] for key in keys}), lines


def _given(entry: LineDict, key: str) -> bool:
    """dictConfig reads an optional key that is null (`level:`) as absent; so must we."""
    return entry.get(key) is not None


def _check_version(document: LineDict, top: Where, *, first_key: Any) -> None:
    if "version" not in document:
        # Nothing to point at, so point at where the logging settings begin.
        where = replace(top, path="version", line=document.lines[first_key])
        raise where.error("missing; logging.config.dictConfig needs `version: 1` beside its keys")
    value = document["version"]
    if not (is_int(value) and value == 1):
        raise top.child(document, "version").expected("1 (dictConfig's only version)", value)


def _entries(document: LineDict, section: str, top: Where) -> _Entries:
    if section not in document:
        return {}
    at = top.child(document, section)
    mapping = _mapping(document[section], at)
    entries: _Entries = {}
    for name, entry in mapping.items():
        where = at.child(mapping, name)
        entries[name] = (where.attempt(functools.partial(_mapping, entry, where), _BROKEN), where)
    return entries


#: An entry that is no mapping (and was reported): its name is defined, nothing in it is checked.
_BROKEN = LineDict()


def _noting(at: Where, check: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """One check among many: its mistake is noted (at `at`'s check) and the others go on."""
    at.attempt(functools.partial(check, *args, **kwargs), None)


def _check_complete(sections: dict[str, _Entries], loggers: list[tuple[LineDict, Where]]) -> None:
    formatters = sections["formatters"]
    filters = sections["filters"]
    handlers = sections["handlers"]
    def checked(entries: Iterable[tuple[LineDict, Where]]) -> Iterator[tuple[LineDict, Where]]:
        return ((entry, at) for entry, at in entries if entry is not _BROKEN)

    for entry, at in checked(formatters.values()):
        _noting(at, _check_factory, entry, at, ("()", "class"), required=False)
    for entry, at in checked(filters.values()):
        _noting(at, _check_factory, entry, at, ("()",), required=False)
    for entry, at in checked(handlers.values()):
        _noting(at, _check_factory, entry, at, ("()", "class"), required=True)
        _noting(at, _check_level, entry, at)
        if isinstance(entry.get("filename"), str):  # FileHandler and its kin: dictConfig would open it
            _noting(at, refuse_nul, entry["filename"], at.child(entry, "filename"))
        _noting(at, _check_reference, entry, at, "formatter", formatters)
        _noting(at, _check_references, entry, at, "filters", filters)
    for entry, at in checked(loggers):
        _noting(at, _check_level, entry, at)
        _noting(at, _check_references, entry, at, "handlers", handlers)
        _noting(at, _check_references, entry, at, "filters", filters)
        if _given(entry, "propagate"):
            _noting(at, _boolean, entry["propagate"], at.child(entry, "propagate"))


def _check_factory(entry: LineDict, at: Where, keys: Sequence[str], *, required: bool) -> None:
    """Import what dictConfig would import, so a typo is reported with its line, not at start-up."""
    key = next((key for key in keys if key in entry), None)
    if key is None:
        if required:
            raise at.error("missing 'class' (or a '()' factory); dictConfig needs one to build it")
        return
    where = at.child(entry, key)
    name = _string(entry[key], where)
    try:
        pkgutil.resolve_name(name)
    except Exception as exc:  # importing runs the module's own code, which can fail in any way
        raise where.error(f"cannot import {name!r}: {type(exc).__name__}: {exc}") from None


def _check_level(entry: LineDict, at: Where) -> None:
    """dictConfig's levels are the stdlib's: case-sensitive names (or numbers), unlike ours."""
    if not _given(entry, "level"):
        return
    value, where = entry["level"], at.child(entry, "level")
    if is_int(value) or _is_stdlib_level_name(value):
        return
    hint = ""
    if isinstance(value, str) and _is_stdlib_level_name(value.upper()):
        hint = f"; dictConfig level names are upper case: {value.upper()!r}"
    raise where.error(
        f"expected a logging level name (DEBUG, INFO, WARNING, ERROR, CRITICAL or NOTSET), "
        f"got {describe_value(value)}{hint}"
    )


def _is_stdlib_level_name(value: Any) -> bool:
    # getLevelName maps a registered name to its number (documented), anything else to a string.
    return isinstance(value, str) and isinstance(logging.getLevelName(value), int)


def _check_reference(entry: LineDict, at: Where, key: str, defined: _Entries) -> None:
    if _given(entry, key):
        _check_name(entry[key], at.child(entry, key), defined, kind=key)


def _check_references(entry: LineDict, at: Where, key: str, defined: _Entries) -> None:
    if not _given(entry, key):
        return
    where = at.child(entry, key)
    names = _sequence(entry[key], where)
    for index, name in enumerate(names):
        _noting(where, _check_name, name, where.item(names, index), defined, kind=key.removesuffix("s"))


def _check_name(value: Any, at: Where, defined: _Entries, *, kind: str) -> None:
    if not isinstance(value, str):
        raise at.expected(f"the name of a {kind}", value)
    if value not in defined:
        known = ", ".join(map(str, defined)) or "none"
        raise at.error(f"no {kind} named {value!r} in this file (defined {kind}s: {known})")
