"""The running stack: every service healthy and its own API says it is ready."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.stack


class TestServices:
    def test_every_container_is_healthy(self, compose_stack, docker_client):
        """Every container of the project reports a passing Docker healthcheck."""
        containers = docker_client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={compose_stack.project}"}
        )
        health = {c.labels["com.docker.compose.service"]: c.attrs["State"].get("Health", {})
                  for c in containers}  # fmt: skip
        assert {"prometheus", "alertmanager", "loki", "promtail", "grafana", "bot"} <= set(health)
        assert {name: h.get("Status") for name, h in health.items()} == dict.fromkeys(
            health, "healthy"
        )

    @pytest.mark.parametrize(
        ("service", "path"),
        [("prometheus", "/-/ready"), ("alertmanager", "/-/ready"), ("loki", "/ready"),
         ("grafana", "/api/health")],
    )  # fmt: skip
    def test_service_api_is_ready(self, compose_stack, service, path):
        """Each published service answers its own readiness endpoint on 127.0.0.1."""
        response = requests.get(compose_stack.urls[service] + path, timeout=10)
        assert response.status_code == 200, response.text

    def test_prometheus_scrapes_the_bot(self, compose_stack):
        """Prometheus's bot target is up."""
        targets = requests.get(
            compose_stack.urls["prometheus"] + "/api/v1/targets", timeout=10
        ).json()["data"]["activeTargets"]
        bots = [t for t in targets if t["labels"].get("job") == "bot"]
        assert bots
        assert all(t["health"] == "up" for t in bots), bots

    def test_grafana_refuses_anonymous_access(self, compose_stack):
        """Grafana's API needs a login: no anonymous access."""
        response = requests.get(compose_stack.urls["grafana"] + "/api/dashboards/home", timeout=10)
        assert response.status_code == 401


class TestDiskReport:
    def test_make_ps_prints_each_volume_size_and_the_free_space(self, compose_stack):
        """`make ps` lists every data volume of the running stack with its size, then the disk."""
        ps = compose_stack.stackctl("ps")
        assert ps.returncode == 0, ps.stdout + ps.stderr
        report = ps.stdout.split("Data volumes:", 1)[1].splitlines()
        for volume in ("prometheus-data", "alertmanager-data", "loki-data", "grafana-data"):
            assert any(line.split()[:1] == [volume] for line in report), ps.stdout
        assert any(line.strip().startswith("Disk:") for line in report), ps.stdout
