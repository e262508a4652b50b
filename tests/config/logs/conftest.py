"""Fixtures for the Loki and Promtail config checks: the files as the binaries will read them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
LOKI_YML = REPO / "loki" / "loki.yml"
PROMTAIL_YML = REPO / "promtail" / "promtail.yml"
RULES_DIR = REPO / "loki" / "rules"

# The only references -config.expand-env (envsubst) should see: ${NAME} and ${NAME:-default}.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}$\\]*))?\}")
# Shipper settings only a bot host's agent sets (compose.agent.yaml): its host name and where it
# pushes; the central stack leaves them at their defaults (no host label, its own Loki).
AGENT_ONLY = {"BOTWATCH_HOST", "LOKI_PUSH_URL", "LOKI_PUSH_USER", "LOKI_PUSH_PASSWORD_FILE"}


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """What -config.expand-env=true makes of `text` (Loki and Promtail use drone/envsubst).

    Raises ValueError for anything envsubst would treat differently from the plain text: a dollar
    sign outside a ${NAME[:-default]} reference, or a backslash (envsubst unescapes it).
    """
    bare = _REFERENCE.sub("", text)
    if "$" in bare or "\\" in bare:
        line = next(i for i, row in enumerate(bare.splitlines(), 1) if "$" in row or "\\" in row)
        raise ValueError(f"line {line}: a '$' or '\\' that envsubst would rewrite")
    return _REFERENCE.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), text)


def env_references(text: str) -> set[str]:
    """The environment variables a file refers to."""
    return {m.group(1) for m in _REFERENCE.finditer(text)}


def load_expanded(path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(expand_env(path.read_text(), env or {}))


def loki_rule_groups() -> list[tuple[Path, dict[str, Any]]]:
    """(file, group) for every rule group the Loki ruler loads, files in name order."""
    return [
        (path, group)
        for path in sorted(RULES_DIR.rglob("*.y*ml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]


def loki_rules() -> list[dict[str, Any]]:
    """Every rule (alerting or recording) of the Loki rule files, in file order."""
    return [rule for _, group in loki_rule_groups() for rule in group["rules"]]


def check_with_real_binary(name: str, config: Path, flag: str) -> None:
    """Run `<name> -config.file=<config> -config.expand-env=true <flag>` if the binary is on PATH.

    There is no package of Loki or Promtail here, so this usually skips; the key trees in
    keys.py stand in. On a machine that has the binary, the real check runs as well.
    """
    binary = shutil.which(name)
    if binary is None:
        pytest.skip(f"no {name} binary on PATH (no package here); the key tree check stands in")
    result = subprocess.run(
        [binary, f"-config.file={config}", "-config.expand-env=true", flag],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def loki_config() -> dict[str, Any]:
    """loki/loki.yml as Loki reads it with every setting at its .env default."""
    return load_expanded(LOKI_YML)


@pytest.fixture(scope="session")
def promtail_config() -> dict[str, Any]:
    """promtail/promtail.yml as Promtail reads it with every setting at its default."""
    return load_expanded(PROMTAIL_YML)


@pytest.fixture(scope="session")
def pipeline(promtail_config) -> list[dict[str, Any]]:
    """The pipeline stages of the one scrape config."""
    (scrape,) = promtail_config["scrape_configs"]
    return scrape["pipeline_stages"]


@pytest.fixture(scope="session")
def stage(pipeline) -> Callable[[str], list[dict[str, Any]]]:
    """All stages of one kind, in pipeline order."""
    return lambda name: [item[name] for item in pipeline if name in item]


@pytest.fixture(scope="session")
def compose_service() -> Callable[[str], dict[str, Any]]:
    """A service definition from compose.yaml (the contract both files are written against)."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    return lambda name: compose["services"][name]
