"""The value-shape rules (key families) and the value tests behind `key=value` pairs.

Kept apart from the engine in `redaction.py`: this is the table that grows when a provider
introduces a new token format, and it reads best as data.

Shapes were learned from what public secret scanners detect (gitleaks' rule set, trufflehog's
detectors); every regex here is written for this project. Each family names:

* `anchors`: where a cheap, combined prefilter looks. An anchor is one character that is rare in
  ordinary text (`_`, `-`, `:`, `~`, `$`, a capital letter, a digit) plus a lookaround that pins
  the family's literal prefix around it (`_` with `(?<=ghp_)` for GitHub). All anchors are compiled
  into ONE regex whose alternatives each start with a literal character, so the `re` engine skips
  every position holding none of those characters in a tight C loop: prose and code without a
  secret cost a single fast pass, whatever the number of families;
* `pattern`: the full shape, run only when one of the family's anchors was found.

The prefilter reports one anchor per position, so two families whose anchors could hold at the
same character share the very same anchor (every URL family wakes on `://`).

A family with no distinctive shape (Cohere, Mistral, Vercel, Postmark, Heroku's legacy UUID keys,
Cloudflare API tokens, AWS secret access keys, Twilio auth tokens) is caught by the key rule:
`COHERE_API_KEY=...`, `X-Postmark-Server-Token: ...` and the like.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import NamedTuple

#: Characters of URL-safe base64 (and most provider token alphabets).
_W = r"A-Za-z0-9_\-"
#: The end of a token: what follows may not continue it.
_END = rf"(?![{_W}])"


def _started(width: int, before: str = r"A-Za-z0-9\-") -> str:
    """Asserts, right after a `width`-character literal prefix, that the prefix starts a token: no
    character of `before` precedes it (`_` may: a key glued after `fp_` is still caught).

    Placed after the prefix, not before it: a leading lookbehind stops `re` from skipping ahead
    to the prefix and makes the search ~15x slower. Also holds right after a JSON escape, so
    `"...\\nAKIA..."` inside an encoded string is caught although glued to the letter `n`.
    """
    return rf"(?:(?<![{before}].{{{width}}})|(?<=\\[nrt].{{{width}}}))"

_BEARER_STARTED = _started(6, r"A-Za-z0-9_\-")
_PEM_KEY = r"PRIVATE KEY(?: BLOCK)?-----"


class Family(NamedTuple):
    label: str
    #: (anchor character, lookaround that must hold right after it).
    anchors: tuple[tuple[str, str], ...]
    pattern: str
    flags: int = 0


def _behind(prefix: str, *more: str) -> tuple[tuple[str, str], ...]:
    """Anchor on the literal prefix's last character, looking back over the whole prefix."""
    return tuple((p[-1], f"(?<={re.escape(p)})") for p in (prefix, *more))


