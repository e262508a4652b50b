"""Exemplars on the real Prometheus scraping the real demo bot.

Prometheus runs with compose.yaml's own --enable-feature flags and the project's prometheus.yml,
so a flag or setting the pinned Prometheus ignored would fail here. The traced stacks' demo bot
runs the real sentry-sdk sending to a local envelope receiver (every command sampled) and, in
the `otel` case, the real OpenTelemetry SDK sending OTLP/HTTP to a local receiver that decodes
the protobuf payloads: the ids compared below are the ones those SDKs made and sent.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
import yaml

from tests.support.native_stack import REPO, NativeStack, running
from tests.support.otlp import OtlpReceiver
from tests.support.polling import poll
from tests.support.sentry_envelopes import Envelopes

DEADLINE = 60  # seconds; Prometheus scrapes the bot every second in the fast mode
COMMANDS = 'bot_command_duration_seconds_bucket{job="bot"}'
OPERATIONS = 'bot_operation_duration_seconds_bucket{job="bot"}'
# prometheus-client refuses an exemplar whose label names and values exceed this many characters.
EXEMPLAR_LABEL_LIMIT = 128


def _query(prometheus, expr: str) -> list[dict]:
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["data"]["result"]


def test_exemplar_store_on_with_the_configured_size(prometheus):
    """Prometheus reports an exemplar store of exactly prometheus.yml's max_exemplars."""
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    expected = config["storage"]["exemplars"]["max_exemplars"]
    result = poll(lambda: _query(prometheus, "prometheus_tsdb_exemplar_max_exemplars"), DEADLINE)
    assert result, "Prometheus exports no prometheus_tsdb_exemplar_max_exemplars"
    assert [float(r["value"][1]) for r in result] == [expected]


class Traced:
    """A stack of its own whose demo bot sends to local Sentry (and OTLP) receivers."""

    def __init__(self, stack: NativeStack, envelopes: Envelopes, otlp: OtlpReceiver | None):
        self.stack, self.envelopes, self.otlp = stack, envelopes, otlp

    def exemplars(self, selector: str) -> list[dict[str, str]]:
        """The labels of every exemplar of `selector`'s series, from Prometheus's exemplar API."""
        now = time.time()
        query = {"query": selector, "start": f"{now - 600:.3f}", "end": f"{now + 60:.3f}"}
        url = f"{self.stack.prometheus.url}/api/v1/query_exemplars?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=10) as response:
            data = json.load(response)["data"]
        return [exemplar["labels"] for series in data for exemplar in series["exemplars"]]

    def log_lines(self) -> list[dict]:
        """The demo's JSON log lines so far."""
        text = self.stack.bot.log_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def sentry_traces(self) -> dict[str, str]:
        """Trace id -> correlation id tag of every transaction the real sentry-sdk sent."""
        return {
            t["contexts"]["trace"]["trace_id"]: t["tags"].get("correlation_id")
            for t in self.envelopes.of("transaction")
        }


@pytest.fixture(scope="module", params=["sentry", "otel"])
def traced(request, tool, chat_fakes, tmp_path_factory) -> Iterator[Traced]:
    """`sentry`: Sentry on, every command sampled. `otel`: OpenTelemetry on as well."""
    with Envelopes() as envelopes, OtlpReceiver() as otlp:
        bot_env = {"SENTRY_DSN": envelopes.dsn, "SENTRY_TRACES_SAMPLE_RATE": "1.0"}
        if request.param == "otel":
            # Spans leave in batches every 5 s by default; 1 s keeps the test short.
            bot_env |= {
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "1000",
            }
        workdir = tmp_path_factory.mktemp(f"exemplars-{request.param}")
        stack = NativeStack(tool, workdir, chat_fakes, fast=True, bot_env=bot_env)
        with running(stack, "stack"):
            yield Traced(stack, envelopes, otlp if request.param == "otel" else None)


def _within_the_client_limit(labels: dict[str, str]) -> bool:
    return set(labels) <= {"correlation_id", "trace_id"} and (
        sum(len(k) + len(v) for k, v in labels.items()) <= EXEMPLAR_LABEL_LIMIT
    )


def test_command_exemplars_name_the_trace_and_the_log_lines(traced):
    """Prometheus holds command exemplars whose trace_id is the command's trace (the Sentry
    transaction's, or with OpenTelemetry on the command span's, whose correlation id attribute
    is the exemplar's), and whose correlation_id and trace_id are together on the demo's log
    lines: one trace id in exemplars, logs and the trace store."""

    def matched() -> list[dict[str, str]]:
        exemplars = [e for e in traced.exemplars(COMMANDS) if "trace_id" in e]
        sentry = traced.sentry_traces()
        if traced.otlp is None:
            traces = sentry
        else:
            traces = {
                s.trace_id: s.attributes["botwatch.correlation_id"]
                for s in traced.otlp.spans
                if "botwatch.command" in s.attributes
            }
        logged = {(line.get("correlation_id"), line.get("trace_id")) for line in traced.log_lines()}
        return [
            e
            for e in exemplars
            if traces.get(e["trace_id"]) == e["correlation_id"]
            and (e["correlation_id"], e["trace_id"]) in logged
        ]

    found = poll(matched, DEADLINE)
    assert found, f"no command exemplar matched a trace and a log line\n{traced.stack.logs()}"
    assert all(_within_the_client_limit(labels) for labels in traced.exemplars(COMMANDS))
    if traced.otlp is not None:  # the OpenTelemetry id wins; Sentry's transactions have others
        assert not {e["trace_id"] for e in found} & set(traced.sentry_traces())


def test_operation_exemplars_are_in_their_commands_trace(traced):
    """A tracked operation's exemplar carries its command's correlation id and the trace id of
    that command's trace (a Sentry transaction's, or an OpenTelemetry span's of that trace)."""

    def matched() -> list[dict[str, str]]:
        if traced.otlp is None:
            traces = traced.sentry_traces()
        else:
            traces = {
                s.trace_id: s.attributes["botwatch.correlation_id"]
                for s in traced.otlp.spans
                if "botwatch.command" in s.attributes
            }
            operations = {
                s.trace_id for s in traced.otlp.spans if "botwatch.operation" in s.attributes
            }
            traces = {t: c for t, c in traces.items() if t in operations}
        return [
            e
            for e in traced.exemplars(OPERATIONS)
            if "trace_id" in e and traces.get(e["trace_id"]) == e["correlation_id"]
        ]

    found = poll(matched, DEADLINE)
    assert found, f"no operation exemplar matched its command's trace\n{traced.stack.logs()}"
    assert all(_within_the_client_limit(labels) for labels in traced.exemplars(OPERATIONS))
