"""Session fixtures for end-to-end tests: the real demo bot, prometheus, alertmanager and
victoria-metrics on 127.0.0.1, with fake Discord and Telegram servers as the chat channels.

Reuse them from any test in tests/e2e/:
    native_stack      the running NativeStack (tests/support/native_stack.py): .bot, .prometheus,
                      .alertmanager (each with .url/.port), .fakes, .logs()
    demo_bot          the bot process (.target "127.0.0.1:<port>", .kill(), .start())
    prometheus        the prometheus process (.url)
    alertmanager      the alertmanager process (.url, .post(alerts), .get(api v2 path))
    victoriametrics   the long-term store (.url) Prometheus remote-writes to, as the compose
                      profile `longterm` runs it
    chat_fakes        ChatFakes (tests/support/chat_fakes.py): .discord, .telegram
Timings are the fast ones (1s scrape and evaluation, short `for` on BotDown and
AlertmanagerNotificationsFailing, 1s group_wait, 2s group_interval); the shipped timings are
measured by tests/bench/test_alert_latency.py. A test that kills the bot must start it again.
"""

from __future__ import annotations

import pytest

from tests.support.chat_fakes import ChatFakes
from tests.support.native_stack import NativeStack, running


@pytest.fixture(scope="session")
def chat_fakes():
    with ChatFakes() as fakes:
        yield fakes


@pytest.fixture(scope="session")
def native_stack(tool, chat_fakes, tmp_path_factory):
    stack = NativeStack(
        tool, tmp_path_factory.mktemp("native-stack"), chat_fakes, fast=True, longterm=True
    )
    with running(stack, "native stack"):
        yield stack


@pytest.fixture(scope="session")
def demo_bot(native_stack):
    return native_stack.bot


@pytest.fixture(scope="session")
def prometheus(native_stack):
    return native_stack.prometheus


@pytest.fixture(scope="session")
def alertmanager(native_stack):
    return native_stack.alertmanager


@pytest.fixture(scope="session")
def victoriametrics(native_stack):
    return native_stack.victoriametrics


@pytest.fixture
def chats(native_stack):
    """The chat fakes, with any scripted failure a test set cleared afterwards."""
    yield native_stack.fakes
    native_stack.fakes.discord.reset_failures()
    native_stack.fakes.telegram.reset_failures()
