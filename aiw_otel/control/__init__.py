"""Steering a run from outside the engine: the relay (validation, records, fan-out), the Unix
control socket that exposes it to other processes, and the `aiw-otel ctl` / `watch` client."""
