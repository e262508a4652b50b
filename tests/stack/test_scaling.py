"""The scaling profiles under Docker (README "Scaling"): the stack under test runs `longterm` and
`ha` (tests/stack/conftest.py). What needs the real images and network: the Loki ruler sending to
both Alertmanagers, the two Alertmanagers gossiping on their own network, both Prometheus replicas
finding both Alertmanagers, and VictoriaMetrics receiving Prometheus' samples.

Needs Docker (`make test-stack`); skipped with the reason otherwise, by the compose_stack fixture.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.stack.test_logs import Loki
from tests.support.polling import poll

pytestmark = pytest.mark.stack


def exec_json(compose_stack, service: str, url: str):
    """GET a URL from inside a service's container (for ports the stack does not publish)."""
    run = compose_stack.compose("exec", "-T", service, "wget", "-qO-", url)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def second_alertmanager(compose_stack, path: str):
    """An API v2 path of alertmanager-2, which publishes no port."""
    return exec_json(compose_stack, "alertmanager-2", f"http://127.0.0.1:9093/api/v2/{path}")


def test_the_alertmanagers_form_one_settled_cluster(compose_stack):
    """Both members see two peers on the gossip network and have settled."""
    first = requests.get(compose_stack.urls["alertmanager"] + "/api/v2/status", timeout=10).json()
    for cluster in (first["cluster"], second_alertmanager(compose_stack, "status")["cluster"]):
        assert cluster["status"] == "ready"
        assert len(cluster["peers"]) == 2


def test_both_prometheus_replicas_alert_both_alertmanagers(compose_stack):
    """Each replica discovered two Alertmanagers (the second by DNS)."""
    mine = requests.get(
        compose_stack.urls["prometheus"] + "/api/v1/alertmanagers", timeout=10
    ).json()["data"]["activeAlertmanagers"]
    other = exec_json(compose_stack, "prometheus-2", "http://127.0.0.1:9090/api/v1/alertmanagers")[
        "data"
    ]["activeAlertmanagers"]
    assert len(mine) == 2
    assert len(other) == 2


def test_the_loki_ruler_alerts_both_alertmanagers(compose_stack):
    """A critical bot line fires BotLogCritical in the first Alertmanager and in the second."""
    service = f"stacktest-ha-{uuid.uuid4().hex[:8]}"
    line = json.dumps({"level": "critical", "service": service, "message": "stack test"})
    Loki(compose_stack.urls["loki"]).push(
        {"job": "bot", "service": service, "level": "critical", "env": "test"}, line
    )
    query = f"alerts?filter=alertname%3D%22BotLogCritical%22&filter=service%3D%22{service}%22"

    def in_first():
        return requests.get(
            f"{compose_stack.urls['alertmanager']}/api/v2/{query}", timeout=10
        ).json()

    assert poll(in_first, 240, every=5), "BotLogCritical never reached alertmanager"
    assert poll(lambda: second_alertmanager(compose_stack, query), 60, every=5), (
        "BotLogCritical reached alertmanager but not alertmanager-2"
    )


def test_victoriametrics_receives_prometheus_samples(compose_stack):
    """The bot's series arrive in VictoriaMetrics through remote write, without `replica`."""

    def bot_series():
        return requests.get(
            compose_stack.urls["victoriametrics"] + "/api/v1/series",
            params={"match[]": 'bot_build_info{job="bot"}'},
            timeout=10,
        ).json()["data"]

    found = poll(bot_series, 120, every=5)
    assert found, "no bot series in VictoriaMetrics"
    assert all("replica" not in series for series in found)
