"""The latency panels' dots, clicked through in the real stack (`make test-stack`).

Grafana draws an exemplar's links in the browser from the Prometheus data source's
exemplarTraceIdDestinations, so the test follows them as a click does: the exemplars Grafana's
query API returns for the commands dashboard's latency query, each dot's links as the running
Grafana provisioned them, and what they open — the Loki query of "Logs of this command" through
Grafana, and "Trace in Tempo" through Grafana's proxy to Tempo. The stack runs with the `traces`
profile and the demo bot sending its OpenTelemetry spans to Tempo, and without SENTRY_URL (so
the dots must have no Sentry link). Skips with the reason without a Docker engine.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import requests

from tests.stack.conftest import Stack, stack_from_checkout
from tests.support.grafana_dashboards import queries
from tests.support.polling import poll

pytestmark = pytest.mark.stack

# Demo traffic, a 15 s scrape, a span batch and Tempo's ingestion: the first traced dots.
DEADLINE = 180
LATENCY = next(
    q for q in queries() if (q.dashboard, q.panel) == ("commands.json", "p95 latency by command")
)


@pytest.fixture(scope="module")
def traced_stack(docker_client, tmp_path_factory, free_port) -> Iterator[Stack]:
    extra = "OTEL_EXPORTER_OTLP_ENDPOINT=http://tempo:4318\n"
    root = tmp_path_factory.mktemp("traced") / "botwatch"
    with stack_from_checkout(root, free_port, extra, profiles="traces") as stack:
        yield stack


class Grafana:
    def __init__(self, stack: Stack) -> None:
        self.base = stack.urls["grafana"]
        self.auth = ("admin", stack.grafana_password)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, auth=self.auth, timeout=30)

    def query(self, datasource: dict, **target) -> list[dict]:
        """Rows (field name -> value) of every frame Grafana's query API answers, last 15 min."""
        now = int(time.time() * 1000)
        body = {
            "from": str(now - 15 * 60_000),
            "to": str(now),
            "queries": [{"refId": "A", "datasource": datasource, **target}],
        }
        response = requests.post(f"{self.base}/api/ds/query", json=body, auth=self.auth, timeout=30)
        assert response.status_code == 200, response.text[:500]
        rows = []
        for frame in response.json()["results"]["A"].get("frames", []):
            names = [field["name"] for field in frame["schema"]["fields"]]
            columns = frame["data"]["values"]
            rows += [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
        return rows


@pytest.fixture(scope="module")
def grafana(traced_stack) -> Grafana:
    return Grafana(traced_stack)


@pytest.fixture(scope="module")
def dot(grafana) -> dict:
    """One exemplar of the latency panel's query that has a trace id, as Grafana returns it."""

    def traced_dots() -> list[dict]:
        rows = grafana.query(
            {"type": "prometheus", "uid": "prometheus"},
            expr=LATENCY.expr,
            range=True,
            instant=False,
            exemplar=True,
            intervalMs=15_000,
            maxDataPoints=300,
        )
        return [row for row in rows if row.get("correlation_id") and row.get("trace_id")]

    found = poll(traced_dots, DEADLINE)
    assert found, "Grafana returned no exemplar with a trace id for the latency panel"
    return found[-1]


@pytest.fixture(scope="module")
def links(grafana) -> list[dict]:
    """The exemplar links the running Grafana provisioned on the Prometheus data source."""
    response = grafana.get("/api/datasources/uid/prometheus")
    assert response.status_code == 200, response.text[:300]
    return response.json()["jsonData"]["exemplarTraceIdDestinations"]


def test_logs_link_opens_that_commands_log_lines(grafana, dot, links):
    """ "Logs of this command" opens Explore on Loki with a query that returns the command's
    log lines, correlation id included."""
    (link,) = [link for link in links if link["name"] == "correlation_id"]
    now = int(time.time() * 1000)
    url = (
        link["url"]
        .replace("${__value.raw}", dot["correlation_id"])
        .replace("${__from}", str(now - 15 * 60_000))
        .replace("${__to}", str(now))
    )
    assert grafana.get(url).status_code == 200  # the Explore page itself
    panes = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["panes"][0])
    (pane,) = panes.values()
    (query,) = pane["queries"]

    def lines() -> list[dict]:
        rows = grafana.query(query["datasource"], expr=query["expr"], queryType="range")
        return [row for row in rows if any(dot["correlation_id"] in str(v) for v in row.values())]

    assert poll(lines, 60), f"no log line of {dot['correlation_id']} through {query['expr']}"


def test_trace_link_opens_the_commands_trace_in_tempo(grafana, dot, links):
    """ "Trace in Tempo" queries the Tempo data source with the dot's trace id: Tempo holds that
    trace, whose command span carries the dot's correlation id."""
    (link,) = [link for link in links if link["name"] == "trace_id" and "datasourceUid" in link]
    path = f"/api/datasources/proxy/uid/{link['datasourceUid']}/api/traces/{dot['trace_id']}"

    def trace() -> requests.Response | None:
        response = grafana.get(path)
        return response if response.status_code == 200 else None

    response = poll(trace, 60)
    assert response is not None, f"Tempo has no trace {dot['trace_id']}"
    assert dot["correlation_id"] in response.text


def test_no_sentry_link_without_sentry_url(links):
    """Without SENTRY_URL the Sentry trace link is provisioned empty, which Grafana leaves out."""
    (sentry,) = [link for link in links if link["name"] == "trace_id" and "url" in link]
    assert sentry["url"] == ""
