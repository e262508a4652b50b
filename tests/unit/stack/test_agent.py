"""`make up-agent` and the ingest gateway's settings: one line per problem, nothing started on a
bad .env, and an agent config that the real promtool accepts in agent mode."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
import yaml
from stackctl.agent import check_agent, render_agent, up_agent
from stackctl.ingest import check_ingest, ingest_url, users_line

# A bcrypt hash of the shape `caddy hash-password` prints (not of any password in use).
HASH = "$2a$14$" + "a" * 53
AGENT = {
    "AGENT_HOST": "vps-1",
    "AGENT_BOTS": "music=music-bot:8000, mod=10.0.0.5:8001",
    "AGENT_INGEST_URL": "https://ingest.example.com/",
    "AGENT_INGEST_USER": "agent",
    "AGENT_INGEST_PASSWORD": "a-long-enough-password",
}


class TestAgentSettings:
    def test_complete_settings_have_no_problem(self):
        """A host name, bots, the gateway URL and a long password are all the agent needs."""
        assert check_agent(AGENT) == []

    def test_each_missing_setting_is_one_line_naming_it(self):
        """An empty agent section gives one problem per setting, in .env.example's order."""
        keys = [p.key for p in check_agent({})]
        assert keys == ["AGENT_HOST", "AGENT_INGEST_URL", "AGENT_INGEST_PASSWORD", "AGENT_BOTS"]

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("AGENT_HOST", "my host"),
            ("AGENT_BOTS", "music:8000"),
            ("AGENT_BOTS", "music=music-bot"),
            ("AGENT_INGEST_URL", "ingest.example.com"),
            ("AGENT_INGEST_URL", "https://ingest.example.com/api/v1/write"),
            ("AGENT_INGEST_PASSWORD", "short"),
            ("AGENT_CENTRAL_HA", "yes"),
            ("AGENT_CENTRAL_HA", "1"),
        ],
    )
    def test_malformed_values_are_refused(self, key, value):
        """A malformed value is reported under its own setting."""
        assert [p.key for p in check_agent({**AGENT, key: value})] == [key]

    def test_central_ha_problem_says_when_to_set_it(self):
        """A malformed AGENT_CENTRAL_HA names the two values and when each is right."""
        (problem,) = check_agent({**AGENT, "AGENT_CENTRAL_HA": "on"})
        assert "must be true or false, not 'on'" in problem.message
        assert "`ha` profile" in problem.message

    def test_up_agent_starts_nothing_with_problems(self, repo, tmp_path):
        """With the agent section empty, `make up-agent` lists the problems and calls no compose."""
        shutil.copy(repo / ".env.example", tmp_path / ".env.example")
        out = io.StringIO()
        assert up_agent(tmp_path, docker=str(tmp_path / "no-docker"), out=out) == 1
        lines = out.getvalue().splitlines()
        assert "Found 5 problem(s); nothing was started:" in lines
        assert [line.split(":")[0] for line in lines[-5:]] == [
            "  ✗ AGENT_HOST", "  ✗ AGENT_INGEST_URL", "  ✗ AGENT_INGEST_PASSWORD",
            "  ✗ AGENT_BOTS", "  ✗ Docker",
        ]  # fmt: skip
        assert not (tmp_path / ".generated").exists()


