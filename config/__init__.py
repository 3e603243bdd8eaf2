"""Settings and wiring: one pydantic-settings tree, the `logcenter` command, the stack runner."""
