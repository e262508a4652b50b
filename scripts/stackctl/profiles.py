"""What the optional compose profiles change in the configs of services that always run.

A compose profile can only add services. Two of Botwatch's also change what existing services do
(DESIGN §8b), and `make up` renders that here, into .generated/, from COMPOSE_PROFILES:
  longterm  Prometheus also remote-writes to VictoriaMetrics: prometheus/profiles/longterm.yml is
            appended to prometheus/prometheus.yml (it adds a top-level key the base never has).
  ha        the Loki ruler also alerts the second Alertmanager (LOKI_ALERTMANAGER_URLS, read by
            loki.yml through -config.expand-env). Prometheus needs nothing: it finds the second
            Alertmanager by DNS, which resolves only while the profile runs. The ingest gateway
            forwards its second write path to prometheus-2 (INGEST_PROMETHEUS_2; empty without
            `ha`, and the gateway then answers that path with a 404 saying so).
  alloy     Alloy replaces Promtail as the log shipper Prometheus expects to find running.
Whatever the profiles, the expected shipper is written down as a rule (LogShipperDown, DESIGN §8b):
Prometheus finds the shippers by DNS, so a stopped one leaves no target behind to be down.
A profile without anything to render here (host) only adds its services.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGERS = {"": "http://alertmanager:9093", "ha": "http://alertmanager-2:9093"}
# The second Prometheus replica, for the gateway's /replica-2/api/v1/write (caddy/Caddyfile).
PROMETHEUS_2 = "prometheus-2:9090"


def enabled(env: Mapping[str, str]) -> list[str]:
    """The profiles COMPOSE_PROFILES names (comma-separated, as Compose reads it)."""
    names = (name.strip() for name in env.get("COMPOSE_PROFILES", "").split(","))
    return [name for name in names if name]


def prometheus_config(env: Mapping[str, str], root: Path = ROOT) -> str:
    """prometheus.yml with the additions of every enabled profile that has one."""
    parts = [(root / "prometheus" / "prometheus.yml").read_text()]
    for profile in enabled(env):
        addition = root / "prometheus" / "profiles" / f"{profile}.yml"
        if addition.is_file():
            parts.append(addition.read_text())
    return "\n".join(parts)


def loki_alertmanagers(env: Mapping[str, str]) -> str:
    """The Alertmanager URLs the Loki ruler sends to, comma-separated (its alertmanager_url)."""
    profiles = ["", *enabled(env)]
    return ",".join(ALERTMANAGERS[p] for p in profiles if p in ALERTMANAGERS)


def ingest_upstreams(env: Mapping[str, str]) -> str:
    """The gateway's environment file: where the second write path goes (nowhere without `ha`)."""
    return f"INGEST_PROMETHEUS_2={PROMETHEUS_2 if 'ha' in enabled(env) else ''}\n"


def log_shipper(env: Mapping[str, str]) -> str:
    """The log shipper `make up` runs: Alloy with its profile, Promtail otherwise (its job name)."""
    return "alloy" if "alloy" in enabled(env) else "promtail"


def log_shipper_rules(env: Mapping[str, str]) -> str:
    """A rule file recording which shipper should be running (stack:log_shipper:expected)."""
    return f"""# Rendered by `make up` from COMPOSE_PROFILES (scripts/stackctl/profiles.py).
groups:
  - name: stack-log-shipper-expected
    rules:
      - record: stack:log_shipper:expected
        expr: vector(1)
        labels:
          job: {log_shipper(env)}
"""


def render(env: Mapping[str, str], generated: Path, root: Path = ROOT) -> None:
    """Write .generated/prometheus/prometheus.yml, the expected log shipper's rule file,
    .generated/loki/loki.env and .generated/ingest/ingest.env."""
    for folder in ("prometheus/rules", "loki", "ingest"):
        (generated / folder).mkdir(parents=True, exist_ok=True)
    (generated / "prometheus" / "prometheus.yml").write_text(prometheus_config(env, root))
    (generated / "prometheus" / "rules" / "log-shipper.yml").write_text(log_shipper_rules(env))
    (generated / "loki" / "loki.env").write_text(
        f"LOKI_ALERTMANAGER_URLS={loki_alertmanagers(env)}\n"
    )
    (generated / "ingest" / "ingest.env").write_text(ingest_upstreams(env))
