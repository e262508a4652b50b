"""The botwatch library's real JSON lines against what the promtail pipeline reads (DESIGN §5).

The lines come from the library itself (tests/config/logs/emit_sample_logs.py, run in its own
process), so renaming a key on either side, in the library or in promtail.yml, fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

# DESIGN §5, plus `env`, which the library adds when BOTWATCH_ENV is set (§5: "env" label).
CONTRACT_KEYS = {
    "timestamp", "level", "logger", "message", "service", "env", "correlation_id", "command",
    "exc_type", "exc_info", "sentry_event_id", "trace_id",
}  # fmt: skip
# Free-form fields a bot adds with extra=: kept in the line, not part of the contract.
EXTRA = {"guild_count"}
LEVELS = {"debug", "info", "warning", "error", "critical"}
# Go's RFC3339Nano layout accepts this; DESIGN §5 fixes UTC and milliseconds.
RFC3339_MS_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture(scope="module")
def lines(free_port) -> list[str]:
    script = Path(__file__).with_name("emit_sample_logs.py")
    dsn = f"http://public@127.0.0.1:{free_port()}/1"
    result = subprocess.run(
        [sys.executable, str(script), dsn, *EXTRA],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.fixture(scope="module")
def records(lines) -> list[dict]:
    return [json.loads(line) for line in lines]


def test_one_json_object_per_line(lines, records):
    """Each record is one line holding one JSON object, the traceback included."""
    assert len(lines) == 5
    assert all(isinstance(record, dict) for record in records)
    assert any("\n" in record.get("exc_info", "") for record in records)


def test_library_keys_are_the_contract(records):
    """Over a plain line, a command, an exception and Sentry, the keys are exactly the contract."""
    seen = set().union(*records) - set(EXTRA)
    assert seen == CONTRACT_KEYS


def test_pipeline_reads_exactly_the_library_keys(records, stage):
    """promtail's json stage extracts exactly the keys the library writes (no more, no fewer)."""
    (json_stage,) = stage("json")
    assert set(json_stage["expressions"].values()) == set().union(*records) - set(EXTRA)


def test_labels_and_metadata_come_from_library_keys(records, stage):
    """Every label and structured-metadata field the pipeline sets is a key the library writes."""
    keys = set().union(*records)
    (labels,) = stage("labels")
    (metadata,) = stage("structured_metadata")
    assert set(labels) <= keys
    assert set(metadata) <= keys


def test_command_lines_carry_the_ids(records):
    """Inside a command, lines carry correlation_id, command and trace_id (structured metadata)."""
    in_command = [r for r in records if r.get("command") == "ping"]
    assert len(in_command) == 2
    assert len({r["correlation_id"] for r in in_command}) == 1
    assert all(r.get("trace_id") for r in in_command)


def test_timestamps_parse_as_the_pipeline_expects(records, stage):
    """Timestamps are RFC 3339 UTC with milliseconds, what the timestamp stage parses."""
    (timestamp,) = stage("timestamp")
    assert timestamp["format"] == "RFC3339Nano"
    for record in records:
        assert RFC3339_MS_UTC.fullmatch(record["timestamp"]), record["timestamp"]
        parsed = datetime.fromisoformat(record["timestamp"])
        assert parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None)


def test_levels_are_already_the_label_vocabulary(records):
    """Library levels are the lower-case words the `level` label uses, unchanged by promtail."""
    assert {record["level"] for record in records} == LEVELS


def test_every_line_starts_a_multiline_entry(lines, stage):
    """Each JSON line starts its own entry in the multiline stage (no two records merged)."""
    (multiline,) = stage("multiline")
    assert all(re.match(multiline["firstline"], line) for line in lines)
