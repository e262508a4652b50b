"""Exemplars on the real Prometheus: the store compose.yaml turns on, sized by prometheus.yml.

Started by the native stack with compose.yaml's own --enable-feature flags and the project's
prometheus.yml, so a flag or setting that the pinned Prometheus ignored would fail here.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import yaml

from tests.support.native_stack import REPO
from tests.support.polling import poll

DEADLINE = 60  # seconds; Prometheus scrapes itself every second in the fast mode


def _query(prometheus, expr: str) -> list[dict]:
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["data"]["result"]


def test_exemplar_store_on_with_the_configured_size(prometheus):
    """Prometheus reports an exemplar store of exactly prometheus.yml's max_exemplars."""
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    expected = config["storage"]["exemplars"]["max_exemplars"]
    result = poll(lambda: _query(prometheus, "prometheus_tsdb_exemplar_max_exemplars"), DEADLINE)
    assert result, "Prometheus exports no prometheus_tsdb_exemplar_max_exemplars"
    assert [float(r["value"][1]) for r in result] == [expected]
