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


def _section(text: str, heading: str) -> str:
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_says_why_alerting_is_not_grafana_managed(repo):
    """The Alerts section says, in a few lines, why rules stay in Prometheus and Alertmanager
    rather than in Grafana, and links the longer reasoning in docs/grafana.md."""
    alerts = _section((repo / "README.md").read_text(), "Alerts")
    why = next(p for p in alerts.split("\n\n") if "Grafana-managed" in p)
    assert len(why.splitlines()) <= 4
    assert "docs/grafana.md#why-alerting-stays-in-prometheus-and-alertmanager" in why
    assert (
        "## Why alerting stays in Prometheus and Alertmanager"
        in (repo / "docs/grafana.md").read_text()
    )


def test_readme_names_the_fire_drills(repo):
    """The Alerts section tells how to make every alert fire on purpose."""
    alerts = _section((repo / "README.md").read_text(), "Alerts")
    assert "make drill" in alerts and "make drill ALERT=" in alerts
