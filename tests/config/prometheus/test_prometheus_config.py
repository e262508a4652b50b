"""prometheus/prometheus.yml: valid for the real promtool, and the scrape/alerting contract."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from stackctl.profiles import prometheus_config

from tests.config.prometheus.conftest import PROMETHEUS, REPO, RULES, alerts, load_yaml

CONFIG = PROMETHEUS / "prometheus.yml"


def _duration(text: str) -> int:
    """Seconds in a Prometheus duration such as 1m30s."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(r"(?:(\d+)[dhms])+", text) and re.findall(r"(\d+)([dhms])", text)
    assert parts, text
    return sum(int(n) * units[u] for n, u in parts)


@pytest.fixture(scope="module")
def config() -> dict:
    return load_yaml(CONFIG)


@pytest.fixture(scope="module")
def jobs(config) -> dict[str, dict]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


@pytest.mark.parametrize("profiles", ["", "longterm,ha"])
def test_promtool_check_config_lint_all(tool, tmp_path, profiles):
    """promtool check config --lint=all accepts the config as `make up` renders it (alone, and
    with what the profiles add), its rules and the example file_sd files.

    The container paths (/etc/prometheus/...) are pointed at the repository copies so that promtool
    really reads the rule files and validates the documented file_sd examples, with no warning left.
    """
    text = prometheus_config({"COMPOSE_PROFILES": profiles}, REPO)
    for folder in ("targets", "alertmanagers"):
        (tmp_path / folder).mkdir()
        shutil.copy(PROMETHEUS / folder / "example.yml.sample", tmp_path / folder / "example.yml")
        text = text.replace(f"/etc/prometheus/{folder}/", f"{tmp_path / folder}/")
    text = text.replace("/etc/prometheus/rules/", f"{RULES}/")
    (tmp_path / "prometheus.yml").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [tool("promtool"), "check", "config", "--lint=all", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    assert f"{RULES}/bot.rules.yml" in output  # the rule files were really checked


def test_every_compose_service_is_scraped(jobs):
    """Each stack service has its own job; the bot job is `bot` as everywhere else."""
    assert set(jobs) == {
        "bot",
        "prometheus",
        "alertmanager",
        "loki",
        "promtail",
        "alloy",
        "grafana",
        "node-exporter",
        "cadvisor",
    }


def test_bot_job_has_static_target_with_service_and_file_sd(jobs):
    """The compose bot is bot:8000 with service=bot; other bots come from targets/*.yml."""
    bot = jobs["bot"]
    assert bot["static_configs"] == [{"targets": ["bot:8000"], "labels": {"service": "bot"}}]
    assert bot["file_sd_configs"][0]["files"] == ["/etc/prometheus/targets/*.yml"]


def test_example_target_file_names_each_bot(tmp_path):
    """The documented file_sd example gives every target group a service label."""
    groups = load_yaml(PROMETHEUS / "targets" / "example.yml.sample")
    assert groups
    assert all(group["labels"]["service"] and group["targets"] for group in groups)


def test_host_profile_jobs_are_discovered_not_listed(jobs):
    """node-exporter and cAdvisor come from DNS, so without the `host` profile no target exists.

    A static target would exist without its container, sit at up=0 and raise ScrapeTargetDown.
    """
    for name in ("node-exporter", "cadvisor"):
        assert "static_configs" not in jobs[name], name
        assert jobs[name]["dns_sd_configs"][0]["names"] == [name]


def test_stack_targets_use_compose_service_names(jobs):
    """Static stack targets point at the compose service names and their ports."""
    expected = {
        "alertmanager": "alertmanager:9093",
        "loki": "loki:3100",
        "grafana": "grafana:3000",
    }
    for job, target in expected.items():
        assert jobs[job]["static_configs"] == [{"targets": [target]}], job


def test_log_shippers_are_found_by_dns(jobs):
    """Promtail and Alloy are found by name: the one not running has no target to report down."""
    for job, port in (("promtail", 9080), ("alloy", 12345)):
        (sd,) = jobs[job]["dns_sd_configs"]
        assert (sd["names"], sd["port"]) == ([job], port)


def test_alerting_rules_and_env_label(config):
    """Alerts go to alertmanager:9093, the `ha` profile's alertmanager-2 (by DNS) and any listed in
    prometheus/alertmanagers/; rules load from the mounted folder and from what `make up` renders
    (the expected log shipper); env and replica come from compose.yaml, and replica never
    reaches an Alertmanager."""
    local, second, remote = config["alerting"]["alertmanagers"]
    assert local["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    assert second["dns_sd_configs"][0]["names"] == ["alertmanager-2"]
    assert remote["file_sd_configs"] == [{"files": ["/etc/prometheus/alertmanagers/*.yml"]}]
    assert config["alerting"]["alert_relabel_configs"] == [
        {"action": "labeldrop", "regex": "replica"}
    ]
    assert config["rule_files"] == [
        "/etc/prometheus/rules/*.yml",
        "/etc/prometheus-generated/rules/*.yml",
    ]
    assert config["global"]["external_labels"] == {
        "env": "${BOTWATCH_ENV}",
        "replica": "${PROMETHEUS_REPLICA}",
    }


def test_longterm_profile_writes_everything_but_replica():
    """The `longterm` addition remote-writes to VictoriaMetrics with `replica` dropped, and only
    with that profile."""
    assert "remote_write" not in yaml.safe_load(prometheus_config({}, REPO))
    rendered = yaml.safe_load(prometheus_config({"COMPOSE_PROFILES": "host,longterm"}, REPO))
    (remote,) = rendered["remote_write"]
    assert remote["url"] == "http://victoriametrics:8428/api/v1/write"
    assert remote["write_relabel_configs"] == [{"action": "labeldrop", "regex": "replica"}]


def test_bot_down_detection_fits_the_one_minute_page(config, jobs):
    """Worst case scrape + evaluation + BotDown `for` stays <= 50s, leaving 10s for group_wait."""
    scrape = _duration(jobs["bot"].get("scrape_interval", config["global"]["scrape_interval"]))
    evaluation = _duration(config["global"]["evaluation_interval"])
    (bot_down,) = [rule for rule in alerts() if rule.alert == "BotDown"]
    assert scrape + evaluation + _duration(bot_down.body["for"]) <= 50


def test_rule_ranges_hold_at_least_four_scrapes(config, jobs):
    """Every range selector spans >= 4 scrape intervals (Prometheus 3 ranges are left-open)."""
    slowest = max(
        _duration(job.get("scrape_interval", config["global"]["scrape_interval"]))
        for job in jobs.values()
    )
    for rule in alerts():
        for window in re.findall(r"\[(\w+)\]", rule.body["expr"]):
            assert _duration(window) >= 4 * slowest, (rule.alert, window)
