"""`aiw-otel web [LOG_DIR]`: the monitor in a browser, the live runs of a log dir and its finished ones.

It serves until Ctrl-C; `aiw-otel run --web` and `demo --web` start the same server (`start`) on a
thread beside their run instead.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aiw_otel.cli.output import port_number

if TYPE_CHECKING:
    from aiw_otel.cli.output import Commands
    from aiw_otel.web.server import WebServer

DEFAULT_HOST = "127.0.0.1"


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("web", help="serve a local web page showing live runs (and steering them) "
                                             "and finished runs")
    parser.add_argument("log_dir", nargs="?", metavar="LOG_DIR",
                        help="where the runs write their files and control sockets (default: $AIW_LOG_DIR or ./logs)")
    parser.add_argument("--port", type=port_number, default=0, metavar="N", help="port to listen on (default: any free one)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on (default: 127.0.0.1; anyone who can reach another one and "
                             "has the printed address can steer the runs)")
    parser.add_argument("--socket", action="append", default=[], metavar="PATH",
                        help="also a run listening on this control socket (repeatable)")
    parser.set_defaults(handler=web_command)


def web_command(args: argparse.Namespace) -> int:
    log_dir = Path(args.log_dir or os.environ.get("AIW_LOG_DIR") or "logs")
    server = start(log_dir, [Path(path) for path in args.socket], args.host, args.port)
    print(f"aiw-otel web: {log_dir}/ at {server.url} (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def start(log_dir: Path, sockets: list[Path], host: str, port: int) -> WebServer:
    """The server for `log_dir`'s runs (and those on `sockets`), listening; not serving yet."""
    from aiw_otel.web.live import LiveRuns
    from aiw_otel.web.server import open_server

    if not _loopback(host):
        print(f"aiw-otel web: listening on {host}, not on loopback: whoever reaches it with the address below "
              "can read and steer the runs", file=sys.stderr)
    return open_server(LiveRuns(log_dir, sockets), host, port)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
