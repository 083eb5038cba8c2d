"""Secret redaction for every span, event, log record, command line, command output and path.

Two kinds of rule, because secrets leak in two ways:

* the KEY rule: an attribute (or a `key=value` in text) whose name says it holds a secret
  (`password`, `api_key`, `authorization` ...) loses its whole value, whatever it looks like.
  In text, where code and prose hold such pairs too, a value that is code (`getpass.getpass()`,
  `os.environ['OPENAI_API_KEY']`, `$TOKEN`, `None`) stays, a name about a secret
  (`secret_key_name`, `password_file`) is no key, and weak names (`AccountKey`, `sig`,
  `signing_key`) lose only values that look random;
* VALUE-SHAPE rules (`redaction_rules.FAMILIES`): provider API keys, cloud, payment, messaging
  and SaaS tokens, JWTs, bearer tokens, URL credentials and PEM private keys are recognisable on
  their own, so they are removed wherever they appear (prose, JSON, argv, command output, paths).

A file name is not a key when it is a location (decided for files named after a secret, whose
errors read `secret.yaml: [REDACTED:secret]`): a name with a text or source extension, then
`:LINE:` or `:LINE:COLUMN:` and a space or the end (`secret.yaml:3: expected a mapping`, mypy's
`token.py:12: error: ...`), as compilers, linters and our own errors write it. Nothing narrower
tells the two apart: without a line (`secret.yaml: hunter2`) or without the space (grep's
`password.txt:hunter2`, `password.txt:3:hunter2`) the name is as likely a key as a file, and
dotted config keys (`db.password=`, `api.secret:`) end in a key word, never in a file extension,
so all of them stay pairs. What follows a location is scanned as any text. aiw-otel's own errors
know where their file ends, so they redact the file and the message apart (`FileError.shown`).

A secret is replaced by `[REDACTED:<label>]`: the label says what was there, and nothing of the
secret (no prefix, no suffix, no length) survives, so the output is safe to ship anywhere.
`redact_text` takes multi-line text as one: a PEM block is found across its lines.

This runs on the caller's thread for every record, so the common case (short, secret-free
strings) must cost next to nothing: one combined prefilter regex decides which shape rules run at
all (usually none), key-word stems decide whether the pair rule looks further, short strings are
memoised, long strings are capped before scanning, and every entry point returns the very same
object when nothing changed so callers can skip copies with `is`.
"""

from __future__ import annotations

import enum
import re
import string
import threading
from collections import Counter
from collections.abc import Mapping as _AbcMapping
from typing import TYPE_CHECKING, Any, Callable, Final, Mapping, Sequence

from aiw_otel.redaction_rules import (
    FAMILIES,
    FILE_EXTENSIONS,
    NAME_SUFFIXES,
    SHORT_KEY_ANCHORS,
    SHORT_KEY_STEMS,
    PASSWORD_SEGMENTS,
    WEAK_SEGMENTS,
    WEAK_SUFFIXES,
    compile_prefilter,
    is_code,
    is_path,
    looks_random,
    split_quotes,
)

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


#: A value that is already a marker (quoted or not) is left alone: redacting twice is a no-op.
_NOT_REDACTED = r"""(?!(?:\\*["'])?\[REDACTED:)"""

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
        r'\\+"(?:(?!\\+").)+\\+"',  # \"...\" inside an encoded JSON string, \\\"...\\\" in one encoded twice
    )
)
_SCHEME_VALUE = r"(?i:basic|bearer|digest|negotiate|ntlm|token)[ \t]+[^\s\"'&\\]+"
#: The scheme word of a header or assignment value, dropped before asking whether the rest is code.
_SCHEME_WORD = re.compile(r"(?i:basic|bearer|digest|negotiate|ntlm|token)[ \t]+")
#: How strongly a key in text says its value is secret (see Redactor._text_key).
_STRONG, _PASSWORDISH, _WEAK = 0, 1, 2
_BARE_VALUE = r"[\"']?[^\s\"'&\\{\[][^\s\"'&\\]*"

