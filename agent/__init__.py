"""Repair agent: RQ jobs that verify, fix and report bugs in a project's own git repository.

Workers talk to Log Center only over its HTTP API (`client.http`) and to Redis for RQ
(`agent.queue`, `agent.worker`). Run a pool with `python -m agent --workers N`.
"""
