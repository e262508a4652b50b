"""Static checks of promtail/promtail.yml: documented keys, discovery, labels, and the pipeline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import traceback
from pathlib import Path

import pytest

from tests.config.logs.conftest import (
    AGENT_ONLY,
    PROMTAIL_YML,
    check_with_real_binary,
    env_references,
    expand_env,
    load_expanded,
)
from tests.config.logs.keys import PROMTAIL, stage_errors, unknown_keys
from tests.config.logs.relabel import discovered, relabel

# The labels every stream may carry (DESIGN §5 plus the bot selector `job`, and `host` from a bot
# host's shipper, DESIGN §8b): nothing per id.
STREAM_LABELS = {"container", "service", "env", "job", "level", "host"}
STRUCTURED_METADATA = {"correlation_id", "command", "exc_type", "trace_id"}


def container_labels(project: str | None = "botwatch", service: str | None = None,
                     **labels: str) -> dict[str, str]:  # fmt: skip
    """A container's Docker labels (compose's when `project` is set; `a_b=` stands for `a.b=`)."""
    found = {key.replace("_", "."): value for key, value in labels.items()}
    if project is not None:
        found["com.docker.compose.project"] = project
        found["com.docker.compose.service"] = service or "app"
    return found


def docker_target(name: str, project: str | None = "botwatch", service: str | None = None,
                  **labels: str) -> dict[str, str]:  # fmt: skip
    """The meta labels docker_sd gives a container (compose labels when `project` is set)."""
    meta = {"__meta_docker_container_name": f"/{name}"}
    for key, value in container_labels(project, service or name, **labels).items():
        meta["__meta_docker_container_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return meta


@pytest.fixture(scope="module")
def relabel_configs(promtail_config):
    (scrape,) = promtail_config["scrape_configs"]
    return scrape["relabel_configs"]


class TestKeys:
    def test_every_key_is_documented(self, promtail_config, pipeline):
        """Every key and stage in promtail.yml exists in Promtail 3.6's configuration reference."""
        assert unknown_keys(promtail_config, PROMTAIL) == []
        assert stage_errors(pipeline, "pipeline_stages") == []

    def test_the_key_check_catches_a_misspelt_stage_option(self, promtail_config):
        """A misspelt stage option is reported, so the check above can fail."""
        broken = load_expanded(PROMTAIL_YML)
        stages = broken["scrape_configs"][0]["pipeline_stages"]
        stages.append({"timestamp": {"fromat": "RFC3339"}})
        where = f"scrape_configs[0].pipeline_stages[{len(stages) - 1}].timestamp.fromat"
        assert unknown_keys(broken, PROMTAIL) == [where]

    def test_real_promtail_accepts_the_file(self):
        """When a Promtail binary is on PATH, `promtail -check-syntax` accepts the file as well."""
        check_with_real_binary("promtail", PROMTAIL_YML, "-check-syntax")


class TestEnvironment:
    def test_envsubst_leaves_the_file_intact(self):
        """No backslash or stray dollar sign that -config.expand-env would rewrite."""
        expand_env(PROMTAIL_YML.read_text(), {})

    def test_the_envsubst_check_catches_a_backslash(self):
        """A regex with a backslash is reported: envsubst would unescape it into another regex."""
        with pytest.raises(ValueError, match="line 1"):
            expand_env('firstline: "^\\d"', {})

    def test_compose_provides_every_variable(self, compose_service):
        """Each environment reference in promtail.yml is set in the promtail service, except the
        bot-host ones the central stack leaves at their defaults."""
        promtail = compose_service("promtail")
        assert "-config.expand-env=true" in promtail["command"]
        used = env_references(PROMTAIL_YML.read_text()) - AGENT_ONLY
        assert used <= set(promtail["environment"])

    def test_compose_project_variable_tracks_the_project_name(self, compose_service):
        """BOTWATCH_COMPOSE_PROJECT is compose's project name, so a second stack is not mixed in."""
        value = compose_service("promtail")["environment"]["BOTWATCH_COMPOSE_PROJECT"]
        assert value.startswith("${COMPOSE_PROJECT_NAME")


