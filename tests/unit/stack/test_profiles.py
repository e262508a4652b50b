"""What `make up` renders for the optional profiles, and the settings they bring (stackctl)."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from stackctl import envfile, profiles
from stackctl.checks import check_ports_free, check_settings
from stackctl.docker import Compose
from stackctl.up import urls


class TestRender:
    def test_profiles_are_read_as_compose_reads_them(self):
        """COMPOSE_PROFILES is comma-separated; blanks and spaces do not count."""
        assert profiles.enabled({"COMPOSE_PROFILES": " host, longterm,,ha "}) == [
            "host",
            "longterm",
            "ha",
        ]
        assert profiles.enabled({}) == []

    def test_without_profiles_prometheus_runs_the_committed_file(self, tmp_path, repo):
        """No profile: the rendered prometheus.yml is prometheus/prometheus.yml, byte for byte,
        and the Loki ruler alerts the one Alertmanager."""
        profiles.render({"COMPOSE_PROFILES": "host"}, tmp_path, repo)
        rendered = (tmp_path / "prometheus" / "prometheus.yml").read_text()
        assert rendered == (repo / "prometheus" / "prometheus.yml").read_text()
        loki = (tmp_path / "loki" / "loki.env").read_text()
        assert loki == "LOKI_ALERTMANAGER_URLS=http://alertmanager:9093\n"

    def test_longterm_adds_remote_write_to_the_committed_file(self, tmp_path, repo):
        """`longterm`: the committed file with the remote_write block after it, nothing changed."""
        profiles.render({"COMPOSE_PROFILES": "longterm"}, tmp_path, repo)
        rendered = (tmp_path / "prometheus" / "prometheus.yml").read_text()
        assert rendered.startswith((repo / "prometheus" / "prometheus.yml").read_text())
        config = yaml.safe_load(rendered)
        assert [r["name"] for r in config["remote_write"]] == ["victoriametrics"]

    def test_ha_makes_the_loki_ruler_alert_both_alertmanagers(self, tmp_path, repo):
        """`ha`: the Loki ruler sends every alert to alertmanager and alertmanager-2."""
        profiles.render({"COMPOSE_PROFILES": "ha"}, tmp_path, repo)
        assert (tmp_path / "loki" / "loki.env").read_text() == (
            "LOKI_ALERTMANAGER_URLS=http://alertmanager:9093,http://alertmanager-2:9093\n"
        )

    @pytest.mark.parametrize(
        ("compose_profiles", "upstream"),
        [("", ""), ("ingest", ""), ("ingest,ha", "prometheus-2:9090"), ("ha", "prometheus-2:9090")],
    )
    def test_the_gateways_second_write_path_leads_to_prometheus_2_only_with_ha(
        self, tmp_path, repo, compose_profiles, upstream
    ):
        """`ha`: the ingest gateway forwards its second write path to prometheus-2; without it
        the path has no upstream (the gateway answers it with a 404 saying why)."""
        profiles.render({"COMPOSE_PROFILES": compose_profiles}, tmp_path, repo)
        ingest = (tmp_path / "ingest" / "ingest.env").read_text()
        assert ingest == f"INGEST_PROMETHEUS_2={upstream}\n"

    @pytest.mark.parametrize(
        ("compose_profiles", "shipper"),
        [("", "promtail"), ("host", "promtail"), ("host,alloy", "alloy")],
    )
    def test_the_expected_log_shipper_is_recorded_for_prometheus(
        self, tmp_path, repo, tool, compose_profiles, shipper
    ):
        """`make up` writes down which shipper runs (Alloy with its profile): a rule file that
        the real promtool accepts, recording stack:log_shipper:expected{job=<shipper>} where
        prometheus.yml loads rendered rules (LogShipperDown compares it with the targets)."""
        profiles.render({"COMPOSE_PROFILES": compose_profiles}, tmp_path, repo)
        path = tmp_path / "prometheus" / "rules" / "log-shipper.yml"
        subprocess.run([tool("promtool"), "check", "rules", "--lint=all", str(path)], check=True)
        [group] = yaml.safe_load(path.read_text())["groups"]
        assert group["rules"] == [
            {
                "record": "stack:log_shipper:expected",
                "expr": "vector(1)",
                "labels": {"job": shipper},
            }
        ]
        rule_files = yaml.safe_load(profiles.prometheus_config({}, repo))["rule_files"]
        assert "/etc/prometheus-generated/rules/*.yml" in rule_files

    def test_the_base_file_never_has_what_a_profile_appends(self, repo):
        """An appended top-level key must not exist in the base (YAML would keep only one)."""
        base = yaml.safe_load((repo / "prometheus" / "prometheus.yml").read_text())
        for addition in (repo / "prometheus" / "profiles").glob("*.yml"):
            assert set(yaml.safe_load(addition.read_text())).isdisjoint(base), addition.name


class TestComposeOverride:
    def test_a_local_override_file_is_merged_in(self, tmp_path):
        """compose.override.yaml, when present, is passed after compose.yaml (later wins)."""
        (tmp_path / "compose.yaml").write_text("services: {}\n")
        assert "compose.override.yaml" not in " ".join(Compose(tmp_path).base)
        (tmp_path / "compose.override.yaml").write_text("services: {}\n")
        files = [a for a in Compose(tmp_path).base if a.endswith(".yaml")]
        assert [f.rsplit("/", 1)[1] for f in files] == ["compose.yaml", "compose.override.yaml"]


class TestSettings:
    @pytest.fixture
    def env(self, repo) -> dict[str, str]:
        return {**envfile.load(repo / ".env.example").values, "GRAFANA_ADMIN_PASSWORD": "x" * 16}

    def problems(self, env: dict[str, str], **changes: str) -> list[str]:
        """The settings named by the problems found."""
        return [p.key for p in check_settings({**env, **changes})]

    def test_example_settings_pass(self, env):
        assert self.problems(env) == []

    @pytest.mark.parametrize("value", ["12", "400d", "60w", "2y"])
    def test_retention_in_months_or_days_weeks_years(self, env, value):
        """A bare number is months (VictoriaMetrics' unit); d, w and y are accepted."""
        assert self.problems(env, VICTORIAMETRICS_RETENTION=value) == []

    @pytest.mark.parametrize("value", ["", "0", "12m", "1.5y", "30h"])
    def test_other_retentions_are_refused(self, env, value):
        """Minutes (VictoriaMetrics' "m"), hours, fractions, zero and nothing are refused."""
        assert self.problems(env, VICTORIAMETRICS_RETENTION=value) == ["VICTORIAMETRICS_RETENTION"]

    @pytest.mark.parametrize("value", ["8.8.8", "172.31", "10.253.253.0", "10.0.300"])
    def test_gossip_network_must_be_three_private_numbers(self, env, value):
        """The gossip /29 is built from three numbers of a private range."""
        assert self.problems(env, ALERTMANAGER_GOSSIP_NET=value) == ["ALERTMANAGER_GOSSIP_NET"]

    def test_a_profile_port_is_checked_only_when_its_profile_runs(self, env):
        """VictoriaMetrics' port being taken matters only with `longterm`."""

        def taken(address: str, port: int) -> bool:
            return port == 8428

        assert check_ports_free(env, taken) == []
        (problem,) = check_ports_free({**env, "COMPOSE_PROFILES": "longterm"}, taken)
        assert problem.key == "VICTORIAMETRICS_PORT"


def test_make_up_names_victoriametrics_only_with_its_profile(repo):
    """The closing summary lists VictoriaMetrics' UI when `longterm` runs, not otherwise."""
    env = envfile.load(repo / ".env.example").values
    assert "VictoriaMetrics" not in [name for name, _, _ in urls(env)]
    with_profile = {**env, "COMPOSE_PROFILES": "longterm"}
    assert ("VictoriaMetrics", "http://127.0.0.1:8428/vmui", "history") in urls(with_profile)