class TestAgentConfig:
    @pytest.fixture
    def rendered(self, tmp_path):
        return render_agent(AGENT, tmp_path)

    @pytest.mark.parametrize("central_ha", ["false", "true"])
    def test_promtool_accepts_it_in_agent_mode(self, tool, tmp_path, central_ha):
        """The rendered agent config, with one central endpoint or two, passes `promtool check
        config --agent` (target files resolved as inside the container are absent here)."""
        secret = tmp_path / "password"
        secret.write_text("x")
        settings = {**AGENT, "AGENT_CENTRAL_HA": central_ha}
        rendered = render_agent(settings, tmp_path, password_file=str(secret))
        run = subprocess.run(
            [tool("promtool"), "check", "config", "--agent", str(rendered)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr

    def test_host_env_url_and_auth_come_from_the_settings(self, rendered):
        """`host` and `env` are external labels; the URL gets the write path; no password inside."""
        data = yaml.safe_load(rendered.read_text())
        assert data["global"]["external_labels"] == {"env": "production", "host": "vps-1"}
        (remote,) = data["remote_write"]
        assert remote["url"] == "https://ingest.example.com/api/v1/write"
        assert remote["basic_auth"] == {
            "username": "agent", "password_file": "/run/secrets/agent_ingest_password",
        }  # fmt: skip
        assert AGENT["AGENT_INGEST_PASSWORD"] not in rendered.read_text()

    def test_one_central_endpoint_by_default(self, rendered, repo):
        """Unset, and as .env.example ships it (false), the agent writes to one endpoint."""
        assert "AGENT_CENTRAL_HA=false\n" in (repo / ".env.example").read_text()
        (remote,) = yaml.safe_load(rendered.read_text())["remote_write"]
        assert remote["name"] == "central"
        off = render_agent({**AGENT, "AGENT_CENTRAL_HA": "false"}, rendered.parent / "off")
        assert off.read_text() == rendered.read_text()

    def test_central_ha_adds_the_second_replica_with_the_same_settings(self, tmp_path):
        """AGENT_CENTRAL_HA=true: a second remote_write to the gateway's second path, with the
        first one's credentials and queue settings (one name each, as Prometheus requires)."""
        config = render_agent({**AGENT, "AGENT_CENTRAL_HA": "True"}, tmp_path)
        first, second = yaml.safe_load(config.read_text())["remote_write"]
        assert second["url"] == "https://ingest.example.com/replica-2/api/v1/write"
        assert (first["name"], second["name"]) == ("central", "central-replica-2")
        assert {k: v for k, v in second.items() if k not in ("url", "name")} == {
            k: v for k, v in first.items() if k not in ("url", "name")
        }
        assert second["basic_auth"]["password_file"] == "/run/secrets/agent_ingest_password"

    def test_bots_become_the_bot_job_with_their_service(self, rendered):
        """Each AGENT_BOTS entry is a target of job "bot" labelled with its service."""
        targets = json.loads((rendered.parent / "targets" / "agent-bots.json").read_text())
        assert targets == [
            {"targets": ["music-bot:8000"], "labels": {"service": "music"}},
            {"targets": ["10.0.0.5:8001"], "labels": {"service": "mod"}},
        ]
        jobs = {
            job["job_name"]: job for job in yaml.safe_load(rendered.read_text())["scrape_configs"]
        }
        assert set(jobs) == {"bot", "agent"}
        files = jobs["bot"]["file_sd_configs"][0]["files"]
        assert "/etc/prometheus/generated/targets/agent-bots.json" in files

    def test_bot_job_matches_the_central_one(self, rendered, repo):
        """The agent scrapes bots exactly as the central stack: interval, timeout, relabelling."""
        central = yaml.safe_load((repo / "prometheus" / "prometheus.yml").read_text())
        (want,) = [j for j in central["scrape_configs"] if j["job_name"] == "bot"]
        (got,) = [
            j
            for j in yaml.safe_load(rendered.read_text())["scrape_configs"]
            if j["job_name"] == "bot"
        ]
        for key in ("scrape_interval", "scrape_timeout", "relabel_configs"):
            assert got[key] == want[key], key


class TestIngestSettings:
    def test_off_by_default(self):
        """Without the `ingest` profile nothing about the gateway is checked."""
        assert check_ingest({"COMPOSE_PROFILES": "host"}) == []

    def test_profile_needs_a_bcrypt_hash(self):
        """With the profile on, a missing or plaintext password is refused, with how to hash."""
        for value in ("", "plaintext-password"):
            (problem,) = check_ingest(
                {"COMPOSE_PROFILES": "host,ingest", "INGEST_PASSWORD_HASH": value}
            )
            assert (
                problem.key == "INGEST_PASSWORD_HASH" and "make ingest-password" in problem.message
            )

    def test_a_domain_on_loopback_is_refused(self):
        """A domain needs the gateway reachable: a loopback bind address is a problem."""
        env = {
            "COMPOSE_PROFILES": "ingest",
            "INGEST_PASSWORD_HASH": HASH,
            "INGEST_DOMAIN": "ingest.example.com",
        }
        assert [p.key for p in check_ingest(env)] == ["INGEST_BIND_ADDRESS"]
        public = {**env, "INGEST_BIND_ADDRESS": "0.0.0.0", "INGEST_TLS_PORT": "443"}
        assert check_ingest(public) == []
        assert ingest_url(public) == "https://ingest.example.com"

    def test_users_line_is_user_and_hash(self):
        """The secret the Caddyfile imports is "<user> <hash>", empty when no hash is set."""
        assert users_line({"INGEST_PASSWORD_HASH": HASH}) == f"agent {HASH}\n"
        assert users_line({}) == ""