class TestDiscovery:
    def test_reads_the_read_only_docker_socket(self, promtail_config, compose_service):
        """Containers are discovered through the Docker socket, mounted read-only."""
        (scrape,) = promtail_config["scrape_configs"]
        hosts = {sd["host"] for sd in scrape["docker_sd_configs"]}
        assert hosts == {"unix:///var/run/docker.sock"}
        assert (
            "/var/run/docker.sock:/var/run/docker.sock:ro" in compose_service("promtail")["volumes"]
        )

    @pytest.mark.parametrize(
        ("labels", "read"),
        [
            (container_labels(service="loki"), True),
            (container_labels(service="bot", botwatch_logs="true"), True),
            (container_labels(project="other", service="db"), False),
            (container_labels(project=None, botwatch_logs="true"), True),
            (container_labels(project="mine", service="bot", botwatch_logs="true"), True),
            (container_labels(project=None), False),
            (container_labels(project=None, botwatch_logs="false"), False),
            (container_labels(project="botwatch-extra", service="db"), False),
        ],
        ids=["stack", "demo bot", "other project", "own bot", "own bot in its project",
             "unlabelled", "botwatch.logs=false", "similar project name"],
    )  # fmt: skip
    def test_discovers_this_project_and_marked_containers(self, promtail_config, labels, read):
        """Docker lists only this compose project's containers and those labelled
        botwatch.logs=true: discovery, not relabelling, is what keeps other containers out."""
        (scrape,) = promtail_config["scrape_configs"]
        assert discovered(labels, scrape["docker_sd_configs"]) is read

    def test_discovery_follows_the_compose_project(self):
        """A stack started under another project name reads its own project, not "botwatch"."""
        config = load_expanded(PROMTAIL_YML, {"BOTWATCH_COMPOSE_PROJECT": "stacktest"})
        sd_configs = config["scrape_configs"][0]["docker_sd_configs"]
        assert discovered(container_labels(project="stacktest"), sd_configs)
        assert not discovered(container_labels(project="botwatch"), sd_configs)

    def test_a_container_matching_both_entries_is_read_once(self, promtail_config):
        """Both discovery entries use one Docker host and port, so Promtail runs them as one
        target group that keeps one tail per container id (no duplicate lines for the bot)."""
        (scrape,) = promtail_config["scrape_configs"]
        endpoints = {(sd["host"], sd.get("port", 80)) for sd in scrape["docker_sd_configs"]}
        assert len(scrape["docker_sd_configs"]) == 2 and len(endpoints) == 1

    def test_relabelling_selects_nothing(self, relabel_configs):
        """No keep/drop rule: Promtail's docker targets ignore their result (loki#8620), so one
        would only pretend to filter."""
        assert {rule.get("action", "replace") for rule in relabel_configs} == {"replace"}

    @pytest.mark.parametrize(
        ("target", "job", "service"),
        [
            (docker_target("botwatch-bot-1", service="bot"), "bot", "bot"),
            (docker_target("botwatch-loki-1", service="loki"), "stack", "loki"),
        ],
        ids=["demo bot", "stack component"],
    )
    def test_compose_service_labels(self, relabel_configs, target, job, service):
        """The demo bot is job="bot", a stack container job="stack"; service is the compose one."""
        container = target["__meta_docker_container_name"].lstrip("/")
        assert relabel(target, relabel_configs) == {
            "job": job, "service": service, "env": "production", "container": container,
        }  # fmt: skip

    def test_own_bot_labels_come_from_container_labels(self, relabel_configs):
        """A user's bot is job="bot"; botwatch.service and botwatch.env set its service and env."""
        target = docker_target("shop", project=None, botwatch_logs="true",
                               botwatch_service="shopbot", botwatch_env="staging")  # fmt: skip
        labels = relabel(target, relabel_configs)
        assert labels == {"job": "bot", "service": "shopbot", "env": "staging", "container": "shop"}

    def test_own_bot_without_labels_is_named_after_its_container(self, relabel_configs):
        """Without botwatch.service a marked container's service is its container name."""
        target = docker_target("shop", project=None, botwatch_logs="true")
        assert relabel(target, relabel_configs)["service"] == "shop"

    def test_env_follows_botwatch_env(self, promtail_config):
        """BOTWATCH_ENV from .env is the default env label."""
        config = load_expanded(PROMTAIL_YML, {"BOTWATCH_ENV": "staging"})
        labels = relabel(docker_target("botwatch-bot-1", service="bot"),
                         config["scrape_configs"][0]["relabel_configs"])  # fmt: skip
        assert labels["env"] == "staging"

    def test_relabelling_sets_only_stream_labels(self, relabel_configs):
        """Relabelling produces no label outside the small documented set."""
        targets = {rule["target_label"] for rule in relabel_configs if "target_label" in rule}
        assert targets <= STREAM_LABELS


