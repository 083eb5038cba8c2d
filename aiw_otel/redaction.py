"""Secret redaction for every span, event, log record, command line, command output and path.

Two kinds of rule, because secrets leak in two ways:

* the KEY rule: an attribute (or a `key=value` in text) whose name says it holds a secret
  (`password`, `api_key`, `authorization` ...) loses its whole value, whatever it looks like;
* VALUE-SHAPE rules: provider API keys, cloud and SaaS tokens, JWTs, bearer tokens, URL
  credentials and PEM private keys are recognisable on their own, so they are removed wherever
  they appear (prose, JSON, argv, command output, file paths).

A secret is replaced by `[REDACTED:<label>]`: the label says what was there, and nothing of the
secret (no prefix, no suffix, no length) survives, so the output is safe to ship anywhere.

This runs on the caller's thread for every record, so the common case (short, secret-free
strings) must cost next to nothing: a cheap substring prefilter decides which regexes run at all,
short strings are memoised, long strings are capped before scanning, and every entry point
returns the very same object when nothing changed so callers can skip copies with `is`.
"""

from __future__ import annotations

import enum
import re
import string
import threading
from collections import Counter
from collections.abc import Mapping as _AbcMapping
from typing import TYPE_CHECKING, Any, Callable, Final, Mapping, Sequence

if TYPE_CHECKING:
    from aiw_otel.config import RedactionConfig

REDACTED_FORMAT = "[REDACTED:{label}]"
TRUNCATED_FORMAT = "…[TRUNCATED {n} chars]"

#: Strings up to this length are memoised (results and "unchanged" alike).
_CACHEABLE_LENGTH = 256
#: Both memo dicts are cleared past this size: cheaper than an LRU and the working set is small.
_CACHE_LIMIT = 4096
#: When capping, the cut backs up at most this far to a whitespace so no partial token remains.
_CUT_BACKTRACK = 256
class _Missing(enum.Enum):
    """The caches' "not looked up yet" (None is a cached answer); an enum so `is _MISS` narrows for mypy."""

    MISS = enum.auto()


_MISS: Final = _Missing.MISS
#: Never redacted, whatever the key: token counts, ports and flags are not secrets.
_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})

#: Key words (segments joined by one space) and the label their values are redacted under.
#: Compound names need no entry of their own: `client_secret`, `x-api-key`, `set-cookie`,
#: `auth_token` and `refresh_token` all contain a listed phrase as whole segments.
_BUILTIN_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("password", "password"),
    ("passwd", "password"),
    ("passphrase", "password"),
    ("secret", "secret"),
    ("token", "token"),
    ("api key", "api_key"),
    ("apikey", "api_key"),
    ("access key", "access_key"),
    ("accesskey", "access_key"),
    ("authorization", "authorization"),
    ("cookie", "cookie"),
    ("credential", "credential"),
    ("creds", "credential"),
    ("private key", "private_key"),
    ("privatekey", "private_key"),
    ("session id", "session"),
    ("sessionid", "session"),
)
#: Every key word above contains one of these (lowercase) stems, so a text holding none of them
#: holds no sensitive `key=value` pair. Few and short on purpose: each costs one pass over the text.
_BUILTIN_STEMS = ("pass", "secret", "token", "key", "auth", "cookie", "cred", "session")
#: Plural forms are sensitive too (`passwords`, `api_keys`) except these: `tokens` are LLM token
#: counts (`gen_ai.usage.input_tokens`, `max_tokens`), not secrets.
_NO_PLURAL = frozenset({"token"})

