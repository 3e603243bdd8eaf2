"""Hardening: authentication, scrubbing and limits, faults under load, hostile input."""
