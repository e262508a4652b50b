"""`make up-agent`: the agent of a bot host (compose.agent.yaml), checked, rendered and started.

The agent is Prometheus in agent mode plus Grafana Alloy: both send to the central stack's ingest
gateway (caddy/Caddyfile) with the same password. Its settings live in the host's own .env (the
"This machine is a bot host" section of .env.example); a bot host needs only those.
"""

from __future__ import annotations

import json
import re
import string
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .checks import LABEL_VALUE_RE, Problem, is_url
from .docker import Compose, DockerUnavailable, check_docker
from .secretfiles import write_secrets

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "agent" / "prometheus.yml"
COMPOSE_FILE = "compose.agent.yaml"
# Compose secret name → .env setting (compose.agent.yaml's `secrets`).
SECRETS = {"agent_ingest_password": "AGENT_INGEST_PASSWORD"}
# Where compose.agent.yaml mounts what is rendered here, and where the agent listens.
CONTAINER = {
    "self": "localhost:9090",
    "password_file": "/run/secrets/agent_ingest_password",
    "targets_dir": "/etc/prometheus/generated/targets",
}
# The second remote_write of a central HA pair (AGENT_CENTRAL_HA=true): the first one's settings
# (a YAML merge of its `central` anchor) sent to the gateway's second write path (caddy/Caddyfile).
REPLICA_2_PATH = "/replica-2/api/v1/write"
REPLICA_2 = """  - <<: *central
    name: central-replica-2
    url: {url}
"""
BOT_RE = re.compile(r"^(?P<service>[A-Za-z0-9_.-]{1,63})=(?P<address>[A-Za-z0-9_.-]+:\d{1,5})$")
MIN_PASSWORD = 16


def agent_host(env: Mapping[str, str]) -> str:
    """The `host` label of everything this agent sends (AGENT_HOST)."""
    return env.get("AGENT_HOST", "").strip()


def central_ha(env: Mapping[str, str]) -> bool:
    """Whether the central stack runs the Prometheus pair, so the agent writes to both."""
    return env.get("AGENT_CENTRAL_HA", "").strip().lower() == "true"


def bots(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(service, address) of each bot in AGENT_BOTS ("music=music-bot:8000,mod=mod:8000")."""
    entries = [e.strip() for e in env.get("AGENT_BOTS", "").split(",") if e.strip()]
    return [(m["service"], m["address"]) for m in map(BOT_RE.match, entries) if m]


def check_agent(env: Mapping[str, str]) -> list[Problem]:
    """Every problem in the agent settings, one line each."""
    problems = []
    if not LABEL_VALUE_RE.match(agent_host(env)):
        problems.append(
            Problem(
                "AGENT_HOST",
                "must name this host (letters, digits, '.', '_' or '-'), e.g. vps-1: the `host` "
                "label that keeps its bots apart from other hosts' on the dashboards",
            )
        )
    url = env.get("AGENT_INGEST_URL", "")
    if not is_url(url) or url.rstrip("/").endswith("/api/v1/write"):
        problems.append(
            Problem(
                "AGENT_INGEST_URL",
                "must be the central gateway's base URL, e.g. https://ingest.example.com or "
                "http://10.8.0.1:9095 (without /api/v1/write)",
            )
        )
    if len(env.get("AGENT_INGEST_PASSWORD", "")) < MIN_PASSWORD:
        problems.append(
            Problem(
                "AGENT_INGEST_PASSWORD",
                f"must be at least {MIN_PASSWORD} characters: the password whose hash is "
                "INGEST_PASSWORD_HASH on the central box (`make ingest-password` prints both)",
            )
        )
    entries = [e.strip() for e in env.get("AGENT_BOTS", "").split(",") if e.strip()]
    bad = [e for e in entries if not BOT_RE.match(e)]
    if bad or not entries:
        problems.append(
            Problem(
                "AGENT_BOTS",
                f"{'has malformed entries ' + ', '.join(map(repr, bad)) if bad else 'is empty'}; "
                "list this host's bots as service=address:port, comma-separated "
                "(e.g. music=music-bot:8000)",
            )
        )
    if env.get("AGENT_CENTRAL_HA", "").strip().lower() not in ("", "true", "false"):
        problems.append(
            Problem(
                "AGENT_CENTRAL_HA",
                f"must be true or false, not {env['AGENT_CENTRAL_HA']!r}: true when the central "
                "stack runs the `ha` profile (the agent then writes every sample to both "
                "Prometheus replicas), false (the default) otherwise",
            )
        )
    if not LABEL_VALUE_RE.match(env.get("BOTWATCH_ENV", "production")):
        problems.append(
            Problem("BOTWATCH_ENV", "must be a short name of letters, digits, '.', '_' or '-'")
        )
    return problems


def render_agent(env: Mapping[str, str], folder: Path, **container: str) -> Path:
    """Write prometheus.yml and targets/agent-bots.json into folder; returns the config's path.

    `container` overrides where the agent listens and finds its files (CONTAINER), for a run
    outside compose. Values are written as JSON strings, which YAML reads as quoted strings.
    """
    places = {**CONTAINER, **container}
    targets = folder / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    (targets / "agent-bots.json").write_text(
        json.dumps(
            [
                {"targets": [address], "labels": {"service": service}}
                for service, address in bots(env)
            ],
            indent=2,
        )
        + "\n"
    )
    base = env["AGENT_INGEST_URL"].rstrip("/")
    values = {
        "env": env.get("BOTWATCH_ENV") or "production",
        "host": agent_host(env),
        "remote_write_url": base + "/api/v1/write",
        "ingest_user": env.get("AGENT_INGEST_USER") or "agent",
        "self": places["self"],
        "password_file": places["password_file"],
        "bots_file": f"{places['targets_dir']}/agent-bots.json",
    }
    config = folder / "prometheus.yml"
    config.write_text(
        string.Template(TEMPLATE.read_text()).substitute(
            {k: json.dumps(v) for k, v in values.items()},
            replica_2=REPLICA_2.format(url=json.dumps(base + REPLICA_2_PATH))
            if central_ha(env)
            else "",
        )
    )
    return config


def up_agent(root: Path, *, docker: str = "docker", out: TextIO = sys.stdout) -> int:
    """Check the settings and Docker, render, start compose.agent.yaml, wait until healthy."""
    from .up import load_settings, report, start_healthy

    settings, problems = load_settings(root, out, check=check_agent)
    compose = None
    try:
        check_docker(docker)
        compose = Compose(root, (docker, "compose"), file=COMPOSE_FILE)
    except DockerUnavailable as exc:
        problems.append(Problem("Docker", str(exc)))
    if problems:
        report(problems, out)
        return 1
    assert compose is not None
    write_secrets(settings, root / ".secrets", SECRETS)
    render_agent(settings, root / ".generated" / "agent")
    host = agent_host(settings)
    pair = " and its second Prometheus replica" if central_ha(settings) else ""
    print(
        f"Starting the agent for host {host!r} (sends to {settings['AGENT_INGEST_URL']}{pair})…",
        file=out,
    )
    if not start_healthy(compose, out, "The agent"):
        return 1
    bot_list = ", ".join(f"{s} ({a})" for s, a in bots(settings))
    print(
        f"\nThe agent is up on {host}: scraping {bot_list}.\n"
        f"  On the central Grafana, these bots appear with host={host} within a minute.\n"
        f"  If they do not: `make logs-agent s=agent` (401 = password, refused = URL).",
        file=out,
    )
    return 0
