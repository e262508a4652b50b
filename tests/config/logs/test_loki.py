"""Static checks of loki/loki.yml against Loki 3.7's documented keys and the stack's contracts."""

from __future__ import annotations

import re

from stackctl.profiles import render as render_profiles

from tests.config.logs.conftest import (
    LOKI_YML,
    REPO,
    RULES_DIR,
    check_with_real_binary,
    env_references,
    expand_env,
    load_expanded,
)
from tests.config.logs.keys import LOKI, unknown_keys

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(duration: str) -> int:
    match = _DURATION.match(str(duration))
    assert match, f"{duration!r} is not a single-unit duration"
    return int(match.group(1)) * _SECONDS[match.group(2)]


class TestKeys:
    def test_every_key_is_documented(self, loki_config):
        """Every key of loki.yml is documented for Loki 3.7 (no typo, no removed key)."""
        assert unknown_keys(loki_config, LOKI) == []

    def test_the_key_check_catches_a_misspelt_key(self, loki_config):
        """A misspelt key in a checked section is reported, so the check above can fail."""
        broken = {
            **loki_config,
            "compactor": {**loki_config["compactor"], "retention_enable": True},
        }
        assert unknown_keys(broken, LOKI) == ["compactor.retention_enable"]

    def test_real_loki_accepts_the_file(self):
        """When a Loki binary is on PATH, `loki -verify-config` accepts the file as well."""
        check_with_real_binary("loki", LOKI_YML, "-verify-config")


class TestEnvironment:
    def test_envsubst_leaves_the_file_intact(self):
        """No backslash or stray dollar sign that -config.expand-env would rewrite."""
        expand_env(LOKI_YML.read_text(), {})

    def test_compose_provides_every_variable(self, compose_service, tmp_path):
        """Each environment reference in loki.yml is set in the loki service's environment or in
        the env file `make up` renders for it (the Alertmanagers of the enabled profiles)."""
        loki = compose_service("loki")
        assert "-config.expand-env=true" in loki["command"]
        render_profiles({"COMPOSE_PROFILES": "ha"}, tmp_path)
        rendered = tmp_path / "loki" / "loki.env"
        assert [f["path"] for f in loki["env_file"]] == ["./.generated/loki/loki.env"]
        written = {line.split("=", 1)[0] for line in rendered.read_text().splitlines()}
        assert env_references(LOKI_YML.read_text()) <= set(loki["environment"]) | written


class TestStorage:
    def test_index_is_tsdb_v13_daily_on_the_filesystem(self, loki_config):
        """The active schema is tsdb v13 (structured metadata needs it), 24h periods, filesystem."""
        latest = loki_config["schema_config"]["configs"][-1]
        assert (latest["store"], latest["schema"], latest["object_store"]) == (
            "tsdb",
            "v13",
            "filesystem",
        )
        assert latest["index"]["period"] == "24h"

    def test_all_state_lives_on_the_data_volume(self, loki_config, compose_service):
        """Loki writes only under /loki, the named volume that outlives `make down`."""
        volumes = compose_service("loki")["volumes"]
        assert "loki-data:/loki" in volumes
        written = [
            loki_config["common"]["path_prefix"],
            loki_config["common"]["storage"]["filesystem"]["chunks_directory"],
            loki_config["compactor"]["working_directory"],
            loki_config["ruler"]["rule_path"],
        ]
        assert all(path == "/loki" or path.startswith("/loki/") for path in written), written

    def test_single_tenant_single_replica(self, loki_config):
        """One machine: no auth (tenant "fake"), one replica, an in-memory ring."""
        assert loki_config["auth_enabled"] is False
        assert loki_config["common"]["replication_factor"] == 1
        assert loki_config["common"]["ring"]["kvstore"]["store"] == "inmemory"


class TestRetention:
    def test_compactor_applies_retention(self, loki_config):
        """Retention is on and has a delete-request store (Loki refuses retention without one)."""
        compactor = loki_config["compactor"]
        assert compactor["retention_enabled"] is True
        assert compactor["delete_request_store"] == "filesystem"

    def test_default_is_fourteen_days(self, loki_config):
        """With LOKI_RETENTION_PERIOD unset the retention is 336h (14 days)."""
        assert loki_config["limits_config"]["retention_period"] == "336h"

    def test_period_comes_from_env(self):
        """LOKI_RETENTION_PERIOD from .env sets the retention period."""
        config = load_expanded(LOKI_YML, {"LOKI_RETENTION_PERIOD": "720h"})
        assert config["limits_config"]["retention_period"] == "720h"

    def test_env_example_default_is_a_whole_number_of_index_periods(self, loki_config):
        """.env.example's LOKI_RETENTION_PERIOD is a whole number of 24h index periods."""
        line = next(
            row for row in (REPO / ".env.example").read_text().splitlines()
            if row.startswith("LOKI_RETENTION_PERIOD=")
        )  # fmt: skip
        value = line.split("=", 1)[1]
        period = loki_config["schema_config"]["configs"][-1]["index"]["period"]
        assert seconds(value) % seconds(period) == 0
        assert seconds(value) >= seconds(period)

    def test_compose_runs_this_file(self, compose_service):
        """Compose starts Loki with this file from the mounted folder."""
        assert "-config.file=/etc/loki/loki.yml" in compose_service("loki")["command"]


class TestLimits:
    def test_structured_metadata_is_allowed(self, loki_config):
        """Structured metadata (correlation_id, command, ...) is accepted, or pushes would fail."""
        assert loki_config["limits_config"]["allow_structured_metadata"] is True

    def test_ingestion_is_bounded_for_a_few_bots(self, loki_config):
        """Stream and label caps stay small, so an id used as a label is rejected, not indexed."""
        limits = loki_config["limits_config"]
        assert limits["max_global_streams_per_user"] <= 5000
        assert limits["max_label_names_per_series"] <= 15
        assert 1 <= limits["ingestion_rate_mb"] <= limits["ingestion_burst_size_mb"] <= 32

    def test_no_usage_reporting(self, loki_config):
        """Loki does not phone home."""
        assert loki_config["analytics"]["reporting_enabled"] is False


class TestRuler:
    def test_alerts_go_to_alertmanager(self, loki_config):
        """The ruler sends to the compose Alertmanager over its v2 API."""
        ruler = loki_config["ruler"]
        assert ruler["alertmanager_url"] == "http://alertmanager:9093"
        assert ruler["enable_alertmanager_v2"] is True

    def test_rules_are_read_from_the_mounted_folder(self, loki_config, compose_service):
        """The ruler reads local rules from /etc/loki/rules: ./loki/rules through the mount."""
        storage = loki_config["ruler"]["storage"]
        assert storage["type"] == "local"
        assert "./loki:/etc/loki:ro" in compose_service("loki")["volumes"]
        assert (
            storage["local"]["directory"]
            == "/etc/loki/" + RULES_DIR.relative_to(REPO / "loki").as_posix()
        )

    def test_rule_files_sit_in_the_single_tenant_folder(self):
        """With auth disabled Loki's tenant is "fake", so every rule file is in loki/rules/fake/."""
        files = sorted(p for p in RULES_DIR.rglob("*") if p.is_file())
        assert files, "no rule files"
        assert all(p.parent == RULES_DIR / "fake" for p in files), files
        assert all(p.suffix in (".yml", ".yaml") for p in files), files
