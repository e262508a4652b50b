"""Tests of botwatch.metrics against the contract in docs/metrics.md."""

from __future__ import annotations

import re
import subprocess

from botwatch.metrics import Metrics, command_cells, record
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families


def _documented(repo) -> dict[str, str]:
    """name -> type from the table in docs/metrics.md."""
    text = (repo / "docs" / "metrics.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (\w+)", text, flags=re.MULTILINE)
    return {name: kind for name, kind in rows}


def _exposed(registry: CollectorRegistry, prefix: str) -> dict[str, str]:
    """name -> type from the `# TYPE` lines of the exposition, without `_created` families."""
    text = generate_latest(registry).decode()
    found = re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE)
    return {n: t for n, t in found if n.startswith(prefix) and not n.endswith("_created")}


def _exposed_series(registry: CollectorRegistry) -> int:
    """Samples of the library's own metrics (bot_*) in the parsed text exposition."""
    text = generate_latest(registry).decode()
    return sum(
        len(family.samples)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("bot_")
    )


def _fresh() -> CollectorRegistry:
    registry = CollectorRegistry()
    Metrics(registry=registry)
    return registry


class TestContract:
    def test_exposed_names_and_types_match_the_documentation(self, repo, registry):
        """Exactly the metrics of docs/metrics.md are exported, each with its documented type."""
        Metrics(registry=registry)
        documented = _documented(repo)
        assert documented, "docs/metrics.md lists no metric"
        assert _exposed(registry, "bot_") == documented

    def test_the_namespace_prefixes_every_name(self, registry):
        """With namespace `mybot` every library metric starts with `mybot_`."""
        Metrics(registry=registry, namespace="mybot")
        exposed = _exposed(registry, "")
        ours = {n for n in exposed if not n.startswith(("process_", "python_"))}
        assert ours and all(n.startswith("mybot_") for n in ours)

    def test_an_injected_registry_gets_process_and_gc_collectors(self, registry):
        """A fresh registry also exposes process_* and python_gc_* like the global one."""
        Metrics(registry=registry)
        exposed = _exposed(registry, "")
        assert "process_start_time_seconds" in exposed
        assert any(n.startswith("python_gc_") for n in exposed)


class TestExposition:
    def test_promtool_finds_nothing_to_report(self, registry, tool):
        """`promtool check metrics` prints nothing for an exposition with every kind of series."""
        m = Metrics(registry=registry)
        m.bind_command("ping")
        m.commands.labels("ping", "success").inc()
        m.command_duration.labels("ping").observe(0.02)
        m.requests.labels("POST", "/channels/{channel_id}/messages", "429").inc()
        m.rate_limits.labels("POST", "/channels/{channel_id}/messages", "user").inc()
        m.gateway_latency.labels("0").set(0.05)
        m.set_build_info(version="1.0", revision="abc", discord_py="2.7.1")
        result = subprocess.run(
            [tool("promtool"), "check", "metrics"],
            input=generate_latest(registry),
            capture_output=True,
            check=False,
        )
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


class TestSelfMetrics:
    def test_known_commands_are_bound_at_zero(self, registry):
        """bind_command creates the three status series at 0, so rate() starts from zero."""
        Metrics(registry=registry).bind_command("ping")
        for status in ("success", "user_error", "error"):
            assert (
                registry.get_sample_value(
                    "bot_commands_total", {"command": "ping", "status": status}
                )
                == 0
            )

    def test_series_counts_each_new_label_set(self, registry, value):
        """Binding one command adds its three counters and one histogram's samples to the count."""
        m = Metrics(registry=registry)
        before = value("bot_exporter_series")
        m.bind_command("ping")
        assert value("bot_exporter_series") - before == _exposed_series(registry) - _exposed_series(
            _fresh()
        )

    def test_series_is_what_the_exposition_holds(self, registry, value):
        """bot_exporter_series equals the number of bot_ series in the parsed exposition: plain
        histograms with all their buckets, every child, the overflow series, _created samples."""
        m = Metrics(registry=registry, label_limit=2)
        m.bind_command("ping")
        for name in ("a", "b", "c", "d"):  # past the cap: "other" and an overflow series
            m.operations.labels(name, "success").inc()
        m.loop_lag.observe(0.01)
        assert value("bot_exporter_series") == _exposed_series(registry)

    def test_the_label_limit_is_exported(self, registry, value):
        """bot_exporter_label_limit shows the configured cap."""
        Metrics(registry=registry, label_limit=7)
        assert value("bot_exporter_label_limit") == 7

    def test_a_failing_gauge_function_keeps_the_last_value(self, registry, value):
        """A callback gauge whose function raises reports the error and keeps its last value."""
        m = Metrics(registry=registry)
        answers = iter([3.0])
        seen: list[Exception] = []
        m.set_safe_function(m.guilds, lambda: next(answers), seen.append)
        assert value("bot_guilds") == 3
        assert value("bot_guilds") == 3
        assert len(seen) == 1


class TestCommandCells:
    def test_recording_through_the_cells_equals_inc_and_observe(self, registry):
        """record() on a command's cells exposes exactly what counter.inc + observe would."""
        durations = [0, 0.004, 0.01, 0.0100001, 0.025, 0.7, 2.5, 30.0, 31.0, 1e9]
        twin = CollectorRegistry()
        ours = Metrics(registry=registry, default_collectors=False)
        public = Metrics(registry=twin, default_collectors=False)
        cells = command_cells(
            ours.commands.labels("ping", "success"), ours.command_duration.labels("ping")
        )
        for duration in durations:
            record(cells, duration)
            public.commands.labels("ping", "success").inc()
            public.command_duration.labels("ping").observe(duration)

        def samples(reg: CollectorRegistry) -> list:
            return [
                (s.name, s.labels, s.value)
                for m in reg.collect()
                if m.name.startswith("bot_command")
                for s in m.samples
                if not s.name.endswith("_created")
            ]

        assert samples(registry) == samples(twin)
        assert (
            registry.get_sample_value(
                "bot_command_duration_seconds_bucket", {"command": "ping", "le": "0.01"}
            )
            == 3
        )