#: Keys that contain a keyword but are known to hold no secret (OTel GenAI semantic conventions).
DEFAULT_SAFE_KEYS = frozenset(
    {"gen_ai.token.type", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"}
)

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEGMENT = re.compile(r"[a-z]+|[0-9]+")
#: The last whitespace of the kept part of a capped string (where the cut backs up to).
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


def _started(width: int) -> str:
    """Asserts, right after a `width`-character literal prefix, that the prefix starts a token.

    Placed after the prefix, not before it: a leading lookbehind stops `re` from skipping ahead
    to the prefix and makes the search ~15x slower. Also holds right after a JSON escape, so
    `"...\\nsk-proj-..."` inside an encoded string is caught although glued to the letter `n`.
    """
    return rf"(?:(?<![A-Za-z0-9_\-].{{{width}}})|(?<=\\[nrt].{{{width}}}))"


#: A value that is already a marker (quoted or not) is left alone: redacting twice is a no-op.
_NOT_REDACTED = r"""(?!(?:\\?["'])?\[REDACTED:)"""

# `key <separator> value` pairs. Keys are words of these characters; the value is a quoted string
# (kept quoted, so JSON stays valid), an HTTP auth scheme with its credentials (`Basic xxx` is one
# secret, not the word Basic), or a bare word. A bare word stops at `&` (the next query parameter),
# quotes and backslashes (the end of an enclosing, possibly JSON-encoded, string).
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_KEY_REST = re.compile(r"[A-Za-z0-9_.\-]*")
_QUOTED_VALUE = "|".join(
    (
        r'"(?:[^"\\\r\n]|\\.)+"',  # "..." with backslash escapes
        r"'(?:[^'\\\r\n]|\\.)+'",  # '...'
        r'\\"(?:(?!\\").)+\\"',  # \"...\" inside an encoded JSON string
    )
)
_SCHEME_VALUE = r"(?i:basic|bearer|digest|negotiate|ntlm|token)[ \t]+[^\s\"'&\\]+"
_BARE_VALUE = r"[\"']?[^\s\"'&\\{\[][^\s\"'&\\]*"

#: What must follow a key (other than a `--flag`) for it to start a pair: a cheap first filter.
_SEPARATOR_AHEAD = re.compile(r"""(?:\\?["'])?[ \t]*[:=]""")
#: `password=x`, `api_key: "x"`, `"token": "x"`, `--password=x`, `secret := x`, `token == "x"`.
_ASSIGNMENT_KEY = re.compile(r"-{0,2}[A-Za-z_]")
_ASSIGNMENT_SEPARATOR = re.compile(r"""(?:\\?["'])?[ \t]*(?::=|=>|==|[:=])[ \t]*""")
_ASSIGNMENT_VALUE = re.compile(rf"{_NOT_REDACTED}(?:{_QUOTED_VALUE}|{_SCHEME_VALUE}|{_BARE_VALUE})")
#: `--password hunter2` (a value never starts with `-`: that is the next flag).
_FLAG_KEY = re.compile(r"--?[A-Za-z]")
_FLAG_SEPARATOR = re.compile(r"[ \t]+")
_FLAG_VALUE = re.compile(rf"""{_NOT_REDACTED}(?:{_QUOTED_VALUE}|[^\s"'&\\\-][^\s"'&\\]*)""")
#: `Authorization: Basic xxx`, `Cookie: a=b; c=d` at the start of a line (or of a quoted string, as
#: in `curl -H "Cookie: a=b"`): the value runs to the end of the line (or of the string).
_HEADER_SEPARATOR = re.compile(r"[ \t]*:[ \t]*")
_HEADER_VALUE = re.compile(rf"{_NOT_REDACTED}\S[^\r\n]*")
_HEADER_QUOTED_VALUE = re.compile(rf"""{_NOT_REDACTED}[^\s"'\\][^\r\n"'\\]*""")

_PEM_KEY = r"PRIVATE KEY(?: BLOCK)?-----"
_AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")

#: (label, regex, flags, trigger literal or None). Neighbours share a trigger where they can, so
#: it is tested once. Order matters: PEM blocks go first because a key rule would otherwise cut
#: the BEGIN line off and leave the body unrecognisable; JWTs go before the key shapes, whose
#: character classes could swallow a JWT header glued to a key; the Anthropic and OpenRouter
#: shapes go before the generic `sk-` one so they keep their own label; AWS ids go after the
#: unbounded shapes, whose removal can complete an AWS id's word boundary. Only `sk-` and AWS ids
#: need a token boundary (`risk-or-reward-...`, `MASIA...`); the other prefixes are distinctive
#: enough to catch even when glued to a word.
_SHAPES: tuple[tuple[str, str, int, str | None], ...] = (
    (
        "private_key",
        rf"-----BEGIN[A-Z0-9 ]* {_PEM_KEY}.*?(?:-----END[A-Z0-9 ]* {_PEM_KEY}|\Z)",
        re.DOTALL,
        "-----begin",
    ),
    (
        "url_credentials",
        # Brackets are not allowed in userinfo (RFC 3986), so a marker is never taken for one.
        r"(?P<pre>://)[^\s/?#@:\"'\[\]]*:[^\s/?#@\"'\[\]]+(?P<post>@)",
        0,
        "://",
    ),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9_/\-]+", 0, "://"),
    ("jwt", r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*", 0, "eyj"),
    ("anthropic_api_key", rf"sk-ant-{_started(7)}[A-Za-z0-9_\-]{{10,}}", 0, "sk-"),
    ("openrouter_api_key", rf"sk-or-{_started(6)}[A-Za-z0-9_\-]{{10,}}", 0, "sk-"),
    ("openai_api_key", rf"sk-{_started(3)}[A-Za-z0-9_\-]{{20,}}", 0, "sk-"),
    ("github_token", r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}", 0, None),  # as AWS
    ("slack_token", r"xox[abposr]-[A-Za-z0-9\-]{10,}", 0, "xox"),
    (
        "aws_access_key_id",
        rf"(?:{'|'.join(_AWS_PREFIXES)}){_started(4)}[A-Z0-9]{{16}}(?![A-Za-z0-9])",
        0,
        None,  # one regex pass costs about as much as one `in` test, and 8 prefixes would need 8
    ),
    (
        "bearer_token",
        # Spelled-out classes, not `(?i:bearer)`: measurably faster to search for.
        rf"(?P<pre>[Bb][Ee][Aa][Rr][Ee][Rr]{_started(6)}[ \t]+){_NOT_REDACTED}[A-Za-z0-9._~+/=\-]{{8,}}",
        0,
        "bearer",
    ),
)


def _marker(label: str) -> str:
    return REDACTED_FORMAT.format(label=label)


def _lower(text: str) -> str:
    """Lowercase with offsets unchanged (`İ` lowercases to two characters; triggers are ASCII)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


def _segments(key: str) -> tuple[str, ...]:
    """`userPassword`, `USER_PASSWORD`, `user-password` and `user.password` all read the same."""
    return tuple(_SEGMENT.findall(_CAMEL_BOUNDARY.sub(" ", key).lower()))


def _requote(value: str, marker: str) -> str:
    """Keep the quotes around a replaced value so JSON and shell syntax stay readable."""
    for quote in ('\\"', '"', "'"):
        if value.startswith(quote):
            closed = len(value) >= 2 * len(quote) and value.endswith(quote)
            return quote + marker + (quote if closed else "")
    return marker


class _ShapeRule:
    """A regex whose matches become a marker; named groups `pre`/`post` survive around it."""

    __slots__ = ("label", "pattern", "trigger", "_keeps")

    def __init__(self, label: str, pattern: re.Pattern[str], trigger: str | None) -> None:
        self.label = label
        self.pattern = pattern
        #: A lowercase literal that must appear for a match to be possible; None: always run.
        self.trigger = trigger
        self._keeps = "pre" in pattern.groupindex or "post" in pattern.groupindex

    def apply(self, text: str, lowered: str, hits: list[str]) -> str:
        if self.pattern.search(text) is None:
            return text  # the common case, without building a replacement function
        marker = _marker(self.label)

        def replace(match: re.Match[str]) -> str:
            hits.append(self.label)
            if not self._keeps:
                return marker
            groups = match.groupdict()
            return f"{groups.get('pre') or ''}{marker}{groups.get('post') or ''}"

        return self.pattern.sub(replace, text)


class _PairRule:
    """`key <separator> value` where the key passes the key rule: the value goes, the key stays.

    Candidates are found from the key-word stems with `str.find`, not by a regex tried at every
    word start: that costs ~200 ns a character, which on a 10 KB prose log body is milliseconds,
    while prose holds few stems and fewer still followed by a separator.
    """

    __slots__ = ("stems", "_label_for")

    #: Finding the stems is this rule's prefilter.
    trigger = None

    def __init__(self, stems: tuple[str, ...], label_for: Callable[[str], str | None]) -> None:
        self.stems = stems
        self._label_for = label_for

    def apply(self, text: str, lowered: str, hits: list[str]) -> str:
        positions = self._stem_positions(lowered)
        if not positions:
            return text
        parts: list[str] = []
        done = position = 0
        for index in positions:
            if index < position:
                continue  # inside a key already looked at, or a value already replaced
            position = _KEY_REST.match(text, index).end()  # type: ignore[union-attr]
            start = _key_start(text, index)
            if start is None or (text[start] != "-" and _SEPARATOR_AHEAD.match(text, position) is None):
                continue  # the common case, prose: "the key point", "a session of"
            found = self._value(text, start, position)
            if found is None:
                continue
            label, value = found
            hits.append(label)
            parts += (text[done : value.start()], _requote(value.group(), _marker(label)))
            done = position = value.end()
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _stem_positions(self, lowered: str) -> list[int]:
        positions: list[int] = []
        for stem in self.stems:
            if stem not in lowered:  # `in` is cheaper than a `find` call, and usually says no
                continue
            index = lowered.find(stem)
            while index != -1:
                positions.append(index)
                index = lowered.find(stem, index + len(stem))
        positions.sort()
        return positions

    def _value(self, text: str, start: int, end: int) -> tuple[str, re.Match[str]] | None:
        """The label and the value after the key `text[start:end]`, if it is a sensitive pair."""
        key = text[start:end]
        header_value = _header_value_pattern(text, start) if key[0].isalpha() else None
        if header_value is not None and (separator := _HEADER_SEPARATOR.match(text, end)):
            value = header_value.match(text, separator.end())
        elif _ASSIGNMENT_KEY.match(key) and (separator := _ASSIGNMENT_SEPARATOR.match(text, end)):
            value = _ASSIGNMENT_VALUE.match(text, separator.end())
        elif _FLAG_KEY.match(key) and (separator := _FLAG_SEPARATOR.match(text, end)):
            value = _FLAG_VALUE.match(text, separator.end())
        else:
            return None
        if value is None:
            return None
        label = self._label_for(key)
        return None if label is None else (label, value)


def _key_start(text: str, index: int) -> int | None:
    """Where the key around `index` starts; None when the word is a path component, not a key
    (`/etc/passwd: permission denied` is an error message, not a password)."""
    start = index
    while start > 0 and text[start - 1] in _KEY_CHARS:
        start -= 1
    before = text[start - 1] if start else ""
    if before == "\\":
        # `...\npassword=x` in an encoded string: the key starts after the escape's letter.
        return start + 1 if text[start] in "nrt" and start < index else None
    return None if before == "/" else start


def _header_value_pattern(text: str, start: int) -> re.Pattern[str] | None:
    """Header form only at the start of a line (value to end of line) or of a quoted string
    (value to the closing quote); elsewhere `key: value` is an ordinary assignment."""
    lead = start
    while lead > 0 and text[lead - 1] in " \t":
        lead -= 1
    if lead == 0 or text[lead - 1] in "\r\n":
        return _HEADER_VALUE
    if text[lead - 1] in "\"'" or text[lead - 2 : lead] == "\\n":
        return _HEADER_QUOTED_VALUE
    return None


def _extra_keyword(word: str) -> tuple[str, str]:
    segments = _segments(word)
    if not segments:
        raise ValueError(f"extra redaction key {word!r} has no letters or digits")
    return " ".join(segments), "_".join(segments)


def _keyword_table(keywords: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(padded phrase, label) pairs, plurals included, for substring tests on padded segments."""
    table: list[tuple[str, str]] = []
    for phrase, label in keywords:
        table.append((f" {phrase} ", label))
        if phrase not in _NO_PLURAL and not phrase.endswith("s"):
            table.append((f" {phrase}s ", label))
    return tuple(table)


def _keyword_stems(extra_phrases: Sequence[str]) -> tuple[str, ...]:
    """The built-in stems plus the longest segment of each extra key word, minus any stem that
    contains another (`passcode` is found through `pass`): fewer stems, fewer scans of the text."""
    stems = set(_BUILTIN_STEMS) | {max(reversed(phrase.split()), key=len) for phrase in extra_phrases}
    return tuple(sorted(s for s in stems if not any(o != s and o in s for o in stems)))


def _compile_extra(label: str, regex: str) -> _ShapeRule:
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"invalid redaction pattern for label {label!r} ({regex!r}): {exc}") from None
    if pattern.fullmatch(""):
        raise ValueError(f"redaction pattern for label {label!r} ({regex!r}) matches the empty string")
    return _ShapeRule(label, pattern, None)