#: What must follow a key (other than a `--flag`) for it to start a pair: a cheap first filter.
_SEPARATOR_AHEAD = re.compile(r"""(?:\\*["'])?[ \t]*[:=]""")
#: `password=x`, `api_key: "x"`, `"token": "x"`, `--password=x`, `secret := x`, `token == "x"`.
_ASSIGNMENT_KEY = re.compile(r"-{0,2}[A-Za-z_]")
_ASSIGNMENT_SEPARATOR = re.compile(r"""(?:\\*["'])?[ \t]*(?::=|=>|==|[:=])[ \t]*""")
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
#: After a file name, what makes it a location (see _is_location): `:3:` or `:3:14:`, then a space or the end.
_LINE_AFTER_FILE = re.compile(r":[0-9]+(?::[0-9]+)?:(?=\s|\Z)")

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
    opening, _, closing = split_quotes(value)
    return opening + marker + closing


class _ShapeRule:
    """A regex whose matches become a marker; named groups `pre`/`post` survive around it."""

    __slots__ = ("label", "pattern", "family", "_keeps")

    def __init__(self, label: str, pattern: re.Pattern[str], family: int | None) -> None:
        self.label = label
        self.pattern = pattern
        #: Index into FAMILIES: runs only when the prefilter found one of its anchors. None (a
        #: configured extra pattern): always runs.
        self.family = family
        self._keeps = "pre" in pattern.groupindex or "post" in pattern.groupindex

    def apply(self, text: str, lowered: str, hits: list[str], short_keys: bool = False) -> str:
        match = self.pattern.search(text)
        if match is None:
            return text  # the common case
        # Go on from the first match rather than `sub` from the start: a PEM block or a long
        # output would otherwise be scanned twice.
        marker = _marker(self.label)
        parts: list[str] = []
        done = 0
        while match is not None:
            hits.append(self.label)
            start, end = match.span()
            if self._keeps:
                groups = match.groupdict()
                pre, post = groups.get("pre") or "", groups.get("post") or ""
                start, end = start + len(pre), end - len(post)
            parts += (text[done:start], marker)
            done = end
            match = self.pattern.search(text, max(match.end(), match.start() + 1))
        parts.append(text[done:])
        return "".join(parts)


class _PairRule:
    """`key <separator> value` where the key passes the key rule: the value goes, the key stays.

    Candidates are found from the key-word stems with `str.find`, not by a regex tried at every
    word start: that costs ~200 ns a character, which on a 10 KB prose log body is milliseconds,
    while prose holds few stems and fewer still followed by a separator.
    """

    __slots__ = ("stems", "_classify")

    #: Finding the stems is this rule's prefilter.
    family = None

    def __init__(self, stems: tuple[str, ...], classify: Callable[[str], tuple[str, int] | None]) -> None:
        self.stems = stems
        self._classify = classify

    def apply(self, text: str, lowered: str, hits: list[str], short_keys: bool = False) -> str:
        """`short_keys`: the prefilter saw `pw=`/`sig=`-like keys, so search their stems too."""
        positions = self._stem_positions(lowered, SHORT_KEY_STEMS if short_keys else ())
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
            if _is_location(text, start, position):
                continue  # `secret.yaml:3: expected a mapping`: the message after it is still scanned
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

    def _stem_positions(self, lowered: str, more: tuple[str, ...]) -> list[int]:
        positions: list[int] = []
        for stem in (*self.stems, *more) if more else self.stems:
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
        found = self._classify(key)
        if found is None:
            return None
        label, kind = found
        literal = _SCHEME_WORD.sub("", value.group(), count=1)
        if is_code(literal, text[value.end() : value.end() + 1]):
            return None  # `password = getpass.getpass()`, `api_key=os.environ[...]`, `$TOKEN`
        if kind == _PASSWORDISH and is_path(literal):
            return None  # `PWD=/home/dev`: the shell's working directory
        if kind == _WEAK and not looks_random(literal):
            return None  # `sort key: name`, `sig: 9`
        return label, value


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
    if before == "/":
        # A path component, unless it is a `KEY=value` file name (`/ws/note-API_KEY=xxx.txt`).
        end = _KEY_REST.match(text, index).end()  # type: ignore[union-attr]
        return start if text.startswith("=", end) else None
    return start


