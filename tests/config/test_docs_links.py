"""Relative links in the README and docs point at files that exist (no drift after a rename)."""

from __future__ import annotations

import re

import pytest

LINK_RE = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def documents(repo):
    return [repo / "README.md", *sorted((repo / "docs").rglob("*.md")),
            *sorted(repo.glob("*/README.md"))]  # fmt: skip


def test_relative_links_resolve(repo):
    """Every relative link in README.md, */README.md and docs/ names an existing path."""
    broken = []
    for document in documents(repo):
        for target in LINK_RE.findall(document.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue
            if not (document.parent / target).exists():
                broken.append(f"{document.relative_to(repo)} → {target}")
    assert broken == []


@pytest.mark.parametrize("section", ["Connect your own bot", "Alerts", "Versions", "Operations"])
def test_readme_has_the_sections_a_new_user_needs(repo, section):
    """The README covers wiring a bot, alerts, versions and operations."""
    assert f"## {section}" in (repo / "README.md").read_text()