_BUILTIN_SHAPES = tuple(_ShapeRule(label, re.compile(rx, flags), trig) for label, rx, flags, trig in _SHAPES)


class Redactor:
    """Removes secrets from telemetry values; one instance is shared by all threads."""

    def __init__(
        self,
        *,
        extra_patterns: Sequence[tuple[str, str]] = (),
        extra_keys: Sequence[str] = (),
        safe_keys: Sequence[str] = (),
        max_value_length: int = 16384,
    ) -> None:
        if max_value_length < 1:
            raise ValueError(f"max_value_length must be at least 1, got {max_value_length}")
        self._max_value_length = max_value_length
        extra = tuple(_extra_keyword(word) for word in extra_keys)
        self._keywords = _keyword_table(_BUILTIN_KEYWORDS + extra)
        self._safe_keys = DEFAULT_SAFE_KEYS | frozenset(safe_keys)
        pem, *shapes = _BUILTIN_SHAPES
        self._rules: tuple[_ShapeRule | _PairRule, ...] = (
            pem,
            _PairRule(_keyword_stems([phrase for phrase, _ in extra]), self._key_label),
            *shapes,
            *(_compile_extra(label, regex) for label, regex in extra_patterns),
        )
        # Below this length no rule can match: the shortest is a key word plus `=` and one char.
        shortest_key = min(len(phrase.strip().replace(" ", "")) for phrase, _ in self._keywords)
        self._min_scan_length = 1 if extra_patterns else min(6, shortest_key + 2)
        self._key_cache: dict[str, str | None] = {}
        self._text_cache: dict[str, tuple[str, tuple[str, ...]] | None] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._by_label: Counter[str] = Counter()

    @classmethod
    def from_config(cls, config: RedactionConfig) -> Redactor:
        """Build from the resolved config; `config.enabled` is the caller's call (no Redactor at all)."""
        return cls(
            extra_patterns=config.extra_patterns,
            extra_keys=config.extra_keys,
            safe_keys=config.safe_keys,
            max_value_length=config.max_value_length,
        )

    @property
    def count(self) -> int:
        """Total redactions so far, for the health report."""
        return self._count

    def counts_by_label(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_label)

    def labels(self) -> frozenset[str]:
        """Every label a redaction can carry, so a counter can show 0 per label before the first hit."""
        shapes = {rule.label for rule in self._rules if isinstance(rule, _ShapeRule)}
        return frozenset(shapes | {label for _, label in self._keywords})

    def is_sensitive_key(self, key: str) -> bool:
        """Whether the key rule replaces this key's values (safe keys never are)."""
        return self._key_label(key) is not None

    def redact_text(self, text: str) -> str:
        """Apply the value-shape and `key=value` rules; the same object back when nothing changed."""
        size = len(text)
        if size < self._min_scan_length:
            return text
        if size <= _CACHEABLE_LENGTH and size <= self._max_value_length:
            return self._redact_short(text)
        if size > self._max_value_length:
            return self._redact_long(text)
        result, hits = self._scan(text)
        self._record(hits)
        return result

    def redact_value(self, key: str | None, value: Any) -> Any:
        """Redact one attribute value of any type; the same object back when nothing changed.

        Numbers, booleans and None pass untouched even under a sensitive key: token counts and
        flags are not secrets, and replacing them would change the attribute's type.
        """
        return self._redact(value, self._key_label(key) if isinstance(key, str) else None)

    def redact_attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A redacted copy, or None when nothing changed (the common case: no copy is made)."""
        if not attributes:
            return None
        known_keys, known_texts, too_short = self._key_cache, self._text_cache, self._min_scan_length
        changed: dict[str, Any] | None = None
        for key, value in attributes.items():
            kind = type(value)
            if kind in _PLAIN_SCALARS or (
                kind is str
                and (len(value) < too_short or known_texts.get(value, _MISS) is None)
                and known_keys.get(key, _MISS) is None
            ):
                continue  # the hot path, inlined: a number, or a short / known-clean string under a harmless key
            new = self.redact_value(key, value)
            if new is not value:
                if changed is None:
                    changed = dict(attributes)
                changed[key] = new
        return changed

    def _key_label(self, key: str) -> str | None:
        label = self._key_cache.get(key, _MISS)
        if label is _MISS:
            label = None if key in self._safe_keys else self._match_keyword(key)
            if len(self._key_cache) >= _CACHE_LIMIT:
                self._key_cache.clear()
            self._key_cache[key] = label
        return label

    def _match_keyword(self, key: str) -> str | None:
        padded = f" {' '.join(_segments(key))} "
        for phrase, label in self._keywords:
            if phrase in padded:
                return label
        return None

    def _redact(self, value: Any, label: str | None) -> Any:
        """`label` is set when an enclosing key is sensitive: then every string below it goes."""
        if type(value) in _PLAIN_SCALARS:
            return value  # the common nested value (a token count): no isinstance chain
        if isinstance(value, str):
            if label is not None and value:
                self._record((label,))
                return _marker(label)
            return self.redact_text(value)
        if isinstance(value, (list, tuple)):
            return self._redact_sequence(value, label)
        if isinstance(value, _AbcMapping):  # not typing.Mapping: its isinstance is ~10x slower
            return self._redact_mapping(value, label)
        if isinstance(value, bytes) and label is not None:
            self._record((label,))
            return _marker(label)
        return value

    def _redact_sequence(self, items: list[Any] | tuple[Any, ...], label: str | None) -> Any:
        """Elements one by one; a sensitive flag (`--password`) also takes the next element (argv)."""
        out: list[Any] | None = None
        flag_label: str | None = None
        for index, item in enumerate(items):
            new = self._redact(item, flag_label or label)
            flag_label = self._flag_label(item)
            if new is not item:
                if out is None:
                    out = list(items)
                out[index] = new
        if out is None:
            return items
        return tuple(out) if isinstance(items, tuple) else out

    def _flag_label(self, item: Any) -> str | None:
        if not isinstance(item, str) or not item.startswith("-") or "=" in item or len(item) > 64:
            return None
        return self._key_label(item)

    def _redact_mapping(self, mapping: Mapping[Any, Any], label: str | None) -> Any:
        out: dict[Any, Any] | None = None
        for key, value in mapping.items():
            own = self._key_label(key) if isinstance(key, str) else None
            new = self._redact(value, own or label)
            if new is not value:
                if out is None:
                    out = dict(mapping)
                out[key] = new
        return mapping if out is None else out

    def _redact_short(self, text: str) -> str:
        cached = self._text_cache.get(text, _MISS)
        if cached is None:
            return text  # the argument, not the cached key: callers compare with `is`
        if cached is not _MISS:
            result, hits = cached
            self._record(hits)
            return result
        result, hit_list = self._scan(text)
        if len(self._text_cache) >= _CACHE_LIMIT:
            self._text_cache.clear()
        self._text_cache[text] = (result, tuple(hit_list)) if hit_list else None
        self._record(hit_list)
        return result

    def _redact_long(self, text: str) -> str:
        """Cap first so cost stays bounded; the marker goes on after scanning so no rule eats it."""
        kept = text[: self._max_value_length]
        tail_start = max(0, len(kept) - _CUT_BACKTRACK)
        space = _LAST_SPACE.search(kept, tail_start)
        kept = kept[: space.start()] if space else kept[:tail_start]
        result, hits = self._scan(kept)
        self._record(hits)
        return result + TRUNCATED_FORMAT.format(n=len(text) - len(kept))

    def _scan(self, text: str) -> tuple[str, list[str]]:
        """Run each rule whose trigger literal occurs; the original object back if nothing hit."""
        lowered = _lower(text)
        hits: list[str] = []
        result = text
        tested, present = None, True
        for rule in self._rules:
            trigger = rule.trigger
            if trigger is not None:
                if trigger != tested:  # neighbours share triggers (`sk-`): one pass over the text each
                    tested, present = trigger, trigger in lowered
                if not present:
                    continue
            redacted = rule.apply(result, lowered, hits)
            if redacted is not result:
                result, lowered = redacted, _lower(redacted)  # pairs need exact offsets
        return (result if hits else text), hits

    def _record(self, labels: Sequence[str]) -> None:
        if not labels:
            return
        with self._lock:
            self._count += len(labels)
            self._by_label.update(labels)
