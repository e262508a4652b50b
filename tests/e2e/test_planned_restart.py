"""A planned restart, for real: the demo bot stopped with SIGTERM announces it, and Prometheus
running the shipped BotDown rule stays quiet where a crash (test_alert_delivery.py) pages.

The fast timings shorten BotDown's `for` to 2s, not its 4m40s grace for an announced stop, so
twenty seconds down is ten times what a crash needs to fire here.
"""

from __future__ import annotations

import time

import pytest

from tests.support.polling import poll

DOWN_FOR = 20  # seconds the bot stays stopped


@pytest.fixture(scope="module")
def planned_stop(native_stack):
    """Stop the bot with SIGTERM, watch Prometheus while it is down, then start it again."""
    bot, prometheus = native_stack.bot, native_stack.prometheus
    # A steady scraper first: close() waits for a scrape only once it knows the interval.
    scraped = 'count_over_time(bot_stopping{job="bot"}[1m]) >= 3'
    assert poll(lambda: prometheus.query(scraped), 60), "Prometheus is not scraping the bot"
    bot.stop()
    stopped = time.monotonic()
    try:
        down = poll(lambda: prometheus.query('up{job="bot"} == 0'), 30)
        time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - stopped)))
        seen = {
            "down": down,
            "announced": prometheus.query('last_over_time(bot_stopping{job="bot"}[5m])'),
            "bot_down": prometheus.query('ALERTS{alertname="BotDown"}'),
            "still_down": prometheus.query('up{job="bot"} == 0'),
        }
    finally:
        bot.start()
    return seen


def test_the_bot_announces_its_stop_in_its_last_scrape(planned_stop):
    """The scrape that close() waited for carried bot_stopping 1."""
    assert planned_stop["down"], "Prometheus never saw the stopped bot down"
    assert [s["value"][1] for s in planned_stop["announced"]] == ["1"]


def test_bot_down_stays_quiet_after_a_planned_stop(planned_stop):
    """20s down after SIGTERM: no BotDown, neither pending nor firing (a crash fires in ~3s)."""
    assert planned_stop["still_down"], "the bot came back by itself; nothing was tested"
    assert planned_stop["bot_down"] == []
