"""The volume report of `make up` and `make ps` (stackctl.volumes): sizes, budgets, free space."""

from __future__ import annotations

import pytest
from stackctl import envfile
from stackctl.volumes import Usage, docker_size, report, setting_size

GIB = 2**30
NAMES = ["alertmanager-data", "loki-data", "prometheus-data", "alloy-data"]


@pytest.fixture
def settings(repo) -> dict[str, str]:
    """.env.example's settings: LOKI_DISK_BUDGET=10GB, PROMETHEUS_RETENTION_SIZE=5GB."""
    return envfile.load(repo / ".env.example").values


class TestSizes:
    @pytest.mark.parametrize(
        ("text", "size"), [("0B", 0), ("512kB", 512_000), ("1.5GB", 1_500_000_000), ("2TB", 2e12)]
    )
    def test_docker_sizes_are_decimal(self, text, size):
        """`docker system df` sizes use decimal prefixes (go-units HumanSize)."""
        assert docker_size(text) == size

    def test_setting_sizes_are_binary_like_prometheus(self):
        """LOKI_DISK_BUDGET is read in Prometheus' units, like PROMETHEUS_RETENTION_SIZE."""
        assert setting_size("10GB") == 10 * GIB
        with pytest.raises(ValueError, match="not a size"):
            setting_size("10 gigs")


class TestReport:
    def test_each_declared_volume_and_the_free_space_are_listed(self, settings):
        """Sizes with their budgets, a volume not created yet, and the disk's free share."""
        usage = Usage({"alertmanager-data": 2**20, "loki-data": 3 * GIB,
                       "prometheus-data": 4 * GIB}, free=40 * GIB, total=100 * GIB)  # fmt: skip
        assert report(usage, NAMES, settings) == [
            "Data volumes:",
            "  alertmanager-data         1.0 MiB",
            "  loki-data                 3.0 GiB  of LOKI_DISK_BUDGET=10GB",
            "  prometheus-data           4.0 GiB  of PROMETHEUS_RETENTION_SIZE=5GB",
            "  - alloy-data           not created yet",
            "  Disk: 40.0 GiB free of 100.0 GiB (40%)",
        ]

    def test_logs_over_budget_and_a_nearly_full_disk_are_flagged(self, settings):
        """Loki over LOKI_DISK_BUDGET says what to lower; under 10% free disk is flagged too."""
        usage = Usage({"loki-data": 11 * GIB}, free=5 * GIB, total=100 * GIB)
        lines = report(usage, ["loki-data"], settings)
        over = "  ✗ loki-data                11.0 GiB  of LOKI_DISK_BUDGET=10GB"
        assert lines[1].startswith(over)
        assert "lower LOKI_RETENTION_PERIOD" in lines[1]
        assert lines[-1].startswith("  ✗ Less than 10% of the disk is free")

    def test_just_under_budget_is_not_flagged(self, settings):
        """At the budget exactly nothing is flagged (the boundary)."""
        usage = Usage({"loki-data": 10 * GIB}, free=10 * GIB, total=100 * GIB)
        assert [line for line in report(usage, ["loki-data"], settings) if "✗" in line] == []
