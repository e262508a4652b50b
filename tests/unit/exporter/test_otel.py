"""Tests of botwatch.otel with the real OpenTelemetry SDK sending OTLP/HTTP to a local receiver."""

from __future__ import annotations

import subprocess
import sys

import botwatch
import discord.ext.test as dpytest
import pytest
import sentry_sdk
from botwatch import logging as bw_logging
from discord.ext import commands

from tests.support.otlp import OtlpReceiver
from tests.support.sentry_envelopes import Envelopes
from tests.unit.exporter import test_sentry
from tests.unit.exporter.bots import exemplars


class Traced(test_sentry.Traced):
    """test_sentry's `lookup` (a tracked operation and a log line), and a command that fails."""

    @commands.command()
    async def broken(self, ctx: commands.Context) -> None:
        raise RuntimeError("boom")


@pytest.fixture
def receiver():
    with OtlpReceiver() as running:
        yield running


@pytest.fixture
async def otel_obs(registry, logs, receiver, monkeypatch):
    """botwatch with OpenTelemetry sending to the local receiver."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    obs = botwatch.setup(service="tracedbot", registry=registry, port=0, log_stream=logs)
    yield obs
    bw_logging.trace_id_source = None


async def _sent(obs: botwatch.Observability) -> None:
    """Flush the batch processor: close() shuts the provider down, which exports the rest."""
    await obs.close()


# A bot process with botwatch set up, reporting which OpenTelemetry modules got imported.
_IMPORTED = """
import sys, botwatch
from prometheus_client import CollectorRegistry
obs = botwatch.setup(service="s", registry=CollectorRegistry(), port=0)
print(obs.tracing is None, sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


class TestOff:
    def test_without_endpoint_nothing_is_imported(self, monkeypatch):
        """Without OTEL_EXPORTER_OTLP_ENDPOINT, tracing is off and no OpenTelemetry module loads."""
        result = _run(_IMPORTED, {"PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["True []"]

    def test_endpoint_without_the_sdk_warns_and_stays_off(self):
        """With the endpoint set but the [otel] extra missing, botwatch warns once and runs on."""
        blocked = "import sys; sys.modules['opentelemetry'] = None\n" + _IMPORTED
        env = {"PATH": "/usr/bin:/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
        result = _run(blocked, env)
        assert result.returncode == 0, result.stderr
        # The log line and the print come from two threads: in either order.
        assert "True ['opentelemetry']" in result.stdout.splitlines()  # the blocked entry only
        assert result.stdout.count("pip install 'botwatch[otel]'") == 1


class TestSpans:
    async def test_a_command_is_a_span_with_a_child_per_tracked_operation(
        self, otel_obs, logs, receiver, dpytest_bot
    ):
        """`!lookup` sends a `lookup` span with its ids and a `db.query` child in the same trace,
        under the bot's service name; the log line carries that trace id."""
        await dpytest_bot(Traced(otel_obs), otel_obs)
        await dpytest.message("!lookup")
        line = logs.find("looked up")
        await _sent(otel_obs)
        (command,) = receiver.named("lookup")
        (operation,) = receiver.named("db.query")
        assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
        assert command.resource["service.name"] == "tracedbot"
        assert command.attributes == {
            "botwatch.command": "lookup",
            "botwatch.correlation_id": line["correlation_id"],
        }
        assert operation.attributes == {"botwatch.operation": "db.query"}
        assert operation.trace_id == command.trace_id == line["trace_id"]
        assert operation.parent_span_id == command.span_id
        assert command.parent_span_id == ""
        assert command.status_code == operation.status_code == 0  # unset: success

    async def test_the_duration_exemplars_carry_the_spans_trace_id(
        self, otel_obs, logs, receiver, dpytest_bot, registry
    ):
        """The command's and its operation's duration buckets carry the trace id of the spans
        the SDK sent and the correlation id of the command's log lines."""
        await dpytest_bot(Traced(otel_obs), otel_obs)
        await dpytest.message("!lookup")
        line = logs.find("looked up")
        await _sent(otel_obs)
        (command,) = receiver.named("lookup")
        expected = {"correlation_id": line["correlation_id"], "trace_id": command.trace_id}
        assert exemplars(registry, "command_duration_seconds", command="lookup") == [expected]
        assert exemplars(registry, "operation_duration_seconds", operation="db.query") == [expected]

    async def test_a_failed_command_is_an_error_span(self, otel_obs, receiver, dpytest_bot):
        """A command that raises ends its span with the error status."""
        await dpytest_bot(Traced(otel_obs), otel_obs)
        with pytest.raises(commands.CommandInvokeError):
            await dpytest.message("!broken")
        await _sent(otel_obs)
        (span,) = receiver.named("broken")
        assert span.status_code == 2

    async def test_trace_id_is_the_current_spans(self, otel_obs, receiver):
        """trace_id() gives the current span's id (what exemplars and logs use), None outside."""
        assert otel_obs.tracing.trace_id() is None
        with otel_obs.track("job"):
            inside = otel_obs.tracing.trace_id()
        await _sent(otel_obs)
        (span,) = receiver.named("job")
        assert inside == span.trace_id and len(inside) == 32


class TestWithSentry:
    async def test_both_trace_the_command_and_its_operation(
        self, registry, logs, receiver, monkeypatch, dpytest_bot
    ):
        """With Sentry on too, a command is both a Sentry transaction and an OpenTelemetry span,
        each with its tracked operation inside; the log line carries the OpenTelemetry trace id."""
        envelopes = Envelopes()
        envelopes.start()
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        obs = botwatch.setup(
            service="s",
            registry=registry,
            port=0,
            log_stream=logs,
            sentry_dsn=envelopes.dsn,
            sentry_traces_sample_rate=1.0,
        )
        try:
            await dpytest_bot(Traced(obs), obs)
            await dpytest.message("!lookup")
            line = logs.find("looked up")
            await obs.close()
            (transaction,) = [
                t for t in envelopes.of("transaction") if t["transaction"] == "lookup"
            ]
        finally:
            sentry_sdk.init()
            bw_logging.trace_id_source = None
            envelopes.stop()
        assert [s["description"] for s in transaction["spans"]] == ["db.query"]
        assert transaction["contexts"]["trace"]["status"] == "ok"
        (command,) = receiver.named("lookup")
        (operation,) = receiver.named("db.query")
        assert operation.parent_span_id == command.span_id
        assert line["trace_id"] == command.trace_id
        # One trace id per command: the exemplars carry the span's too, not the transaction's.
        expected = {"correlation_id": line["correlation_id"], "trace_id": command.trace_id}
        assert exemplars(registry, "command_duration_seconds", command="lookup") == [expected]
        assert exemplars(registry, "operation_duration_seconds", operation="db.query") == [expected]