class TestPipeline:
    def test_only_low_cardinality_labels(self, stage):
        """The pipeline turns exactly level, service and env into labels."""
        (labels,) = stage("labels")
        assert set(labels) == {"level", "service", "env"}
        assert set(labels) <= STREAM_LABELS

    def test_ids_become_structured_metadata(self, stage):
        """correlation_id, command, exc_type and trace_id go as structured metadata, not labels."""
        (metadata,) = stage("structured_metadata")
        assert set(metadata) == STRUCTURED_METADATA
        assert not set(metadata) & STREAM_LABELS

    def test_json_keys_keep_their_names(self, stage):
        """Each JSON key is extracted under its own name (what labels and metadata refer to)."""
        (json_stage,) = stage("json")
        assert all(name == path for name, path in json_stage["expressions"].items())
        (labels,) = stage("labels")
        (metadata,) = stage("structured_metadata")
        assert set(labels) | set(metadata) <= set(json_stage["expressions"])

    def test_timestamp_is_the_lines_own(self, stage):
        """The entry time is the JSON timestamp (RFC 3339); lines without one keep Docker's time."""
        (timestamp,) = stage("timestamp")
        assert timestamp == {
            "source": "timestamp",
            "format": "RFC3339Nano",
            "action_on_failure": "skip",
        }

    def test_non_json_lines_are_kept(self, stage):
        """A line that is not JSON passes on unchanged: no drop_malformed, no output rewrite."""
        (json_stage,) = stage("json")
        assert not json_stage.get("drop_malformed", False)
        assert stage("output") == []

    def test_no_docker_log_file_decoding(self, stage):
        """No docker/cri stage: docker_sd reads through the Docker API, which gives the raw line
        (those stages decode json-file records and would fudge the time of every other line)."""
        assert stage("docker") == [] and stage("cri") == []

    def test_multiline_runs_first(self, pipeline):
        """Lines are joined before anything parses them."""
        assert next(iter(pipeline[0])) == "multiline"

    def test_positions_are_on_the_volume(self, promtail_config, compose_service):
        """Positions are kept on the promtail-positions volume: a restart resumes, not re-reads."""
        assert promtail_config["positions"]["filename"].startswith("/promtail/")
        assert "promtail-positions:/promtail" in compose_service("promtail")["volumes"]

    def test_ships_to_compose_loki(self, promtail_config):
        """Logs are pushed to the compose loki service."""
        assert promtail_config["clients"][0]["url"] == "http://loki:3100/loki/api/v1/push"


def _traceback_lines(chained: bool) -> list[str]:
    """A real Python traceback (optionally chained), as a crashing bot prints it to stderr."""
    try:
        try:
            {}["missing"]
        except KeyError as exc:
            if chained:
                raise RuntimeError("while handling a command") from exc
            raise
    except (KeyError, RuntimeError):
        return traceback.format_exc().rstrip("\n").splitlines()
    raise AssertionError("unreachable")


def _entries(lines: list[str], firstline: re.Pattern[str]) -> list[list[str]]:
    """How the multiline stage groups lines: a line matching `firstline` starts a new entry."""
    entries: list[list[str]] = []
    for line in lines:
        if firstline.match(line) or not entries:
            entries.append([])
        entries[-1].append(line)
    return entries


@pytest.fixture(scope="module")
def firstline(stage):
    (multiline,) = stage("multiline")
    return re.compile(multiline["firstline"])


class TestMultiline:
    def test_a_traceback_stays_one_entry(self, firstline):
        """A traceback after a JSON line is one entry of its own, frames and error included."""
        json_line = '{"timestamp": "2026-11-25T20:30:00.123Z", "level": "critical", "message": "x"}'
        lines = _traceback_lines(chained=False)
        entries = _entries([json_line, *lines], firstline)
        assert entries == [[json_line], lines]

    def test_a_chained_traceback_is_one_entry_per_exception(self, firstline):
        """Python prints a "Traceback" per exception of a chain: each becomes a complete entry."""
        entries = _entries(_traceback_lines(chained=True), firstline)
        assert [entry[0] for entry in entries] == ["Traceback (most recent call last):"] * 2
        assert [line for line in entries[0] if line][-1].startswith("The above exception was")
        assert entries[1][-1] == "RuntimeError: while handling a command"

    @pytest.mark.parametrize(
        "line",
        [
            '{"timestamp": "2026-11-25T20:30:00.123Z", "level": "info", "message": "ready"}',
            "level=info ts=2026-11-25T20:30:00.1Z caller=loki.go:1 msg=started",
            "time=2026-11-25T20:30:00.000Z level=INFO source=main.go:1 msg=Starting",
            "logger=settings t=2026-11-25T20:30:00.1+00:00 level=info msg=Config",
            "2026-11-25 20:30:00 INFO     discord.client logging in using static token",
            "WARNING:root:disk almost full",
            "I1125 20:30:00.000000       1 manager.go:1] Starting",
            "[2026-11-25 20:30:00] started",
        ],
    )
    def test_every_record_format_of_the_stack_starts_an_entry(self, firstline, line):
        """Log lines of the bot and of each stack component each start their own entry."""
        assert firstline.match(line)


