"""grafana/provisioning/: data sources, the dashboards provider, and how compose wires them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml
from botwatch.metrics import exemplar_labels

from tests.support.grafana_dashboards import DASHBOARD_DIR, DATASOURCE_FILE, REPO
from tests.support.logql import parse_logql
from tests.support.promql import check_promql

# The provisioning folders Grafana reads at every start (pkg/services/provisioning/provisioning.go).
GRAFANA_PROVISIONING_FOLDERS = ("datasources", "plugins", "alerting", "dashboards")
PROVIDER_FILE = REPO / "grafana" / "provisioning" / "dashboards" / "botwatch.yml"
DATASOURCES = {ds["uid"]: ds for ds in yaml.safe_load(DATASOURCE_FILE.read_text())["datasources"]}


def grafana_interpolate(value: str, env: dict[str, str]) -> str:
    """What Grafana makes of a provisioning value: Go's os.ExpandEnv on each part split at `$$`.

    Mirrors pkg/services/provisioning/values: `$$` is a literal `$`, `$VAR` and `${VAR}` are
    replaced (unset = empty), and there is no `${VAR:-default}` form.
    """

    def expand(part: str) -> str:
        return re.sub(
            r"\$\{([^}]*)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), part
        )

    return "$".join(expand(part) for part in value.split("$$"))


def derived_field(name: str) -> dict:
    fields = DATASOURCES["loki"]["jsonData"]["derivedFields"]
    return next(f for f in fields if f["name"] == name)


class TestDatasources:
    def test_fixed_uids_and_types(self):
        """Prometheus, VictoriaMetrics (profile longterm, Prometheus' API), Loki, Tempo (profile
        traces) and Alertmanager, under the fixed uids the dashboards and links use."""
        assert {uid: ds["type"] for uid, ds in DATASOURCES.items()} == {
            "prometheus": "prometheus",
            "victoriametrics": "prometheus",
            "loki": "loki",
            "tempo": "tempo",
            "alertmanager": "alertmanager",
        }
        assert [uid for uid, ds in DATASOURCES.items() if ds.get("isDefault")] == ["prometheus"]

    def test_urls_point_at_the_compose_services(self):
        """Each data source reaches its compose service on its container port."""
        assert {uid: ds["url"] for uid, ds in DATASOURCES.items()} == {
            "prometheus": "http://prometheus:9090",
            "victoriametrics": "http://victoriametrics:8428",
            "loki": "http://loki:3100",
            "tempo": "http://tempo:3200",
            "alertmanager": "http://alertmanager:9093",
        }

    def test_alertmanager_is_read_only_for_grafana_alerts(self):
        """Alertmanager is the Prometheus implementation and receives no Grafana-managed alerts."""
        data = DATASOURCES["alertmanager"]["jsonData"]
        assert data["implementation"] == "prometheus"
        assert data["handleGrafanaManagedAlerts"] is False

    def test_rate_interval_base_is_the_longest_scrape_interval(self):
        """timeInterval is the longest scrape interval, so $__rate_interval spans 4 scrapes."""
        config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
        intervals = [config["global"]["scrape_interval"]] + [
            job["scrape_interval"] for job in config["scrape_configs"] if "scrape_interval" in job
        ]
        seconds = [int(value.removesuffix("s")) for value in intervals]
        for uid in ("prometheus", "victoriametrics"):
            time_interval = DATASOURCES[uid]["jsonData"]["timeInterval"]
            assert int(time_interval.removesuffix("s")) == max(seconds), uid


class TestDerivedFields:
    LINE = json.dumps(
        {
            "level": "error",
            "message": "boom",
            "correlation_id": "c0ffee-42",
            "sentry_event_id": "0123456789abcdef0123456789abcdef",
        }
    )

    def test_correlation_id_opens_every_line_of_that_id(self):
        """The correlation id link is a Loki query that parses and selects exactly that id."""
        field = derived_field("correlation_id")
        value = re.search(field["matcherRegex"], self.LINE).group(1)
        assert value == "c0ffee-42"
        assert field["datasourceUid"] == "loki"
        query = grafana_interpolate(field["url"], {}).replace("${__value.raw}", value)
        parse_logql(query)
        assert 'correlation_id="c0ffee-42"' in query

    def test_value_placeholder_survives_environment_interpolation(self):
        """Env expansion leaves ${__value.raw} in derived-field URLs (written `$${...}`)."""
        for field in DATASOURCES["loki"]["jsonData"]["derivedFields"]:
            raw = field["url"]
            if "__value.raw" in raw:
                assert "${__value.raw}" in grafana_interpolate(raw, {}), raw

    def test_sentry_link_only_when_sentry_is_configured(self):
        """A Sentry event id links to SENTRY_EVENT_URL, and to nothing when it is unset."""
        field = derived_field("sentry_event_id")
        assert re.search(field["matcherRegex"], self.LINE).group(1) == "0123456789abcdef" * 2
        assert grafana_interpolate(field["url"], {}) == ""
        url = "https://sentry.io/organizations/me/issues/?query=${__value.raw}"
        assert grafana_interpolate(field["url"], {"SENTRY_EVENT_URL": url}) == url


EXEMPLAR_LINKS = DATASOURCES["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]


def exemplar_links(name: str) -> list[dict]:
    """The data source's links for an exemplar label (Grafana adds up entries of one name)."""
    return [link for link in EXEMPLAR_LINKS if link["name"] == name]


