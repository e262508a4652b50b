"""tempo/tempo.yml checked statically (no Tempo binary here; `make test-stack` starts the image).

The key paths are those of Tempo 2.10's configuration reference
(grafana.com/docs/tempo/v2.10.x/configuration: server, distributor, compactor, storage,
usage_report sections), listed below so a misspelt or misplaced key fails here, not at start-up.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
CONFIG = yaml.safe_load((REPO / "tempo" / "tempo.yml").read_text())
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())

DOCUMENTED = {
    "server.http_listen_port",
    "stream_over_http_enabled",
    "distributor.receivers.otlp.protocols.http.endpoint",
    "compactor.compaction.block_retention",
    "storage.trace.backend",
    "storage.trace.wal.path",
    "storage.trace.local.path",
    "usage_report.reporting_enabled",
}


def leaf_paths(node: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        paths |= leaf_paths(value, f"{path}.") if isinstance(value, dict) else {path}
    return paths


def test_only_documented_keys():
    """Every key set in tempo.yml is one of the documented keys listed above."""
    assert leaf_paths(CONFIG) <= DOCUMENTED


def test_only_the_otlp_http_receiver():
    """Tempo listens for OTLP over HTTP on 4318 (botwatch's exporter) and nothing else."""
    assert CONFIG["distributor"]["receivers"] == {
        "otlp": {"protocols": {"http": {"endpoint": "0.0.0.0:4318"}}}
    }
    assert "4318" in COMPOSE["services"]["tempo"]["expose"]


def test_data_on_the_named_volume():
    """WAL and blocks live under /var/tempo, the service's named volume."""
    volumes = COMPOSE["services"]["tempo"]["volumes"]
    assert "tempo-data:/var/tempo" in volumes
    for path in (
        CONFIG["storage"]["trace"]["wal"]["path"],
        CONFIG["storage"]["trace"]["local"]["path"],
    ):
        assert path.startswith("/var/tempo/")


def test_traces_kept_as_long_as_logs():
    """Traces are kept as long as Loki keeps the log lines that link to them (by default)."""
    loki_default = COMPOSE["services"]["loki"]["environment"]["LOKI_RETENTION_PERIOD"]
    retention = CONFIG["compactor"]["compaction"]["block_retention"]
    assert loki_default == f"${{LOKI_RETENTION_PERIOD:-{retention}}}"