FAMILIES: tuple[Family, ...] = (
    # --- private keys: first, before any other rule can cut a BEGIN line off its body ---------
    Family(
        "private_key",
        (("-", "(?=----BEGIN)"),),
        # To the END line, or to the end of the text (a cut or chunked block). The body loop is
        # unrolled (`[^-]*` runs, then one `-` that does not start END): `.*?` is ~3x slower.
        rf"-----BEGIN[A-Z0-9 ]* {_PEM_KEY}[^-]*(?:-(?!----END)[^-]*)*(?:-----END[A-Z0-9 ]* {_PEM_KEY}|\Z)",
    ),
    Family(
        # A body whose BEGIN line went out in an earlier chunk: the base64 lines before an END line.
        "private_key",
        (("-", "(?=----END)"),),
        # Lines may be joined by newlines, JSON `\\n` escapes (`\\\\n` in a string encoded twice) or
        # spaces (a header, a log line).
        rf"(?<![A-Za-z0-9+/=])(?:[A-Za-z0-9+/=]{{16,}}(?:[ \t]*(?:\r?\n|\\+n)[ \t]*|[ \t]+))*-----END[A-Z0-9 ]* {_PEM_KEY}",
    ),
    # --- URLs with credentials, webhooks -------------------------------------------------------
    Family(
        "url_credentials",
        ((":", "(?=//)"),),
        # Brackets are not allowed in userinfo (RFC 3986), so a marker is never taken for one.
        r"(?P<pre>://)[^\s/?#@:\"'\[\]]*:[^\s/?#@\"'\[\]]+(?P<post>@)",
    ),
    Family(
        "slack_webhook",
        ((":", "(?=//)"),),
        rf"https://hooks\.slack\.com/(?:services|workflows|triggers)/[{_W}/]+",
    ),
    Family(
        "discord_webhook",
        ((":", "(?=//)"),),
        rf"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[{_W}]+",
    ),
    # --- JWTs (before the key shapes, whose classes could swallow a header glued to a key) -----
    Family(
        "jwt",
        (("J", "(?<=eyJ)"),),
        # The signature part is optional: `header.payload` alone still carries the claims.
        rf"eyJ[{_W}]{{5,}}\.eyJ[{_W}]{{5,}}(?:\.[{_W}]*)?",
    ),
    # --- AI providers --------------------------------------------------------------------------
    Family("anthropic_api_key", _behind("sk-"), rf"sk-ant-[{_W}]{{10,}}"),
    Family("openrouter_api_key", _behind("sk-"), rf"sk-or-[{_W}]{{10,}}"),
    Family(
        "openai_api_key",
        _behind("sk-"),
        # Project, service-account and admin keys carry their own prefix and may be glued to a
        # word (`fp_sk-proj-...`); a bare `sk-` needs a token start (`risk-assessment-...`).
        rf"sk-(?:(?:proj|svcacct|admin)-[{_W}]{{20,}}|{_started(3)}[{_W}]{{20,}})",
    ),
    Family("huggingface_token", _behind("hf_"), rf"hf_[A-Za-z0-9]{{30,}}{_END}"),
    Family("groq_api_key", _behind("gsk_"), rf"gsk_[A-Za-z0-9]{{40,}}{_END}"),
    Family("replicate_api_token", _behind("r8_"), rf"r8_[A-Za-z0-9]{{30,}}{_END}"),
    Family("perplexity_api_key", _behind("pplx-"), rf"pplx-[A-Za-z0-9]{{40,}}{_END}"),
    Family("xai_api_key", _behind("xai-"), rf"xai-[A-Za-z0-9]{{60,}}{_END}"),
    # --- source hosting ------------------------------------------------------------------------
    Family(
        "github_token",
        _behind("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}",
    ),
    Family(
        "gitlab_token",
        _behind("glpat-", "gldt-", "glptt-", "glrt-", "glsoat-", "glcbt-"),
        rf"gl(?:pat|dt|ptt|rt|soat|cbt)-[{_W}.]{{20,}}",
    ),
    Family("bitbucket_app_password", (("A", "(?=TBB)"),), rf"ATBB[A-Za-z0-9_=.\-]{{28,}}{_END}"),
    Family("atlassian_api_token", (("A", "(?=TATT)"),), rf"ATATT[A-Za-z0-9_=.\-]{{60,}}{_END}"),
    # --- package registries --------------------------------------------------------------------
    Family("npm_token", _behind("npm_"), rf"npm_[A-Za-z0-9]{{36}}{_END}"),
    Family("pypi_token", _behind("pypi-"), rf"pypi-AgE[{_W}]{{50,}}"),
    Family("rubygems_api_key", _behind("rubygems_"), rf"rubygems_[0-9a-f]{{48}}{_END}"),
    Family("nuget_api_key", (("2", "(?<=oy2)"),), rf"oy2{_started(3)}[a-z0-9]{{43}}{_END}"),
    Family("docker_hub_token", _behind("dckr_pat_", "dckr_oat_"), rf"dckr_(?:pat|oat)_[{_W}]{{20,}}"),
    # --- cloud ---------------------------------------------------------------------------------
    Family(
        "aws_access_key_id",
        (("A", "(?=KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA)"),),
        rf"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA){_started(4)}[A-Z0-9]{{16}}(?![A-Za-z0-9])",
    ),
    Family("google_api_key", (("A", "(?=Iza)"),), rf"AIza[{_W}]{{35}}"),
    Family("google_oauth_secret", _behind("GOCSPX-"), rf"GOCSPX-[{_W}]{{24,}}"),
    Family("google_oauth_token", _behind("ya29."), rf"ya29\.[{_W}]{{30,}}"),
    Family(
        "azure_client_secret",
        (("~", r"(?<=[0-9]Q~)"),),
        r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}",
    ),
    Family("digitalocean_token", _behind("dop_v1_", "doo_v1_", "dor_v1_"), r"do[por]_v1_[0-9a-f]{64}"),
    Family("heroku_api_key", _behind("HRKU-"), rf"HRKU-[{_W}]{{40,}}"),
    Family("netlify_token", _behind("nfp_"), rf"nfp_[A-Za-z0-9]{{36,}}{_END}"),
    Family("cloudflare_origin_ca_key", _behind("v1.0-"), r"v1\.0-[0-9a-f]{24}-[0-9a-f]{140,}"),
    Family("flyio_token", _behind("fo1_", "fm1_", "fm2_"), rf"f(?:o1|m1|m2)_[{_W}+/=,]{{40,}}"),
    Family("vault_token", _behind("hvs.", "hvb."), rf"hv[sb]\.[{_W}]{{90,}}"),
    # --- payment -------------------------------------------------------------------------------
    Family(
        "stripe_key",
        _behind("sk_live_", "rk_live_", "sk_test_", "rk_test_", "sk_prod_", "rk_prod_", "whsec_"),
        r"[sr]k_(?:live|test|prod)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{24,}",
    ),
    Family(
        "square_token",
        (*_behind("sq0atp-", "sq0csp-"), ("E", "(?=AAA)")),
        rf"sq0(?:atp|csp)-[{_W}]{{22,}}|EAAA{_started(4)}[{_W}+]{{56,}}",
    ),
    Family(
        "braintree_access_token",
        _behind("access_token$production$", "access_token$sandbox$"),
        r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}",
    ),
    Family("shopify_token", _behind("shpat_", "shpss_", "shpca_", "shppa_"), r"shp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}"),
    # --- messaging -----------------------------------------------------------------------------
    Family(
        "slack_token",
        _behind("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xapp-"),
        r"xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,}",
    ),
    Family(
        "discord_bot_token",
        tuple((".", rf"(?<=[MNO][{_W}]{{{n}}}\.)") for n in (23, 24, 25)),
        rf"(?<![{_W}])[MNO][{_W}]{{23,25}}\.[{_W}]{{6}}\.[{_W}]{{27,40}}",
    ),
    Family(
        "telegram_bot_token",
        ((":", rf"(?<=[0-9]:)(?=AA[{_W}]{{30}})"),),
        rf"(?<![0-9])[0-9]{{8,10}}:AA[{_W}]{{30,}}",
    ),
    Family("twilio_api_key", (("S", "(?=K[0-9a-fA-F]{32})"),), rf"SK{_started(2, 'A-Za-z0-9')}[0-9a-fA-F]{{32}}(?![A-Za-z0-9])"),
    Family("twilio_account_sid", (("A", "(?=C[0-9a-f]{32})"),), rf"AC{_started(2, 'A-Za-z0-9')}[0-9a-f]{{32}}(?![A-Za-z0-9])"),
    # --- e-mail --------------------------------------------------------------------------------
    Family("sendgrid_api_key", (("S", r"(?=G\.)"),), rf"SG\.[{_W}]{{16,}}\.[{_W}]{{30,}}"),
    Family(
        "mailgun_api_key",
        (*_behind("key-"), ("-", "(?<=[0-9a-f]{32}-)")),
        r"key-[0-9a-f]{32}|(?<![0-9a-f])[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}(?![0-9a-f])",
    ),
    Family("mailchimp_api_key", (("-", "(?<=[0-9a-f]{32}-)"),), r"(?<![0-9a-f])[0-9a-f]{32}-us[0-9]{1,2}(?![0-9])"),
    # --- other SaaS with distinctive prefixes --------------------------------------------------
    Family("linear_api_key", _behind("lin_api_"), rf"lin_api_[A-Za-z0-9]{{40}}{_END}"),
    Family("notion_token", _behind("ntn_", "secret_"), rf"(?:ntn_|secret_)[A-Za-z0-9]{{40,}}{_END}"),
    Family("sentry_token", _behind("sntrys_", "sntryu_"), r"sntry[su]_[A-Za-z0-9+/=_]{40,}"),
    Family("grafana_token", _behind("glc_", "glsa_"), r"glc_[A-Za-z0-9+/=]{32,}|glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}"),
    Family("newrelic_key", _behind("NRAK-"), r"NRAK-[A-Z0-9]{27}"),
    Family("postman_api_key", _behind("PMAK-"), r"PMAK-[0-9a-f]{24}-[0-9a-f]{34}"),
    Family("age_secret_key", _behind("AGE-SECRET-KEY-"), r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    # --- bearer credentials in prose (`Authorization:` itself is the key rule's) ---------------
    Family(
        "bearer_token",
        (("b", "(?=earer[ \t])"), ("B", "(?=earer[ \t]|EARER[ \t])")),
        # Spelled-out classes, not `(?i:bearer)`: measurably faster to search for.
        rf"(?P<pre>[Bb][Ee][Aa][Rr][Ee][Rr]{_BEARER_STARTED}[ \t]+)"
        r"(?!(?:\\?[\"'])?\[REDACTED:)[A-Za-z0-9._~+/=\-]{8,}",
    ),
)


