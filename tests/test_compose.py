"""The compose file, checked without a Docker engine: services, healthchecks, settings."""

from __future__ import annotations

import elasticsearch
import yaml

from config.settings import Settings
from tests.stack import ROOT


def test_compose_file_is_complete() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("elasticsearch", "redis", "api", "indexer", "worker", "dashboard", "kibana"):
        assert name in services, name
        service = services[name]
        assert "image" in service or "build" in service, name
        assert "healthcheck" in service, name
    assert services["kibana"]["profiles"] == ["kibana"]
    assert "--appendonly" in services["redis"]["command"]
    es_major = services["elasticsearch"]["image"].rsplit(":", 1)[1].split(".")[0]
    assert es_major == str(elasticsearch.__versionstr__).split(".")[0]
    assert "8002:8002" in services["api"]["ports"] and "8003:8003" in services["dashboard"]["ports"]
    # Every setting the code reads is documented in .env.example, and the compose env is real.
    documented = (ROOT / ".env.example").read_text()
    for field, info in Settings.model_fields.items():
        name = f"LOGCENTER_{field.upper()}"
        if info.annotation is not None and "Limits" in str(info.annotation):
            continue
        assert name in documented, name
    for var in services["api"]["environment"]:
        assert var.removeprefix("LOGCENTER_").lower() in Settings.model_fields, var


def test_every_service_shares_one_required_admin_token() -> None:
    """The API, indexers, workers and dashboard get the same token, from `.env`, and compose
    refuses to start without one (no service ever runs with writes open)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ours = {name: s for name, s in services.items()
            if s.get("image") == "logcenter:latest" and "profiles" not in s}
    assert set(ours) == {"api", "indexer", "worker", "dashboard"}
    sources = {s["environment"]["LOGCENTER_ADMIN_TOKEN"] for s in ours.values()}
    assert len(sources) == 1
    (source,) = sources
    assert source.startswith("${LOGCENTER_ADMIN_TOKEN:?"), "required, not defaulted to empty"
    for service in ours.values():
        assert "LOGCENTER_ANONYMOUS_WRITES" not in service["environment"]


def test_the_kibana_profile_sets_kibana_up() -> None:
    """`--profile kibana` starts Kibana and, once it is healthy, `logcenter kibana-setup` once
    (imports the data views and dashboard; a one-shot that talks to Kibana only)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    setup = services["kibana-setup"]
    assert setup["profiles"] == services["kibana"]["profiles"] == ["kibana"]
    assert setup["image"] == "logcenter:latest" and setup["restart"] == "no"
    assert setup["command"] == ["kibana-setup", "--kibana-url", "http://kibana:5601"]
    assert setup["depends_on"] == {"kibana": {"condition": "service_healthy"}}
    assert "LOGCENTER_ES_INDEX_PREFIX" in setup["environment"]
