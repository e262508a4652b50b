"""Tests of the demo's default schedule: healthy traffic with rare, short incidents."""

from __future__ import annotations

import pytest
from botwatch.demo.bot import Conditions
from botwatch.demo.settings import DemoSettings, in_window

# The SLO (prometheus/rules/slo.rules.yml) allows 0.5 % of commands to fail.
ERROR_BUDGET = 0.005


class TestInWindow:
    @pytest.mark.parametrize(
        ("since_first", "expected"),
        [(-1, False), (0, True), (89, True), (90, False), (599, False), (600, True), (689, True)],
    )
    def test_windows_open_at_the_first_and_then_every_period(self, since_first, expected):
        """A 90s window every 600s is open from 0s and 600s on, and closed in between."""
        assert in_window(since_first, 600, 90) is expected

    def test_a_period_of_zero_means_never(self):
        """every=0 disables the windows."""
        assert not in_window(0, 0, 90)


class TestDefaults:
    def test_the_baseline_stays_well_inside_the_slo(self):
        """Outside incidents, at most a fifth of the error budget's ratio of backend calls fail."""
        assert DemoSettings().error_rate <= ERROR_BUDGET / 5
        assert Conditions().error_rate == DemoSettings().error_rate

    def test_the_first_incident_comes_within_two_minutes(self):
        """A new stack sees an incident shortly after start, then one only every few hours."""
        settings = DemoSettings()
        assert 0 < settings.first_incident <= 120
        assert settings.burst_every >= 4 * 3600
        assert settings.spike_period == settings.burst_every

    def test_incidents_are_short(self):
        """Errors last at most 5 minutes and slowness under 10, so the alerts fire and resolve."""
        settings = DemoSettings()
        assert settings.burst_length <= 300
        assert settings.burst_length < settings.spike_length < 600

    def test_silencing_bursts_silences_spikes(self, monkeypatch):
        """BOTWATCH_DEMO_BURST_EVERY=0 alone turns off every incident, slow backends included."""
        monkeypatch.setenv("BOTWATCH_DEMO_BURST_EVERY", "0")
        monkeypatch.delenv("BOTWATCH_DEMO_SPIKE_EVERY", raising=False)
        assert DemoSettings.from_env().spike_period == 0


@pytest.mark.parametrize(
    ("variable", "field", "value"),
    [
        ("BOTWATCH_DEMO_ERROR_RATE", "error_rate", 0.02),
        ("BOTWATCH_DEMO_FIRST_INCIDENT", "first_incident", 5.0),
        ("BOTWATCH_DEMO_BURST_EVERY", "burst_every", 600.0),
        ("BOTWATCH_DEMO_BURST_LENGTH", "burst_length", 90.0),
        ("BOTWATCH_DEMO_SPIKE_EVERY", "spike_period", 420.0),
        ("BOTWATCH_DEMO_SPIKE_LENGTH", "spike_length", 60.0),
        ("BOTWATCH_DEMO_RECONNECT_EVERY", "reconnect_every", 240.0),
        ("BOTWATCH_DEMO_RATE_LIMIT", "rate_limit", 0.02),
    ],
)
def test_every_knob_is_read_from_the_environment(monkeypatch, variable, field, value):
    """Each schedule default is overridden by its BOTWATCH_DEMO_* variable."""
    monkeypatch.setenv(variable, str(value))
    assert getattr(DemoSettings.from_env(), field) == value
