"""Tests of botwatch.config: arguments, then environment, then defaults."""

from __future__ import annotations

import pytest
from botwatch import config


class TestDefaults:
    def test_defaults_are_safe_for_production(self):
        """Without settings botwatch binds loopback port 8000, namespace bot, cap 200."""
        s = config.resolve()
        assert (s.host, s.port, s.namespace, s.label_limit) == ("127.0.0.1", 8000, "bot", 200)
        assert (s.service, s.log_level, s.sentry_dsn) == ("bot", "INFO", None)
        assert 0 < s.sentry_traces_sample_rate <= 0.1


class TestEnvironment:
    def test_environment_variables_fill_unset_arguments(self, monkeypatch):
        """Every BOTWATCH_* and SENTRY_* variable reaches the settings, typed."""
        env = {
            "BOTWATCH_SERVICE": "mybot",
            "BOTWATCH_HOST": "0.0.0.0",
            "BOTWATCH_PORT": "9100",
            "BOTWATCH_NAMESPACE": "mybot",
            "BOTWATCH_LABEL_LIMIT": "50",
            "BOTWATCH_ENV": "staging",
            "LOG_LEVEL": "debug",
            "SENTRY_DSN": "http://key@127.0.0.1:1/1",
            "SENTRY_TRACES_SAMPLE_RATE": "0.5",
        }
        for name, val in env.items():
            monkeypatch.setenv(name, val)
        s = config.resolve()
        assert (s.service, s.host, s.port, s.namespace) == ("mybot", "0.0.0.0", 9100, "mybot")
        assert (s.label_limit, s.env, s.log_level) == (50, "staging", "DEBUG")
        assert (s.sentry_dsn, s.sentry_traces_sample_rate) == ("http://key@127.0.0.1:1/1", 0.5)
        assert s.sentry_environment == "staging"

    def test_arguments_win_over_the_environment(self, monkeypatch):
        """An explicit argument overrides its environment variable."""
        monkeypatch.setenv("BOTWATCH_PORT", "9100")
        assert config.resolve(port=0).port == 0

    def test_a_secret_can_come_from_the_file_named_by_its_file_variable(
        self, monkeypatch, tmp_path
    ):
        """SENTRY_DSN_FILE (a Compose secret) is read when SENTRY_DSN itself is unset."""
        secret = tmp_path / "sentry_dsn"
        secret.write_text("http://key@127.0.0.1:1/1\n")
        monkeypatch.delenv("SENTRY_DSN", raising=False)
        monkeypatch.setenv("SENTRY_DSN_FILE", str(secret))
        assert config.resolve().sentry_dsn == "http://key@127.0.0.1:1/1"

    def test_an_empty_secret_file_means_unset(self, monkeypatch, tmp_path):
        """An empty secret file (the channel or feature not configured) leaves the setting unset."""
        secret = tmp_path / "discord_token"
        secret.write_text("")
        monkeypatch.setenv("DISCORD_TOKEN_FILE", str(secret))
        assert config.setting("DISCORD_TOKEN") is None

    def test_a_malformed_number_names_the_variable(self, monkeypatch):
        """A non-numeric BOTWATCH_PORT fails with a message naming it."""
        monkeypatch.setenv("BOTWATCH_PORT", "eighty")
        with pytest.raises(ValueError, match="BOTWATCH_PORT"):
            config.resolve()

    def test_a_zero_label_limit_is_refused(self):
        """A cap below one would collapse every value, so it is rejected."""
        with pytest.raises(ValueError, match="BOTWATCH_LABEL_LIMIT"):
            config.resolve(label_limit=0)
