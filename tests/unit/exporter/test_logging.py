"""Tests of botwatch.logging: the DESIGN §5 JSON schema, correlation ids, counts, sinks."""

from __future__ import annotations

import logging
import re
import threading

import botwatch
import pytest
from botwatch import context
from botwatch.errors import ErrorReporter
from botwatch.logging import JsonFormatter, LogHandler
from botwatch.metrics import Metrics
from loguru import logger as loguru_logger

RFC3339_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class TestSchema:
    def test_a_line_has_the_fixed_keys_in_order(self, obs, logs):
        """A plain info line is timestamp, level, logger, message, service — nothing else."""
        logging.getLogger("mybot.cogs").info("hello %s", "world")
        line = logs.find("hello world")
        assert list(line) == ["timestamp", "level", "logger", "message", "service"]
        assert (line["level"], line["logger"], line["service"]) == ("info", "mybot.cogs", "testbot")
        assert RFC3339_MS_UTC.match(line["timestamp"])

    @pytest.mark.parametrize(
        ("level", "name"),
        [(10, "debug"), (20, "info"), (30, "warning"), (40, "error"), (50, "critical")],
    )
    def test_levels_are_lower_case(self, obs, logs, level, name):
        """Every standard level is written in lower case."""
        logging.getLogger("x").log(level, "at level")
        assert logs.find("at level")["level"] == name

    def test_extra_fields_become_keys(self, obs, logs):
        """`extra={...}` fields are written as top-level keys."""
        logging.getLogger("x").info("with extra", extra={"guild_count": 3, "shard": 0})
        line = logs.find("with extra")
        assert (line["guild_count"], line["shard"]) == (3, 0)

    def test_exceptions_carry_their_type_and_traceback(self, obs, logs):
        """logger.exception writes exc_type and the formatted traceback in exc_info."""
        try:
            raise KeyError("missing")
        except KeyError:
            logging.getLogger("x").exception("it broke")
        line = logs.find("it broke")
        assert line["exc_type"] == "KeyError"
        assert "Traceback" in line["exc_info"] and "KeyError: 'missing'" in line["exc_info"]

    def test_the_environment_is_written_when_set(self, registry, logs):
        """With BOTWATCH_ENV (env=) every line carries `env` for Promtail's label."""
        botwatch.setup(service="s", registry=registry, port=0, env="staging", log_stream=logs)
        logging.getLogger("x").warning("env line")
        assert logs.find("env line")["env"] == "staging"


class TestCorrelation:
    def test_lines_outside_a_command_have_no_correlation_id(self, obs, logs):
        """Without a scope, no correlation_id or command key is written."""
        logging.getLogger("x").info("outside")
        assert "correlation_id" not in logs.find("outside")

    def test_every_record_in_a_scope_carries_the_id(self, obs):
        """Records created in a scope carry the id even for handlers botwatch does not own."""
        seen: list[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record)

        other = logging.getLogger("other.library")
        other.addHandler(Collect())
        try:
            with context.scope(command_name="stats") as cid:
                other.warning("inside")
        finally:
            other.handlers.clear()
        assert (seen[0].correlation_id, seen[0].command) == (cid, "stats")

    def test_an_enclosing_id_is_reused(self):
        """A nested scope keeps the id of the message that started the work."""
        with context.scope() as outer, context.scope(command_name="ping") as inner:
            assert inner == outer


class TestCounting:
    def test_records_are_counted_by_level(self, obs, value):
        """Each emitted record increments log_records_total for its level."""
        log = logging.getLogger("x")
        log.warning("one")
        log.warning("two")
        log.error("three")
        assert value("bot_log_records_total", level="warning") == 2
        assert value("bot_log_records_total", level="error") == 1

    def test_records_below_the_level_are_not_counted(self, registry, logs, value):
        """With LOG_LEVEL=WARNING an info record is neither written nor counted."""
        botwatch.setup(service="s", registry=registry, port=0, log_level="WARNING", log_stream=logs)
        logging.getLogger("x").info("quiet")
        assert value("bot_log_records_total", level="info") == 0
        assert logs.records() == []


class BrokenStream:
    """A sink whose writes fail, like a closed pipe."""

    def write(self, _: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


class TestBrokenSink:
    def test_a_broken_sink_never_raises_into_the_caller(self, registry, value, capsys):
        """Logging into a broken pipe raises nothing, is counted, and is reported once on stderr."""
        botwatch.setup(service="s", registry=registry, port=0, log_stream=BrokenStream())
        log = logging.getLogger("x")
        for _ in range(3):
            log.error("lost")
        assert value("bot_exporter_errors_total", component="logging") >= 3
        assert capsys.readouterr().err.count("log sink failed") == 1


class StuckStream:
    """A sink whose writes hang until released, like a pipe nobody reads."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def write(self, line: str) -> int:
        self.release.wait()
        return len(line)

    def flush(self) -> None:
        pass


class TestStuckSink:
    def test_a_stuck_sink_drops_lines_instead_of_blocking(self, registry, value):
        """With the sink hanging, 30,000 log calls still return; the overflow is counted."""
        stream = StuckStream()
        metrics = Metrics(registry=registry, default_collectors=False)
        handler = LogHandler(
            formatter=JsonFormatter(service="s"),
            counter=metrics.log_records,
            errors=ErrorReporter(metrics.errors),
            stream=stream,
            threaded=True,  # what botwatch does for stdout
        )
        log = logging.getLogger("stuck")
        log.addHandler(handler)
        log.propagate = False
        # The calls run in a thread so that a handler that blocks shows up as a thread still alive
        # while the sink is held, not as a hung test (no speed is asserted: machines are noisy).
        caller = threading.Thread(target=lambda: [log.warning("line %d", i) for i in range(30_000)])
        try:
            caller.start()
            caller.join(timeout=120)
            returned = not caller.is_alive()
        finally:
            stream.release.set()
            caller.join()
            log.removeHandler(handler)
        assert returned, "log calls blocked on the stuck sink"
        # The writer holds at most 10,000 queued lines plus the batch stuck in write().
        assert value("bot_exporter_errors_total", component="logging") >= 10_000


class TestLoguru:
    @pytest.fixture
    def loguru(self):
        """loguru routed through botwatch.loguru_sink, as the README recipe does."""
        loguru_logger.remove()
        sink = loguru_logger.add(botwatch.loguru_sink, level="DEBUG")
        yield loguru_logger
        loguru_logger.remove(sink)

    def test_loguru_records_become_json_lines(self, obs, logs, loguru):
        """A loguru call is written in the same schema, with its extras and context."""
        with context.scope(command_name="ping") as cid:
            loguru.bind(user_count=5).warning("from loguru {}", "ok")
        line = logs.find("from loguru ok")
        assert (line["level"], line["user_count"]) == ("warning", 5)
        assert (line["correlation_id"], line["command"]) == (cid, "ping")
        assert line["logger"] == __name__

    def test_loguru_exceptions_keep_their_type(self, obs, logs, loguru):
        """loguru's logger.exception arrives with exc_type and traceback."""
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            loguru.exception("division")
        assert logs.find("division")["exc_type"] == "ZeroDivisionError"

    def test_loguru_only_levels_keep_their_name(self, obs, logs, loguru, value):
        """loguru's SUCCESS level is written and counted as `success`."""
        loguru.success("made it")
        assert logs.find("made it")["level"] == "success"
        assert value("bot_log_records_total", level="success") == 1