def _is_location(text: str, start: int, end: int) -> bool:
    """Whether the key `text[start:end]` is a file name at a line, compiler style (`secret.yaml:3: `,
    `token.py:12:5: `): a file name with a known extension, `:LINE:` or `:LINE:COLUMN:`, then a space
    or the end. grep's `password.txt:hunter2` and `password.txt:3:hunter2` (no space) stay pairs."""
    dot = text.rfind(".", start, end)
    if dot <= start or text[dot + 1 : end].lower() not in FILE_EXTENSIONS:
        return False
    return _LINE_AFTER_FILE.match(text, end) is not None


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


_BUILTIN_SHAPES = tuple(
    _ShapeRule(family.label, re.compile(family.pattern, family.flags), index) for index, family in enumerate(FAMILIES)
)
#: Private-key rules run before the pair rule, which could otherwise cut a BEGIN line off its body.
_LEADING_SHAPES = sum(1 for family in FAMILIES if family.label == "private_key")
assert all(family.label == "private_key" for family in FAMILIES[:_LEADING_SHAPES])
_PREFILTER, _PREFILTER_GROUPS = compile_prefilter((*(family.anchors for family in FAMILIES), SHORT_KEY_ANCHORS))
#: The prefilter's index for "a short key (`DB_PW=`, `sig=`) is here".
_SHORT_KEYS = len(FAMILIES)


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
        self._pairs = _PairRule(_keyword_stems([phrase for phrase, _ in extra]), self._text_key)
        self._extra_rules = tuple(_compile_extra(label, regex) for label, regex in extra_patterns)
        #: Every rule in the order it runs (the scan itself skips the shapes nobody woke).
        self._rules: tuple[_ShapeRule | _PairRule, ...] = (
            *_BUILTIN_SHAPES[:_LEADING_SHAPES],
            self._pairs,
            *_BUILTIN_SHAPES[_LEADING_SHAPES:],
            *self._extra_rules,
        )
        #: What runs when the prefilter found no anchor: the common case.
        self._quiet_rules: tuple[_ShapeRule | _PairRule, ...] = (self._pairs, *self._extra_rules)
        # Below this length no rule can match: the shortest is a key word plus `=` and one char.
        shortest_key = min(len(phrase.strip().replace(" ", "")) for phrase, _ in self._keywords)
        self._min_scan_length = 1 if extra_patterns else min(6, shortest_key + 2)
        self._key_cache: dict[str, str | None] = {}
        self._text_key_cache: dict[str, tuple[str, int] | None] = {}
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
        weak = {label for _, label in (*WEAK_SEGMENTS.items(), *WEAK_SUFFIXES)} | {"password"}
        return frozenset(shapes | weak | {label for _, label in self._keywords})

    def is_sensitive_key(self, key: str) -> bool:
        """Whether the key rule replaces this key's values (safe keys never are)."""
        return self._key_label(key) is not None

    def redact_text(self, text: str) -> str:
        """Apply the value-shape and `key=value` rules; the same object back when nothing changed."""
        size = len(text)
        if size < self._min_scan_length:
            return text
        if size <= _CACHEABLE_LENGTH and size <= self._max_value_length:
            cached = self._text_cache.get(text, _MISS)
            if cached is None:
                return text  # known clean, the common case: no further call (the argument, not the
                # cached key: callers compare with `is`)
            return self._redact_short(text, cached)
        if size > self._max_value_length:
            return self._redact_long(text)
        result, hits = self._scan(text)
        self._record(hits)
        return result

    def redact_whole(self, text: str) -> str:
        """`redact_text`, but a long text is scanned whole, never cut: for text that must stay
        complete, such as what the runner sends to a model."""
        if len(text) <= self._max_value_length:
            return self.redact_text(text)
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
            if kind is str:  # tested first: most values are text
                if (len(value) < too_short or known_texts.get(value, _MISS) is None) and known_keys.get(key, _MISS) is None:
                    continue  # the hot path, inlined: a short or known-clean string under a harmless key
            elif kind in _PLAIN_SCALARS:
                continue  # a number: never redacted
            if kind is dict and _PLAIN_SCALARS.issuperset(map(type, value.values())):
                continue  # a summary of counts (`{"prompt_tokens": 120}`): numbers are never redacted
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

    def _text_key(self, key: str) -> tuple[str, int] | None:
        """The key rule for `key=value` in text, where code and prose also hold such pairs:

        * a name ABOUT a secret (`secret_key_name`, `password_file`, `token_url`) is no key;
        * a key word (`password`, `api_key`, `OPENAI_API_KEY`) is a strong key: any literal goes;
        * a short password name (`DB_PW`, `MYSQL_PWD`, `PGPASSWORD`, `SMTP_PASS`): any literal
          but a path goes;
        * a weak name (`AccountKey`, `sig`, `signing_key`, `authtoken`): the value goes only if
          it looks random.
        Code (`getpass.getpass()`, `os.environ[...]`, `$TOKEN`, `None`) stays under all of them.
        """
        found = self._text_key_cache.get(key, _MISS)
        if found is _MISS:
            found = self._classify_text_key(key)
            if len(self._text_key_cache) >= _CACHE_LIMIT:
                self._text_key_cache.clear()
            self._text_key_cache[key] = found
        return found

    def _classify_text_key(self, key: str) -> tuple[str, int] | None:
        segments = _segments(key)
        if not segments or key in self._safe_keys:
            return None
        if len(segments) > 1 and segments[-1] in NAME_SUFFIXES:
            return None
        label = self._match_keyword(key)
        if label is not None:
            return label, _STRONG
        if any(s in PASSWORD_SEGMENTS or s.endswith(("password", "passwd")) for s in segments) or (
            len(segments) > 1 and segments[-1] == "pass"
        ):
            return "password", _PASSWORDISH
        for segment in segments:
            weak = WEAK_SEGMENTS.get(segment)
            if weak is not None:
                return weak, _WEAK
        for segment in segments:
            for suffix, weak in WEAK_SUFFIXES:
                if segment.endswith(suffix):
                    return weak, _WEAK
        return None

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

    def _redact_short(self, text: str, cached: tuple[str, tuple[str, ...]] | _Missing) -> str:
        """A short text that is not known clean: its cached result, or scanned and memoised."""
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
        """Run the pair rule, and each shape whose anchor the prefilter found; the original object
        back if nothing hit."""
        lowered = _lower(text)
        hits: list[str] = []
        woken: set[int] = set()
        for match in _PREFILTER.finditer(text):  # usually no match at all: one fast pass
            woken |= _PREFILTER_GROUPS[match.lastindex - 1]  # type: ignore[operator]
        short_keys = _SHORT_KEYS in woken
        woken.discard(_SHORT_KEYS)
        result = text
        for rule in self._plan(woken) if woken else self._quiet_rules:
            redacted = rule.apply(result, lowered, hits, short_keys)
            if redacted is not result:
                result, lowered = redacted, _lower(redacted)  # pairs need exact offsets
        return (result if hits else text), hits

    def _plan(self, woken: set[int]) -> list[_ShapeRule | _PairRule]:
        """The woken shapes in table order, private keys before the pair rule, extras last."""
        order = sorted(woken)
        leading = sum(1 for index in order if index < _LEADING_SHAPES)
        return [
            *(_BUILTIN_SHAPES[index] for index in order[:leading]),
            self._pairs,
            *(_BUILTIN_SHAPES[index] for index in order[leading:]),
            *self._extra_rules,
        ]

    def _record(self, labels: Sequence[str]) -> None:
        if not labels:
            return
        with self._lock:
            self._count += len(labels)
            self._by_label.update(labels)
