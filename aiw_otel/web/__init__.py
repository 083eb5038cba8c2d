"""`aiw-otel web`: a local page showing runs live (and steering them) and finished runs from their files.

`server` serves it (token, origin, static files, routes), `live` reaches live runs through their
control sockets, `history` reads finished runs from the log files; the page itself is static HTML,
CSS and JavaScript in `static/` (no build step).
"""