def _short_keys() -> tuple[tuple[str, str], ...]:
    """`DB_PW=`, `MYSQL_PWD:`, `"pwd": `, `sig=`: keys too short to be searched for as substrings
    (each stem costs a pass over the text), so the prefilter looks for them at their separator."""
    anchors: list[tuple[str, str]] = []
    for separator in "=:":
        for middle in ("", '"', " "):
            anchors.append((separator, f"(?<=[Pp][Ww]{re.escape(middle)}{separator})"))
            anchors.append((separator, f"(?<=(?:[Pp][Ww][Dd]|[Ss][Ii][Gg]){re.escape(middle)}{separator})"))
    return tuple(anchors)


#: Anchors that wake the pair rule's short key stems (see SHORT_KEY_STEMS).
SHORT_KEY_ANCHORS = _short_keys()
SHORT_KEY_STEMS = ("pw", "sig")


def compile_prefilter(
    anchor_sets: tuple[tuple[tuple[str, str], ...], ...],
) -> tuple[re.Pattern[str], tuple[frozenset[int], ...]]:
    """One regex over every anchor, and for each of its capture groups the indexes (into
    `anchor_sets`: one per family, plus any others) it wakes.

    Alternatives are grouped by anchor character, each starting with that literal character, so
    `re` builds a first-character set and skips the rest of the text at C speed. An empty group
    after each lookaround tells, through `match.lastindex`, which anchor was found.
    """
    by_char: dict[str, dict[str, set[int]]] = {}
    for index, anchors in enumerate(anchor_sets):
        for char, look in anchors:
            by_char.setdefault(char, {}).setdefault(look, set()).add(index)
    groups: list[frozenset[int]] = []
    alternatives: list[str] = []
    for char, looks in by_char.items():
        inner: list[str] = []
        for look, indexes in looks.items():
            inner.append(f"{look}()")
            groups.append(frozenset(indexes))
        alternatives.append(f"{re.escape(char)}(?:{'|'.join(inner)})")
    return re.compile("|".join(alternatives)), tuple(groups)


