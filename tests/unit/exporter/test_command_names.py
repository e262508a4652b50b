"""Slash command names read from the interaction payload match the tree's qualified names."""

from __future__ import annotations

import pytest
from botwatch.discord import _payload_name


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"name": "ping", "type": 1}, "ping"),
        ({"name": "ping", "type": 1, "options": [{"name": "user", "type": 6}]}, "ping"),
        ({"name": "admin", "type": 1, "options": [{"name": "ban", "type": 1}]}, "admin ban"),
        (
            {
                "name": "admin",
                "type": 1,
                "options": [
                    {
                        "name": "roles",
                        "type": 2,
                        "options": [{"name": "add", "type": 1, "options": [{"type": 8}]}],
                    }
                ],
            },
            "admin roles add",
        ),
        ({"name": "Report message", "type": 3}, "Report message"),
        (None, None),
    ],
)
def test_payload_names_join_subcommands(data, name):
    """Subcommand groups and subcommands are joined with spaces; plain options are not."""
    assert _payload_name(data) == name
