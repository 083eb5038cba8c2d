"""The OTLP exporter values every front end checks the same way: an endpoint URL, `k=v` pairs.

Apart from `config_yaml` (which re-exports them) because `aiw-otel ship` needs them and must not
pay for loading the whole configuration machinery (YAML included) to check one URL.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def parse_endpoint(text: str) -> str:
    """Reject what the exporters would only fail on at the first export, long after start-up."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parsing the port is what raises for `host:abc`
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {text!r}")
    return text


def parse_pairs(text: str) -> dict[str, str]:
    """`k=v,k2=v2` with percent-encoded keys and values: the W3C baggage-like format of
    OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS."""
    pairs = {}
    for item in filter(str.strip, text.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(
                f"expected comma-separated key=value pairs, got {item.strip()!r} "
                "(percent-encode ',' and '=' inside keys and values)"
            )
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs
