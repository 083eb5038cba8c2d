"""Reading a log directory back: `aiw-otel logs` (the run as a tree) and `aiw-otel ship` (send it later).

Nothing here is imported by `import aiw_otel`; the CLI loads these modules only when asked.
"""
