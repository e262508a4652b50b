"""docs/logs.md and the log alerts' runbooks link only to files that exist."""

from __future__ import annotations

import re

import pytest

from tests.config.logs.conftest import REPO

PAGES = [
    REPO / "docs" / "logs.md",
    *sorted((REPO / "docs" / "runbooks").glob("BotLog*.md")),
]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page):
    """Every relative Markdown link on the page points at an existing file or folder."""
    targets = [t for t in _LINK.findall(page.read_text()) if "://" not in t]
    assert targets, "no links found"
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert missing == []