# --- values of `key=value` pairs -----------------------------------------------------------------

#: Words that end a key naming something ABOUT a secret, not the secret: `secret_key_name`,
#: `password_file`, `api_key_env`, `token_url`, `token_type`, `max_password_length`.
NAME_SUFFIXES = frozenset(
    "name names file files path paths dir env var vars variable type types kind length len count size "
    "header headers field fields label hint prompt url uri endpoint format policy ttl expiry expires "
    "rotation version ref source provider".split()
)
#: Extensions of files that tools name at a line (`secret.yaml:3: expected a mapping`, mypy's
#: `token.py:12: error: ...`): such a name is a location, not a key. Only extensions of text and
#: source files: `.key`, `.pem`, `.secret`, `.token` or `.password` end dotted config keys
#: (`api.secret: x`, `db.password=x`) as often as file names.
FILE_EXTENSIONS = frozenset(
    "yaml yml json jsonl toml ini cfg conf env properties xml txt md rst log csv tsv py pyi js mjs cjs ts tsx "
    "jsx go rs java kt scala c h cc cpp hpp cs rb php swift sh bash zsh sql tf hcl html css lock".split()
)
#: Segments of a "weak" key: often a secret (`AccountKey`, `sig`, `signing_key`), often not
#: (`sort key`, `sig: 9`). Its value goes only when it looks random.
WEAK_SEGMENTS: dict[str, str] = {
    "key": "key",
    "keys": "key",
    "sig": "signature",
    "signature": "signature",
    "auth": "authorization",
    "pass": "password",
}
#: Glued names (`pgpassword`, `accountkey`, `authtoken`, `clientsecret`): one segment ending so.
WEAK_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("password", "password"),
    ("passwd", "password"),
    ("secret", "secret"),
    ("token", "token"),
    ("key", "key"),
)
#: Segments that mean "password" when short (`DB_PW`, `MYSQL_PWD`, ODBC `PWD=`): the value goes
#: unless it is code or a path (`PWD=/home/dev` is the shell's working directory).
PASSWORD_SEGMENTS = frozenset({"pw", "pwd"})