def exemplar_link(name: str, target: str) -> dict:
    """The link for an exemplar label going to `target`: "url" or "datasourceUid"."""
    (link,) = [link for link in exemplar_links(name) if target in link]
    return link


class TestExemplarLinks:
    def test_links_exactly_for_the_labels_the_exporter_sets(self):
        """The latency dots link by the exemplar labels botwatch writes, and by nothing else."""
        assert {link["name"] for link in EXEMPLAR_LINKS} == set(exemplar_labels("c", "t"))

    def test_trace_id_opens_the_trace_in_tempo_and_in_sentry(self):
        """A trace id has two links: the Tempo data source (an internal link, queried with the
        id itself) and the Sentry trace URL; nothing else."""
        tempo = exemplar_link("trace_id", "datasourceUid")
        assert DATASOURCES[tempo["datasourceUid"]]["type"] == "tempo"
        assert "url" not in tempo
        sentry = exemplar_link("trace_id", "url")
        assert "datasourceUid" not in sentry
        assert len(exemplar_links("trace_id")) == 2

    def test_correlation_id_opens_that_commands_logs_in_loki(self):
        """The correlation id opens Explore on the Loki data source with the derived field's
        query for that id, over the dashboard's time range."""
        assert len(exemplar_links("correlation_id")) == 1
        url = grafana_interpolate(exemplar_link("correlation_id", "url")["url"], {})
        # Grafana fills its placeholders in the URL text, so they must stay un-encoded in it.
        for placeholder in ("${__value.raw}", "${__from}", "${__to}"):
            assert placeholder in url
        parts = urllib.parse.urlsplit(url)
        assert parts.path == "/explore"
        (pane,) = json.loads(urllib.parse.parse_qs(parts.query)["panes"][0]).values()
        (query,) = pane["queries"]
        assert pane["datasource"] == query["datasource"]["uid"] == "loki"
        assert DATASOURCES["loki"]["type"] == query["datasource"]["type"] == "loki"
        assert query["expr"] == grafana_interpolate(derived_field("correlation_id")["url"], {})
        parse_logql(query["expr"].replace("${__value.raw}", "c0ffee-42"))
        assert pane["range"] == {"from": "${__from}", "to": "${__to}"}

    def test_sentry_trace_link_only_when_sentry_is_configured(self):
        """A trace id links to SENTRY_TRACE_URL, and to nothing when it is unset."""
        link = exemplar_link("trace_id", "url")
        assert grafana_interpolate(link["url"], {}) == ""
        url = "https://sentry.io/organizations/me/performance/trace/${__value.raw}/"
        assert grafana_interpolate(link["url"], {"SENTRY_TRACE_URL": url}) == url


class TestTempo:
    JSON = DATASOURCES["tempo"]["jsonData"]

    def test_url_is_tempos_query_port(self):
        """The data source reads Tempo's HTTP port as tempo/tempo.yml sets it."""
        config = yaml.safe_load((REPO / "tempo" / "tempo.yml").read_text())
        port = config["server"]["http_listen_port"]
        assert DATASOURCES["tempo"]["url"] == f"http://tempo:{port}"

    def test_span_to_logs_by_trace_id_on_the_bots_stream(self):
        """Span → logs filters by trace id in the Loki stream of the span's `service`."""
        logs = self.JSON["tracesToLogsV2"]
        assert DATASOURCES[logs["datasourceUid"]]["type"] == "loki"
        assert logs["filterByTraceID"] is True
        assert logs["tags"] == [{"key": "service.name", "value": "service"}]

    def test_span_to_metrics_queries_are_valid_promql(self, tool):
        """Span → metrics queries the bot's series of the span's service, in valid PromQL."""
        metrics = self.JSON["tracesToMetrics"]
        assert DATASOURCES[metrics["datasourceUid"]]["type"] == "prometheus"
        assert metrics["tags"] == [{"key": "service.name", "value": "service"}]
        exprs = []
        for query in metrics["queries"]:
            expr = grafana_interpolate(query["query"], {})
            assert "$__tags" in expr, query  # survives env expansion, filled by Grafana
            exprs.append(expr.replace("$__tags", 'service="bot"'))
        check_promql(tool("promtool"), exprs)

    def test_log_line_trace_id_opens_tempo(self):
        """A log line's trace_id is a derived field linking into the Tempo data source."""
        field = derived_field("trace_id")
        line = json.dumps({"message": "x", "trace_id": "0af7651916cd43dd8448eb211c80319c"})
        assert re.search(field["matcherRegex"], line).group(1) == "0af7651916cd43dd8448eb211c80319c"
        assert DATASOURCES[field["datasourceUid"]]["type"] == "tempo"
        assert grafana_interpolate(field["url"], {}) == "${__value.raw}"


