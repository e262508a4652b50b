"""README's generated figures (scripts/readme_figures.py) match the results files and compose."""

from __future__ import annotations

import readme_figures

GIB = 1024**3


def test_the_readme_block_is_up_to_date(tool):
    """README.md holds exactly what the generator makes of docs/results/memory.json and compose."""
    tool("docker-compose")  # the generator uses the one `make tools` installs
    assert readme_figures.main(["--check"]) == 0


def test_the_limits_are_summed_from_compose(tool):
    """The limits' sum is compose's own: six core services, two more with the host profile."""
    tool("docker-compose")
    core, host = readme_figures.mem_limits(), readme_figures.mem_limits("host")
    assert set(host) - set(core) == {"node-exporter", "cadvisor"}
    text = readme_figures.memory_text({}, core, host)
    assert text.startswith("**Memory.** Resident memory: not measured yet")
    assert f"add up to {sum(core.values()) / GIB:.2f} GiB" in text


def test_a_measurement_replaces_not_measured_yet():
    """With a measurement, the README quotes its sum, its duration and where it was taken."""
    results = {
        "measured_at": "2026-12-01", "machine": "4 vCPU VPS", "demo_traffic_seconds": 3600,
        "resident_bytes": {"prometheus": GIB // 4, "loki": GIB // 4},
    }  # fmt: skip
    text = readme_figures.memory_text(results, {"a": GIB}, {"a": GIB, "b": GIB})
    assert text.startswith("**Memory.** 0.50 GiB resident for the whole stack")
    assert "after 60 min of demo traffic" in text and "(4 vCPU VPS, 2026-12-01;" in text
    assert "add up to 1.00 GiB (2.00 GiB with the `host` profile)" in text


def test_disk_figure_is_measured_or_says_not_measured_yet():
    """The disk line quotes the measured volumes' sum, or says it is not measured, plus the caps."""
    defaults = {"PROMETHEUS_RETENTION_SIZE": "5GB", "LOKI_DISK_BUDGET": "10GB"}
    assert readme_figures.disk_text({}, defaults).startswith(
        "**Disk.** Data volumes after demo traffic: not measured yet. Metrics are capped at "
        "PROMETHEUS_RETENTION_SIZE=5GB and logs budgeted at LOKI_DISK_BUDGET=10GB"
    )
    measured = {"demo_traffic_seconds": 600, "volume_bytes": {"loki-data": GIB, "x": GIB}}
    assert readme_figures.disk_text(measured, defaults).startswith(
        "**Disk.** 2.00 GiB in the data volumes after 10 min of demo traffic"
    )


def test_agent_figures_come_from_the_bench_results():
    """The Scaling figures quote the agent benchmark's results file, or say it has not run."""
    assert readme_figures.agents_text({}).startswith("Agent figures: not measured yet")
    results = {
        "machine": "2 cores", "measured_at": "2026-12-01", "bots": 10, "series_per_bot": 5000,
        "agent_rss_bytes": 150 * 1024**2, "agent_cpu_share": 0.02, "outage_seconds": 120,
        "replay_seconds": 12.4, "agent_down_for_seconds": 180, "gateway_overhead_ratio": 1.04,
        "samples_per_second_gateway": 41000.0,
    }  # fmt: skip
    text = readme_figures.agents_text(results)
    assert "10 bots × 5,000 series every 10 s holds 150 MB resident" in text
    assert "2.0% of a core" in text and "2-minute central outage" in text
    assert "backlog 12 s after" in text and "AgentDown waits 3 min" in text
    assert "1.04× the samples per second" in text and "(41,000/s; target ≤ 1.2×)" in text
