"""`aiw-otel web`: a local page showing live runs (steered through their control sockets) and finished ones (from their files)."""
