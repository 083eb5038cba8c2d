"""A TCP port to listen on, refused alike in a config file, a variable and a command-line flag.

Apart from `config_yaml` because `aiw-otel web --port` (and `run --web-port`) check one while
parsing the command line, which must not load the configuration machinery (YAML included, ~30 ms).
"""

from __future__ import annotations

MAX_PORT = 65535


def parse_port(text: str) -> int:
    """0 means any free one."""
    try:
        port = int(text.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= MAX_PORT:
        raise ValueError(f"expected a port number from 0 to {MAX_PORT} (0: any free port), got {text!r}")
    return port
