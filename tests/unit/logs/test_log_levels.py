"""tests/support/log_levels.py: the level field of each service's log format."""

from __future__ import annotations

import pytest

from tests.support.log_levels import level_of


class TestLevelParsing:
    @pytest.mark.parametrize(
        ("line", "level"),
        [('time=2026-12-01T10:00:00Z level=ERROR source=main.go msg="boom"', "error"),
         ('logger=provisioning t=2026-12-01T10:00:00Z level=error msg="x"', "error"),
         ('{"level":"critical","logger":"botwatch","message":"m"}', "critical"),
         ('{"level":"error","logger":"demo.traffic","message":"simulated"}', None),
         ("ts=2026-12-01T10:00:00Z caller=x level=info msg=ok", "info")],
    )  # fmt: skip
    def test_each_services_level_field_is_read(self, line, level):
        """logfmt (any case) and JSON levels are read; the demo's simulated failures are not."""
        assert level_of(line) == level
