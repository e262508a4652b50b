"""promtail/alloy/config.alloy stays the same pipeline as promtail/promtail.yml.

Alloy has no package here, so its file is compared with promtail.yml piece by piece (the regular
expressions and templates verbatim, the label and field names as sets); with an `alloy` binary on
PATH, `alloy fmt` also checks its syntax.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.config.logs.conftest import AGENT_ONLY, PROMTAIL_YML, REPO

ALLOY = REPO / "promtail" / "alloy" / "config.alloy"


def _blocks(text: str, header: str) -> list[str]:
    """The bodies of every `header { ... }` block, in order (braces balanced)."""
    bodies = []
    for match in re.finditer(re.escape(header) + r" \{", text):
        depth, i = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        bodies.append(text[match.end() : i - 1])
    return bodies


def _block(text: str, header: str) -> str:
    (body,) = _blocks(text, header)
    return body


def _keys(body: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(\w+)\s*=\s*\"([^\"]*)\"", body, re.MULTILINE))


@pytest.fixture(scope="module")
def alloy() -> str:
    return ALLOY.read_text()


def test_regexes_and_templates_are_the_same(alloy, stage):
    """The multiline, level-detection and level templates are character for character the same."""
    (multiline,) = stage("multiline")
    (regex,) = stage("regex")
    level_templates = [s["template"] for s in stage("template") if s["source"] == "level"]
    for text in [multiline["firstline"], regex["expression"], *level_templates]:
        assert f"`{text}`" in alloy, text


def test_json_fields_are_the_same(alloy, stage):
    """Alloy's json stage reads the same keys under the same names."""
    (json_stage,) = stage("json")
    assert _keys(_block(alloy, "stage.json")) == json_stage["expressions"]


def test_labels_and_metadata_are_the_same(alloy, stage):
    """The same fields become labels and structured metadata."""
    (labels,) = stage("labels")
    (metadata,) = stage("structured_metadata")
    assert set(_keys(_block(alloy, "stage.labels"))) == set(labels)
    assert set(_keys(_block(alloy, "stage.structured_metadata"))) == set(metadata)


def test_timestamp_and_drop_are_the_same(alloy, stage):
    """The line's own time is used the same way, and debug lines are dropped on the same setting."""
    (timestamp,) = stage("timestamp")
    assert _keys(_block(alloy, "stage.timestamp")) == timestamp
    (drop,) = stage("drop")
    alloy_drop = _keys(_block(alloy, "stage.drop"))
    assert alloy_drop["source"].split(",") == drop["source"]
    assert {k: v for k, v in alloy_drop.items() if k != "source"} == {
        k: v for k, v in drop.items() if k != "source"
    }
    (flag,) = [t for t in _blocks(alloy, "stage.template") if '"drop_debug"' in t]
    assert 'sys.env("LOG_DROP_DEBUG")' in flag


def _alloy_filters(body: str) -> list[tuple[str, list[str]]]:
    """A discovery.docker block's filters, with sys.env settings written as promtail's ${X:-d}."""
    found = []
    for block in _blocks(body, "filter"):
        text = re.sub(r'" \+ coalesce\(sys\.env\("(\w+)"\), "([^"]*)"\)', r'${\1:-\2}"', block)
        name = re.search(r'name\s*=\s*"([^"]*)"', text).group(1)
        values = re.findall(r'"([^"]*)"', re.search(r"values\s*=\s*\[(.*)\]", text).group(1))
        found.append((name, values))
    return found


def test_discovery_filters_are_the_same(alloy):
    """Alloy lists the same containers through the same Docker filters, one discovery per
    promtail docker_sd_configs entry, and reads only those (no unfiltered discovery)."""
    (scrape,) = yaml.safe_load(PROMTAIL_YML.read_text())["scrape_configs"]
    promtail = [
        [(f["name"], f["values"]) for f in sd["filters"]] for sd in scrape["docker_sd_configs"]
    ]
    names = re.findall(r'^discovery\.docker "(\w+)"', alloy, re.MULTILINE)
    assert [_alloy_filters(_block(alloy, f'discovery.docker "{n}"')) for n in names] == promtail
    targets = "array.concat(" + ", ".join(f"discovery.docker.{n}.targets" for n in names) + ")"
    assert re.findall(r"targets\s*=\s*(.*)", alloy) == [targets, targets]


def test_relabel_rules_are_the_same(alloy, promtail_config):
    """Relabelling sets the same labels, in the same order."""
    (scrape,) = promtail_config["scrape_configs"]
    body = _block(alloy, 'discovery.relabel "containers"')
    rules = _blocks(body, "rule")
    assert len(rules) == len(scrape["relabel_configs"])
    for alloy_rule, rule in zip(rules, scrape["relabel_configs"], strict=True):
        for name in rule.get("source_labels", []):
            assert f'"{name}"' in alloy_rule
        for key in ("target_label", "action", "separator"):
            if key in rule:
                assert f'{key} = "{rule[key]}"' in re.sub(r"\s+=\s+", " = ", alloy_rule)


def test_ships_to_the_same_loki(alloy, promtail_config):
    """Alloy pushes to the same Loki endpoint, or where LOKI_PUSH_URL says with the same
    credentials settings (a bot host's agent, through the ingest gateway)."""
    (client,) = promtail_config["clients"]
    body = _block(alloy, 'loki.write "loki"')
    assert f'url = coalesce(sys.env("LOKI_PUSH_URL"), "{client["url"]}")' in body
    auth = _block(body, "basic_auth")
    assert re.search(r'username\s+=\s+coalesce\(sys\.env\("LOKI_PUSH_USER"\), ""\)', auth)
    assert (
        f'coalesce(sys.env("LOKI_PUSH_PASSWORD_FILE"), "{client["basic_auth"]["password_file"]}")'
        in auth
    )


def test_alloy_formats_the_file():
    """When an Alloy binary is on PATH, `alloy fmt` parses the file."""
    binary = shutil.which("alloy")
    if binary is None:
        pytest.skip("no alloy binary on PATH (no package here); the comparison above stands in")
    result = subprocess.run(
        [binary, "fmt", str(ALLOY)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_compose_provides_every_variable(alloy, compose_service, repo):
    """Each sys.env() setting of config.alloy is set in the alloy service of compose.yaml, and
    of compose.agent.yaml together with the agent-only ones."""
    service = compose_service("alloy")
    agent = yaml.safe_load((repo / "compose.agent.yaml").read_text())["services"]["alloy"]
    used = set(re.findall(r'sys\.env\("(\w+)"\)', alloy))
    assert used - AGENT_ONLY <= set(service["environment"])
    assert used <= set(agent["environment"])
    for definition in (service, agent):
        assert "./promtail/alloy:/etc/alloy:ro" in definition["volumes"]