class TestDashboardProvider:
    def test_botwatch_folder_from_the_mounted_directory(self):
        """One file provider loads /var/lib/grafana/dashboards into the Botwatch folder."""
        (provider,) = yaml.safe_load(PROVIDER_FILE.read_text())["providers"]
        assert provider["type"] == "file"
        assert provider["folder"] == "Botwatch"
        assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
        assert provider["allowUiUpdates"] is False
        assert list(DASHBOARD_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def grafana_service(tool, tmp_path_factory) -> dict:
    """compose.yaml's grafana service as the real docker-compose renders it (SENTRY_URL set)."""
    env = tmp_path_factory.mktemp("env") / ".env"
    env.write_text("GRAFANA_ADMIN_PASSWORD=x\nSENTRY_URL=https://sentry.io/organizations/me\n")
    result = subprocess.run(
        [tool("docker-compose"), "--project-directory", str(REPO), "-f", str(REPO / "compose.yaml"),
         "--env-file", str(env), "config", "--format", "json"],
        capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("SENTRY", "GRAFANA"))},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]["grafana"]


class TestComposeWiring:
    def test_provisioning_and_dashboards_mounted_where_the_provider_reads(self, grafana_service):
        """compose mounts grafana/provisioning and grafana/dashboards at the paths Grafana reads."""
        mounts = {v["target"]: v["source"] for v in grafana_service["volumes"]}
        assert mounts["/etc/grafana/provisioning"] == str(REPO / "grafana" / "provisioning")
        assert mounts["/var/lib/grafana/dashboards"] == str(DASHBOARD_DIR)

    def test_every_folder_grafana_scans_at_start_is_readable(self, grafana_service):
        """Each folder Grafana's provisioning reads at start exists in the mounted tree.

        A missing one is an error line at every start ("Failed to read plugin provisioning files",
        "can't read alerting provisioning files"). The folders are those of Grafana's
        pkg/services/provisioning/provisioning.go `starting()` (13.x): plugins, datasources,
        alerting, dashboards, plus each dashboard provider's path.
        """
        mounts = {v["target"]: Path(v["source"]) for v in grafana_service["volumes"]}
        root = mounts["/etc/grafana/provisioning"]
        scanned = {name: root / name for name in GRAFANA_PROVISIONING_FOLDERS}
        for provider_file in (root / "dashboards").glob("*.y*ml"):
            for provider in yaml.safe_load(provider_file.read_text())["providers"]:
                path = provider["options"]["path"]
                scanned[path] = mounts[path]
        unreadable = {}
        for name, folder in scanned.items():
            try:
                os.listdir(folder)  # what Grafana's os.ReadDir does first
            except OSError as exc:
                unreadable[name] = str(exc)
        assert unreadable == {}

    @pytest.mark.parametrize("folder", GRAFANA_PROVISIONING_FOLDERS)
    def test_provisioning_files_are_valid_version_1(self, folder):
        """Every file in a scanned folder is YAML Grafana parses (apiVersion 1), no stray file."""
        files = sorted((REPO / "grafana" / "provisioning" / folder).iterdir())
        assert files
        assert [f.name for f in files if f.suffix not in (".yml", ".yaml")] == []
        assert {f.name: yaml.safe_load(f.read_text())["apiVersion"] for f in files} == {
            f.name: 1 for f in files
        }

    def test_safe_login_settings(self, grafana_service):
        """Admin password from the Compose secret file, no anonymous access, no sign-up."""
        env = grafana_service["environment"]
        assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
        assert "GF_SECURITY_ADMIN_PASSWORD" not in env
        assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
        assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"

    def test_home_dashboard_is_the_overview(self, grafana_service):
        """After login Grafana opens the bot overview."""
        path = grafana_service["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        assert path == "/var/lib/grafana/dashboards/overview.json"

    def test_sentry_event_url_built_from_sentry_url(self, grafana_service):
        """SENTRY_EVENT_URL is the organisation's issue search for the clicked event id."""
        # `config` prints `$` escaped as `$$`; the container receives ${__value.raw}.
        url = grafana_service["environment"]["SENTRY_EVENT_URL"].replace("$$", "$")
        assert url == "https://sentry.io/organizations/me/issues/?query=${__value.raw}"

    def test_sentry_trace_url_built_from_sentry_url(self, grafana_service):
        """SENTRY_TRACE_URL is the organisation's trace view of the clicked exemplar's trace id."""
        url = grafana_service["environment"]["SENTRY_TRACE_URL"].replace("$$", "$")
        assert url == "https://sentry.io/organizations/me/performance/trace/${__value.raw}/"