_CODE_WORDS = frozenset(
    "None null nil true false True False undefined str int bytes string String bool Any SecretStr "
    "Optional required optional".split()
)
#: A name of code: `password`, `api_key`, `OPENAI_API_KEY`, `apiKey`, dotted or not.
_IDENTIFIER_PART = r"(?:[a-z_][a-z0-9_]*|[A-Z_][A-Z0-9_]*|[a-z]+(?:[A-Z][a-z0-9]+)+)"
_DOTTED = re.compile(rf"{_IDENTIFIER_PART}(?:\.{_IDENTIFIER_PART})+")
_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*[(\[](?:[)\]\"'A-Za-z_]|\Z)")
#: Objects whose attributes code reads secrets from: `self.password`, `settings.API_KEY`.
_RECEIVERS = frozenset(
    "self this cls os env environ config cfg conf settings args opts options request req ctx context "
    "params secrets vault creds credentials user client app process data payload body".split()
)
_NAME_LIKE = re.compile(r"[a-z][a-z_]*|[A-Z][A-Z_]*|[a-z]+(?:[A-Z][a-z]+)+")
_SECRET_WORDS = frozenset(
    "password passwd pwd pw pass passphrase secret secrets token tokens key keys apikey auth "
    "credential credentials creds cookie session".split()
)
_TEMPLATE = re.compile(
    r"\$\{[^}]*\}|\$\([^)]*\)|\{\{.*\}\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|%\(\w+\)[sr]"
    r"|\{[A-Za-z_][\w.]*\}|<[^<>]+>|\*+|x{3,}|X{3,}|\.\.\.|…"
)
_STRING_PREFIX = frozenset({"f", "r", "b", "u", "rb", "br", "fr", "rf"})
_WORD_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])")


