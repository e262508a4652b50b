"""Benchmark: one JSON log line vs. one stdlib text line (issue 7's log case).

botwatch's line is the record factory, counting, the orjson formatter and the write by
its writer thread (waited for); the baseline is stdlib logging with a plain text
``Formatter``; both write to /dev/null. Target ≤ 1.5×.
"""

from __future__ import annotations

import logging
import os

import botwatch
from botwatch import logging as bw_logging
from botwatch.metrics import Metrics
from prometheus_client import CollectorRegistry

from tests.support.bench import Ratio, Row, per_op, side_by_side


def test_json_line_vs_text_line(bench):
    """A JSON log line costs ≤ 1.5× a stdlib text line."""
    sink = open(os.devnull, "w")  # noqa: SIM115 (closed below; both handlers share it)
    plain_factory = logging.getLogRecordFactory()
    metrics = Metrics(registry=CollectorRegistry(), default_collectors=False)
    ours_handler = bw_logging.LogHandler(
        formatter=bw_logging.JsonFormatter(service="bench"),
        counter=metrics.log_records,
        errors=botwatch.errors.ErrorReporter(metrics.errors),
        stream=sink,
        threaded=True,  # as for stdout in production
    )
    text_handler = logging.StreamHandler(sink)
    text_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    bw_logging.install_record_factory()
    ours_factory = logging.getLogRecordFactory()

    ours_logger = logging.getLogger("bench.ours")
    text_logger = logging.getLogger("bench.text")
    for lg, handler in ((ours_logger, ours_handler), (text_logger, text_handler)):
        lg.handlers[:] = [handler]
        lg.propagate = False
        lg.setLevel(logging.INFO)

    def ours() -> None:
        logging.setLogRecordFactory(ours_factory)
        ours_logger.info("user %s ran %s", 42, "ping")

    def text() -> None:
        logging.setLogRecordFactory(plain_factory)
        text_logger.info("user %s ran %s", 42, "ping")

    try:
        # 5,000 lines a run stay within the writer's queue; its drain is timed too.
        measured = side_by_side(
            lambda: per_op(ours, 5_000, ours_handler.flush), lambda: per_op(text, 5_000)
        )
    finally:
        logging.setLogRecordFactory(plain_factory)
        sink.close()
    baseline = "stdlib logging, text Formatter"
    bench.check(Row("log line: JSON vs text", *measured, baseline, "s", Ratio(1.5)))