@pytest.fixture(scope="module")
def detect(stage):
    (regex,) = stage("regex")
    pattern = re.compile(regex["expression"])
    return lambda line: (m := pattern.search(line)) and m.group("detected_level")


class TestLevelDetection:
    @pytest.mark.parametrize(
        ("line", "word"),
        [
            ("level=info ts=2026-11-25T20:30:00Z caller=x.go:1 msg=ok", "info"),
            ("time=2026-11-25T20:30:00Z level=WARN source=x.go:1 msg=slow", "WARN"),
            ("logger=sqlstore t=2026-11-25T20:30:00Z level=error msg=failed", "error"),
            ("WARNING:root:disk almost full", "WARNING"),
            ("2026-11-25 20:30:00 CRITICAL bot: gateway lost", "CRITICAL"),
        ],
    )
    def test_level_is_found_in_plain_lines(self, detect, line, word):
        """The level word of a non-JSON line is picked up (the templates then lower-case it)."""
        assert detect(line) == word

    def test_words_inside_other_words_are_not_levels(self, detect):
        """ "information" or "errors_total" do not count as a level."""
        assert detect("see information about errors_total here") is None


class TestDropDebug:
    def _drop(self, env):
        config = load_expanded(PROMTAIL_YML, env)
        stages = config["scrape_configs"][0]["pipeline_stages"]
        flag = next(
            s["template"]["template"]
            for s in stages
            if s.get("template", {}).get("source") == "drop_debug"
        )
        drop = next(s["drop"] for s in stages if "drop" in s)
        assert drop["source"] == ["level", "drop_debug"]
        return lambda level: re.search(drop["expression"], drop["separator"].join([level, flag]))

    @pytest.mark.parametrize("setting", ["true", "True", "TRUE"])
    def test_debug_lines_are_dropped_when_asked(self, setting):
        """LOG_DROP_DEBUG=true (in any case, as the preflight allows) drops debug lines only."""
        drops = self._drop({"LOG_DROP_DEBUG": setting})
        assert drops("debug")
        assert not any(drops(level) for level in ("info", "warning", "error", "critical"))

    @pytest.mark.parametrize("env", [{}, {"LOG_DROP_DEBUG": "false"}, {"LOG_DROP_DEBUG": "False"}])
    def test_debug_lines_are_kept_by_default(self, env):
        """With LOG_DROP_DEBUG unset or false nothing is dropped."""
        assert not self._drop(env)("debug")

    def test_the_drop_runs_after_level_is_final(self, pipeline):
        """The drop sees the normalised level: it comes after the level templates."""
        names = [next(iter(item)) for item in pipeline]
        assert names.index("drop") > max(i for i, n in enumerate(names) if n == "template")


GO_TEMPLATE_RUNNER = Path(__file__).parent / "gotemplate" / "main.go"


def run_templates(
    stages: list[dict[str, str]], cases: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The extracted maps after promtail's template stages, run by Go's own text/template."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain on PATH: the template stages need Go's text/template")
    result = subprocess.run(
        [go, "run", GO_TEMPLATE_RUNNER.name],
        input=json.dumps({"stages": stages, "cases": cases}),
        cwd=GO_TEMPLATE_RUNNER.parent, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class TestLevelNormalisation:
    @pytest.mark.parametrize(
        ("extracted", "level"),
        [
            ({"level": "info", "detected_level": "error"}, "info"),
            ({"level": "critical"}, "critical"),
            ({"detected_level": "WARN"}, "warning"),
            ({"detected_level": "Warning"}, "warning"),
            ({"detected_level": "ERR"}, "error"),
            ({"detected_level": "fatal"}, "critical"),
            ({"detected_level": "crit"}, "critical"),
            ({"level": "notice"}, "unknown"),
            ({}, "unknown"),
        ],
    )
    def test_every_source_ends_in_one_vocabulary(self, stage, extracted, level):
        """JSON levels win; plain-text levels are mapped to debug/info/warning/error/critical."""
        templates = [s for s in stage("template") if s["source"] == "level"]
        (result,) = run_templates(templates, [dict(extracted)])
        assert result["level"] == level

    def test_the_drop_flag_template_yields_the_setting(self):
        """The drop_debug template renders LOG_DROP_DEBUG as the drop stage compares it."""
        config = load_expanded(PROMTAIL_YML, {"LOG_DROP_DEBUG": "true"})
        stages = config["scrape_configs"][0]["pipeline_stages"]
        templates = [
            s["template"] for s in stages if s.get("template", {}).get("source") == "drop_debug"
        ]
        (result,) = run_templates(templates, [{"level": "debug"}])
        assert result["drop_debug"] == "true"