class Quoted(NamedTuple):
    """A pair's value split at its quotes; `opening` is "" for a bare value, `closing` "" for a bare
    or unclosed one."""

    opening: str
    inner: str
    closing: str


def split_quotes(value: str) -> Quoted:
    """The one reading of a value's quotes, for deciding what it is and for replacing it.

    A quote is `"` or `'`, or `"` behind backslashes: `\\"` in a JSON-encoded string, `\\\\\\"` in
    one encoded twice (a shell command inside JSON); the closing quote is the same sequence.
    """
    escapes = len(value) - len(value.lstrip("\\"))
    mark = value[escapes : escapes + 1]
    if mark != '"' and not (mark == "'" and not escapes):
        return Quoted("", value, "")
    quote = value[: escapes + 1]
    if len(value) >= 2 * len(quote) and value.endswith(quote):
        return Quoted(quote, value[len(quote) : -len(quote)], quote)
    return Quoted(quote, value[len(quote) :], "")


def is_code(value: str, following: str) -> bool:
    """Whether the value of a pair is a reference, not a literal: a variable, a call, a type, an
    environment variable or template reference, a placeholder. `following` is the character
    right after the value (a quote after a bare `f` is an f-string)."""
    opening, inner, _ = split_quotes(value)
    if not inner:
        return True
    if _TEMPLATE.fullmatch(inner):
        return True
    if opening:
        return False  # a quoted literal is a literal, however plain
    if inner in _STRING_PREFIX and following in "\"'":
        return True
    # A header-form value runs to the end of the line: `token: str | None = None` is code if its
    # first word is.
    bare = inner.split(None, 1)[0].rstrip(",;)]}:")
    if not bare or bare in _CODE_WORDS or bare[0] == "$" or _CALL.match(inner):
        return True
    if _DOTTED.fullmatch(bare):
        # `self.password`, `settings.API_KEY`, `db.password`; not `vsAeFj.lzBjfzkm9`.
        parts = bare.split(".")
        return parts[0] in _RECEIVERS or any(_names_a_secret(part) for part in parts)
    # `password=password`, `api_key=openai_api_key`, `token=authToken`: a variable named so.
    return _NAME_LIKE.fullmatch(bare) is not None and _names_a_secret(bare)


def _names_a_secret(name: str) -> bool:
    words = {w.lower() for w in _WORD_SPLIT.sub("_", name).split("_") if w}
    return not words.isdisjoint(_SECRET_WORDS)


def is_path(value: str) -> bool:
    inner = split_quotes(value).inner
    return inner.startswith(("/", "~/", "./", "../")) or re.match(r"[A-Za-z]:\\", inner) is not None


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_PIECE = re.compile(r"[A-Za-z0-9]+")
_WORDISH = re.compile(r"[a-z]+[0-9]{0,3}|[A-Z][a-z]+[0-9]{0,3}|[A-Z]+[0-9]{0,3}|[0-9]+")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in Counter(text).values())


def looks_random(value: str) -> bool:
    """A generated credential rather than a word, a name, an id or a digest of something public.

    At least 16 characters with no whitespace; not a UUID; hex only if 32+ characters; otherwise
    letters and digits mixed (or mixed case) with at least 3 bits of entropy per character, and
    not built only of word-like pieces (`my_cache_key_v2`, `Content-Type`).
    """
    inner = split_quotes(value).inner
    inner = inner.rstrip(",;")
    if len(inner) < 16 or any(c.isspace() for c in inner) or _UUID.fullmatch(inner):
        return False
    if _HEX.fullmatch(inner):
        return len(inner) >= 32 and entropy(inner) >= 3.0
    pieces = _PIECE.findall(inner)
    if all(_WORDISH.fullmatch(piece) for piece in pieces):
        return False
    classes = sum((any(c.islower() for c in inner), any(c.isupper() for c in inner), any(c.isdigit() for c in inner)))
    return classes >= 2 and entropy(inner) >= 3.0
