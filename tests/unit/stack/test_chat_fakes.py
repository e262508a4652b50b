"""The fake Discord webhook and Telegram Bot API refuse what the real services refuse.

The end-to-end alert tests are only as strict as these fakes: each rule is shown here.
"""

from __future__ import annotations

import pytest
import requests

from tests.support.chat_fakes import ChatFakes
from tests.support.chat_limits import parse_telegram_html, telegram_problems
from tests.support.fake_secrets import TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID


@pytest.fixture(scope="module")
def fakes():
    with ChatFakes() as running:
        yield running


@pytest.fixture
def discord(fakes):
    yield lambda body, url=None: requests.post(
        url or fakes.discord.webhook_url, json=body, timeout=5
    )
    fakes.discord.reset_failures()


@pytest.fixture
def telegram(fakes):
    def send(text: str, chat=TELEGRAM_CHAT_ID, token=TELEGRAM_BOT_TOKEN):
        body = {"chat_id": str(chat), "text": text, "parse_mode": "HTML"}
        return requests.post(
            f"{fakes.telegram.api_url}/bot{token}/sendMessage", json=body, timeout=5
        )

    yield send
    fakes.telegram.reset_failures()


def embed(**fields) -> dict:
    return {"username": "Botwatch", "embeds": [{"title": "t", "description": "d", **fields}]}


class TestDiscord:
    def test_accepts_a_message_within_limits(self, discord):
        """A title of 256 and a description of 4096 characters is accepted with 204."""
        assert discord(embed(title="t" * 256, description="d" * 4096)).status_code == 204

    @pytest.mark.parametrize(("field", "size"), [("title", 257), ("description", 4097)])
    def test_refuses_an_oversized_field(self, discord, field, size):
        """One character over an embed limit is a 400 Invalid Form Body naming the field."""
        response = discord(embed(**{field: "x" * size}))
        assert response.status_code == 400
        assert response.json()["code"] == 50035
        assert f"embeds.0.{field}" in response.json()["errors"]

    def test_refuses_more_than_6000_characters_over_all_embeds(self, discord):
        """Two embeds of 3500 characters each exceed the 6000 total."""
        body = {"embeds": [{"description": "x" * 3500}, {"description": "y" * 3500}]}
        assert discord(body).status_code == 400

    def test_refuses_content_over_2000(self, discord):
        """Content longer than 2000 characters is refused."""
        assert discord({"content": "c" * 2001}).status_code == 400

    def test_refuses_an_empty_message(self, discord):
        """Neither content nor embeds: 400 with code 50006."""
        response = discord({"content": ""})
        assert (response.status_code, response.json()["code"]) == (400, 50006)

    def test_unknown_webhook_is_404(self, discord, fakes):
        """A wrong webhook token answers 404 Unknown Webhook."""
        url = fakes.discord.webhook_url.rsplit("/", 1)[0] + "/wrong"
        assert discord(embed(), url).json()["code"] == 10015

    def test_scripted_5xx_then_success(self, discord, fakes):
        """fail_next(500) answers 500 once, then accepts."""
        fakes.discord.fail_next(500)
        assert [discord(embed()).status_code for _ in range(2)] == [500, 204]

    def test_scripted_429_carries_retry_after(self, discord, fakes):
        """A scripted 429 has Discord's body and Retry-After header."""
        fakes.discord.fail_next(429)
        response = discord(embed())
        assert response.status_code == 429
        assert response.json()["retry_after"] > 0 and response.headers["Retry-After"]

    def test_scripted_failure_only_hits_matching_requests(self, discord, fakes):
        """A failure scripted for one alert does not hit another alert's message."""
        fakes.discord.fail_next(500, match="AlertA")
        assert discord(embed(title="AlertB")).status_code == 204
        assert discord(embed(title="AlertA")).status_code == 500


class TestTelegram:
    def test_accepts_escaped_html_and_returns_a_message(self, telegram):
        """Supported tags with escaped values are accepted; the result is a Message object."""
        response = telegram(
            '<b>a &lt;b&gt; &amp; &#34;q&#34;</b> <a href="http://x/?a=1&amp;b=2">l</a>'
        )
        assert response.status_code == 200
        assert response.json()["result"]["text"] == 'a <b> & "q" l'

    @pytest.mark.parametrize(
        ("text", "why"),
        [
            ("<b>open", "Can't find end tag"),
            ("<div>x</div>", 'Unsupported start tag "div"'),
            ("<b><i>x</b></i>", "Unmatched end tag"),
            ("a < b", "Unexpected character"),
            ('<a href="x"><a href="y">z</a></a>', "Nested links"),
            ("<code><b>x</b></code>", "Can't nest"),
            ('<b class="x">y</b>', "Unsupported attribute"),
        ],
    )
    def test_refuses_what_telegram_cannot_parse(self, telegram, text, why):
        """Unclosed, unknown, misnested tags and a bare '<' are 400 "can't parse entities"."""
        response = telegram(text)
        assert response.status_code == 400
        assert "can't parse entities" in response.json()["description"]
        assert why in response.json()["description"]

    def test_length_counts_visible_text_after_entities(self, telegram):
        """4096 visible characters pass however much markup; 4097 are "message is too long"."""
        assert telegram("<b>" + "&amp;" * 4096 + "</b>").status_code == 200
        response = telegram("x" * 4097)
        assert response.json()["description"] == "Bad Request: message is too long"

    def test_emoji_count_twice(self):
        """Telegram counts UTF-16 code units: 2049 emoji are over the limit."""
        assert telegram_problems("🚨" * 2048) == []
        assert telegram_problems("🚨" * 2049) == ["Bad Request: message is too long"]

    def test_unknown_entities_stay_literal(self):
        """An entity Telegram does not know is text, not an error (as in TDLib)."""
        assert parse_telegram_html("a &nbsp; b &#x1F680;").text == "a &nbsp; b 🚀"

    def test_wrong_chat_and_token(self, telegram):
        """A wrong chat id is 400 "chat not found"; a wrong token is 401."""
        assert telegram("x", chat=1).json()["description"] == "Bad Request: chat not found"
        assert telegram("x", token="1:wrong").status_code == 401

    def test_scripted_429_has_retry_after(self, telegram, fakes):
        """A scripted 429 carries parameters.retry_after like the real Bot API."""
        fakes.telegram.fail_next(429)
        response = telegram("x")
        assert response.json()["parameters"]["retry_after"] > 0
