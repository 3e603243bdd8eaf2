"""Sentry SDK compatibility: the endpoints a DSN points SDKs at, their envelopes and events as
reports (`route` -> `intake` -> `auth`, `decompress`, `envelope`, `event`)."""
