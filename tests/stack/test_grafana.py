"""Grafana in the running stack: provisioned data sources healthy, every dashboard there and drawn.

Needs Docker (`make test-stack`); the browser check also needs Chromium and skips without it.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import pytest
import requests

from tests.support.chromium import ChromiumMissing, find_chromium, render_pages
from tests.support.grafana_dashboards import load_dashboards, queries
from tests.support.promql import metric_names

pytestmark = pytest.mark.stack

UIDS = sorted(d["uid"] for d in load_dashboards().values())
# Series that exist only after an event (an alert firing, a log line dropped or refused).
ONLY_AFTER_AN_EVENT = {"ALERTS", "promtail_dropped_entries_total", "loki_discarded_samples_total"}
# What a panel shows when its query or plugin failed (Grafana 13's panel chrome), found in the page.
ERROR_PANELS_JS = """
(() => {
  const errors = [...document.querySelectorAll('[data-testid="data-testid Panel status error"]')]
    .map(e => (e.closest('[data-viz-panel-key], section') || e).innerText.slice(0, 200));
  if (document.body.innerText.includes('Panel plugin not found')) errors.push('plugin not found');
  const headers = document.querySelectorAll('[data-testid^="data-testid Panel header"]').length;
  return {errors, headers, title: document.title};
})()
"""


@dataclass
class Grafana:
    base: str
    auth: tuple[str, str]

    def get(self, path: str):
        """GET an API path as admin; the decoded JSON of a 200 answer."""
        response = requests.get(self.base + path, auth=self.auth, timeout=15)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        return response.json()


@pytest.fixture(scope="module")
def grafana(compose_stack) -> Grafana:
    """The stack's Grafana, as admin (basic auth, the password compose_stack put in .env)."""
    return Grafana(compose_stack.urls["grafana"], ("admin", compose_stack.grafana_password))


class TestProvisioning:
    def test_datasources_provisioned_with_fixed_uids(self, grafana):
        """Grafana lists exactly the five provisioned data sources under their fixed uids."""
        found = {ds["uid"]: ds["type"] for ds in grafana.get("/api/datasources")}
        assert found == {
            "prometheus": "prometheus",
            "victoriametrics": "prometheus",
            "loki": "loki",
            "tempo": "tempo",
            "alertmanager": "alertmanager",
        }

    @pytest.mark.parametrize("uid", ["prometheus", "victoriametrics", "loki"])
    def test_query_datasources_healthy(self, grafana, uid):
        """Grafana's own health check of the Prometheus and Loki data sources passes."""
        assert grafana.get(f"/api/datasources/uid/{uid}/health")["status"] == "OK"

    def test_alertmanager_datasource_reaches_alertmanager(self, grafana):
        """Through Grafana's proxy the Alertmanager data source answers its status API."""
        status = grafana.get("/api/datasources/proxy/uid/alertmanager/api/v2/status")
        assert status["cluster"]["status"] in {"ready", "disabled"}

    def test_every_dashboard_in_the_botwatch_folder(self, grafana):
        """All five dashboards are provisioned, tagged botwatch, in the Botwatch folder."""
        found = grafana.get("/api/search?type=dash-db&tag=botwatch")
        assert sorted(d["uid"] for d in found) == UIDS
        assert {d.get("folderTitle") for d in found} == {"Botwatch"}

    @pytest.mark.parametrize("uid", UIDS)
    def test_dashboard_loads_as_provisioned(self, grafana, uid):
        """Each dashboard loads through the API and is marked provisioned."""
        body = grafana.get(f"/api/dashboards/uid/{uid}")
        assert body["dashboard"]["uid"] == uid
        assert body["meta"]["provisioned"] is True


def test_every_dashboard_metric_has_data(compose_stack):
    """Every metric a dashboard queries has series in the stack's Prometheus (no dangling names)."""
    names = set()
    for query in queries():
        if query.language == "promql":
            names |= metric_names(query.expr)
    missing: set[str] = set()
    deadline = time.monotonic() + 240  # the 1m rule group and every scrape job need a few rounds
    while time.monotonic() < deadline:
        missing = {
            name
            for name in names - ONLY_AFTER_AN_EVENT
            if not requests.get(
                compose_stack.urls["prometheus"] + "/api/v1/query",
                params={"query": f'count({{__name__="{name}"}})'},
                timeout=10,
            ).json()["data"]["result"]
        }
        if not missing:
            break
        time.sleep(15)
    assert not missing


@pytest.fixture(scope="module")
def rendered(compose_stack, grafana, tmp_path_factory):
    """Every dashboard opened in headless Chromium (last 15 minutes), with its error panels."""
    try:
        find_chromium()
    except ChromiumMissing as exc:
        pytest.skip(str(exc))
    token = base64.b64encode(":".join(grafana.auth).encode()).decode()
    urls = [f"{grafana.base}/d/{uid}?orgId=1&from=now-15m&to=now" for uid in UIDS]
    pages = render_pages(
        urls, script=ERROR_PANELS_JS, headers={"Authorization": f"Basic {token}"}, settle=15
    )
    shots = tmp_path_factory.mktemp("dashboards")
    for uid, page in zip(UIDS, pages, strict=True):
        (shots / f"{uid}.png").write_bytes(page.screenshot)
    return dict(zip(UIDS, pages, strict=True)), shots


@pytest.mark.parametrize("uid", UIDS)
def test_dashboard_renders_without_error_panels(rendered, uid):
    """In a real browser the dashboard draws its panels and none shows an error."""
    pages, shots = rendered
    result = pages[uid].result
    assert result["headers"] > 0, f"no panel drawn; screenshot: {shots / uid}.png"
    assert result["errors"] == [], f"screenshot: {shots / uid}.png"
