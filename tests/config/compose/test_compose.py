"""compose.yaml rendered by the real docker-compose binary, then checked against the policy."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from stackctl.profiles import render as render_profiles

STATEFUL = {
    "prometheus",
    "alertmanager",
    "loki",
    "promtail",
    "grafana",
    # profiles longterm and ha
    "victoriametrics",
    "prometheus-2",
    "alertmanager-2",
}
# Services that cannot run as a non-root user, with the reason (also written in compose.yaml).
ROOT_ALLOWED = {
    "promtail": "reads container logs through the Docker socket, whose group differs per host",
    "cadvisor": "reads the host's cgroups and Docker state",
    "alloy": "reads container logs through the Docker socket, like promtail",
    "victoriametrics": "its image has no data directory a non-root user owns",
    "ingest": "the caddy image's /data (certificates) belongs to root; no capabilities kept",
}
# Services that may see the Docker socket (read-only).
SOCKET_ALLOWED = {"promtail", "cadvisor", "alloy"}
MINIMAL_ENV = "GRAFANA_ADMIN_PASSWORD=correct-horse-battery\n"
# A bot host's .env: .env.example with the agent section filled in.
AGENT_SETTINGS = (
    "AGENT_HOST=vps-1\nAGENT_BOTS=bot=bot:8000\nAGENT_INGEST_URL=https://ingest.example.com\n"
    "AGENT_INGEST_PASSWORD=a-long-enough-test-password\n"
)
# Services of compose.agent.yaml whose data must survive `make down-agent`.
AGENT_STATEFUL = {"agent", "alloy"}


def render(tool, repo: Path, env_file: Path, *profiles: str, file: str = "compose.yaml") -> dict:
    args = [
        tool("docker-compose"),
        "--project-directory",
        str(repo),
        "-f",
        str(repo / file),
    ]
    args += ["--env-file", str(env_file)]
    for profile in profiles:
        args += ["--profile", profile]
    result = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def render_agent(tool, repo: Path, folder: Path, *profiles: str) -> dict:
    """compose.agent.yaml as a bot host with .env.example plus the agent settings renders it."""
    env = folder / ".env"
    env.write_text((repo / ".env.example").read_text() + AGENT_SETTINGS)
    return render(tool, repo, env, *profiles, file="compose.agent.yaml")


STACK_VARIANTS = [
    "example", "minimal", "host-profile", "alloy-profile", "longterm-profile", "ha-profile",
    "ingest-profile", "traces-profile",
]  # fmt: skip
AGENT_VARIANTS = ["agent", "agent-demo-profile"]


@pytest.fixture(scope="module", params=STACK_VARIANTS + AGENT_VARIANTS)
def rendered(request, tool, repo, tmp_path_factory) -> dict:
    """The effective configuration for .env.example, a minimal .env, each optional profile, and
    a bot host's compose.agent.yaml (with and without its demo bot)."""
    if request.param.startswith("agent"):
        profiles = ("demo",) if "demo" in request.param else ()
        return render_agent(tool, repo, tmp_path_factory.mktemp("agent"), *profiles)
    if request.param == "minimal":
        env = tmp_path_factory.mktemp("env") / ".env"
        env.write_text(MINIMAL_ENV)
        return render(tool, repo, env)
    profiles = (request.param.removesuffix("-profile"),) if "profile" in request.param else ()
    return render(tool, repo, repo / ".env.example", *profiles)


class TestRendering:
    def test_compose_file_uses_the_v2_spec(self, repo):
        """compose.yaml has no obsolete top-level `version:` key."""
        assert not re.search(r"^version\s*:", (repo / "compose.yaml").read_text(), re.M)

    def test_every_component_is_a_service(self, rendered):
        """The rendered stack has the six core services, a bot host's agent file its two."""
        if rendered["name"] == "botwatch-agent":
            assert {"agent", "alloy"} <= set(rendered["services"])
            return
        core = {"prometheus", "alertmanager", "loki", "promtail", "grafana", "bot"}
        assert core <= set(rendered["services"])

    def test_ingest_profile_adds_only_the_gateway(self, tool, repo):
        """Only the `ingest` profile brings the gateway; Prometheus always takes remote writes."""
        plain = render(tool, repo, repo / ".env.example")["services"]
        ingest = render(tool, repo, repo / ".env.example", "ingest")["services"]
        assert "ingest" not in plain and set(ingest) - set(plain) == {"ingest"}
        assert "--web.enable-remote-write-receiver" in plain["prometheus"]["command"]
        gateway = ingest["ingest"]
        assert gateway["environment"]["INGEST_SITE"] == "http://:8080"  # no domain: plain HTTP
        assert {p["target"] for p in gateway["ports"]} == {8080, 8443}

    @pytest.mark.parametrize(
        ("profiles", "upstream"),
        [(("ingest",), None), (("ingest", "ha"), "prometheus-2:9090")],
        ids=["ingest", "ingest-ha"],
    )
    def test_gateways_second_write_path_follows_the_ha_profile(
        self, tool, repo, tmp_path, profiles, upstream
    ):
        """The gateway reads its second write path's upstream from the file `make up` writes:
        with `ha`, the real Caddy adapts caddy/Caddyfile (with the gateway's compose environment
        plus that file) to a route that rewrites /replica-2/api/v1/write to prometheus-2's
        /api/v1/write, a receiver like the first; without it, to the 404 that says why."""
        raw = yaml.safe_load((repo / "compose.yaml").read_text())["services"]["ingest"]
        assert raw["env_file"] == [{"path": "./.generated/ingest/ingest.env", "required": False}]
        assert "INGEST_PROMETHEUS_2" not in raw["environment"]
        services = render(tool, repo, repo / ".env.example", *profiles)["services"]
        render_profiles({"COMPOSE_PROFILES": ",".join(profiles)}, tmp_path, repo)
        written = dict(
            line.split("=", 1) for line in (tmp_path / "ingest" / "ingest.env").read_text().split()
        )
        # The users file is the Compose secret inside the container; an empty one here.
        users = tmp_path / "ingest_users"
        users.write_text("")
        env = {
            **services["ingest"]["environment"], **written,
            "INGEST_USERS_FILE": str(users), "HOME": str(tmp_path),
        }  # fmt: skip
        caddyfile = str(repo / "caddy" / "Caddyfile")
        adapted = subprocess.run(
            [tool("caddy"), "adapt", "--adapter", "caddyfile", "--config", caddyfile],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert adapted.returncode == 0, adapted.stderr
        routes = json.loads(adapted.stdout)["apps"]["http"]["servers"]
        (route,) = [
            r for server in routes.values() for r in server["routes"]
            if {"path": ["/replica-2/api/v1/write"]} in r.get("match", [])
        ]  # fmt: skip
        steps = [h for sub in route["handle"][0]["routes"] for h in sub["handle"]]
        assert [s["handler"] for s in steps] == ["rewrite", "static_response", "reverse_proxy"]
        assert steps[0]["uri"] == "/api/v1/write"
        assert steps[1]["status_code"] == 404
        if upstream is None:
            assert written == {"INGEST_PROMETHEUS_2": ""} and "upstreams" not in steps[2]
            assert "prometheus-2" not in services
            return
        assert steps[2]["upstreams"] == [{"dial": upstream}]
        replica = services["prometheus-2"]
        assert "--web.enable-remote-write-receiver" in replica["command"]
        assert replica["environment"]["PROMETHEUS_REPLICA"] == "b"

    def test_ingest_domain_and_address_settings_are_honoured(self, tool, repo, tmp_path):
        """INGEST_DOMAIN becomes the site (HTTPS); INGEST_BIND_ADDRESS moves only the gateway."""
        env = tmp_path / ".env"
        env.write_text(
            MINIMAL_ENV + "INGEST_DOMAIN=ingest.example.com\nINGEST_BIND_ADDRESS=192.0.2.7\n"
            "INGEST_TLS_PORT=443\n"
        )
        services = render(tool, repo, env, "ingest")["services"]
        gateway = services["ingest"]
        assert gateway["environment"]["INGEST_SITE"] == "ingest.example.com"
        assert {(p["host_ip"], p["published"]) for p in gateway["ports"]} == {
            ("192.0.2.7", "9095"), ("192.0.2.7", "443"),
        }  # fmt: skip
        others = [p for n, s in services.items() if n != "ingest" for p in s.get("ports", [])]
        assert others and all(p["host_ip"] == "127.0.0.1" for p in others)

    def test_agent_publishes_nothing_and_pins_the_stacks_images(self, tool, repo, tmp_path):
        """The agent file opens no port, and each image it uses has the tag compose.yaml pins."""
        agent = render_agent(tool, repo, tmp_path, "demo")["services"]
        stack = render(tool, repo, repo / ".env.example", "alloy")["services"]
        assert not [n for n, s in agent.items() if s.get("ports")]
        pinned = {s["image"].rsplit(":", 1)[0]: s["image"] for s in stack.values()}
        for name, service in agent.items():
            assert service["image"] == pinned[service["image"].rsplit(":", 1)[0]], name

    def test_host_profile_adds_node_exporter_and_cadvisor(self, tool, repo):
        """Only the `host` profile brings node-exporter and cAdvisor."""
        plain = render(tool, repo, repo / ".env.example")["services"]
        host = render(tool, repo, repo / ".env.example", "host")["services"]
        assert {"node-exporter", "cadvisor"}.isdisjoint(plain)
        assert {"node-exporter", "cadvisor"} <= set(host)

    def test_traces_profile_adds_tempo_with_its_config(self, tool, repo):
        """Only the `traces` profile brings Tempo, with tempo/ mounted where it reads its config."""
        plain = render(tool, repo, repo / ".env.example")["services"]
        tempo = render(tool, repo, repo / ".env.example", "traces")["services"]["tempo"]
        assert "tempo" not in plain
        mounts = {v["target"]: v["source"] for v in tempo["volumes"]}
        assert mounts["/etc/tempo"] == str(repo / "tempo")
        assert tempo["command"] == ["-config.file=/etc/tempo/tempo.yml"]
        assert (repo / "tempo" / "tempo.yml").is_file()
        assert "ports" not in tempo  # reached on the compose network only


class TestPolicy:
    def test_images_are_pinned(self, rendered):
        """Every image has an explicit version tag and none is `latest`."""
        for name, service in rendered["services"].items():
            image = service["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{name}: image {image} is not pinned"
            if "build" in service:
                assert tag == "local", f"{name}: a built image is tagged `local`"

    def test_built_image_base_is_pinned(self, rendered, repo):
        """A service built here starts FROM a base image with a pinned version tag."""
        for name, service in rendered["services"].items():
            if "build" not in service:
                continue
            dockerfile = Path(service["build"]["context"]) / "Dockerfile"
            bases = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.M)
            assert bases, f"{name}: no FROM in {dockerfile}"
            for base in bases:
                assert re.search(r":[\w.-]*\d", base) and not base.endswith(":latest"), base

    def test_every_service_has_health_restart_memory_and_log_rotation(self, rendered):
        """Every service has a healthcheck, a restart policy, a memory cap and rotated logs."""
        for name, service in rendered["services"].items():
            assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
            assert service.get("restart") == "unless-stopped", f"{name}: restart policy"
            assert int(service.get("mem_limit", 0)) > 0, f"{name}: no memory limit"
            logging = service.get("logging", {})
            assert logging.get("driver") == "json-file", f"{name}: log driver"
            assert {"max-size", "max-file"} <= set(logging.get("options", {})), f"{name}: rotation"

    def test_ports_are_bound_to_the_bind_address(self, rendered):
        """Every published port binds to BIND_ADDRESS (127.0.0.1 by default), not all interfaces."""
        for name, service in rendered["services"].items():
            for port in service.get("ports", []):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: port {port} is exposed"

    def test_stateful_services_keep_data_in_named_volumes(self, rendered):
        """Each stateful service stores its data in a named volume that survives `make down`."""
        agent = rendered["name"] == "botwatch-agent"
        for name in (AGENT_STATEFUL if agent else STATEFUL) & set(rendered["services"]):
            volumes = rendered["services"][name].get("volumes", [])
            named = [
                v for v in volumes if v["type"] == "volume" and v["source"] in rendered["volumes"]
            ]
            assert named, f"{name}: no named volume"

    def test_containers_drop_privileges(self, rendered):
        """Every service has no-new-privileges, no capabilities, a read-only root and, unless the
        image cannot work that way, a non-root user."""
        for name, service in rendered["services"].items():
            assert "no-new-privileges:true" in service.get("security_opt", []), name
            assert service.get("cap_drop") == ["ALL"], name
            assert service.get("read_only") is True, f"{name}: writable root filesystem"
            if name not in ROOT_ALLOWED:
                user = service.get("user", "")
                assert user and not user.startswith("0") and user != "root", f"{name}: runs as root"

    def test_docker_socket_only_where_needed_and_read_only(self, rendered):
        """Only the log shippers (and cAdvisor, profile host) see the Docker socket, read-only."""
        for name, service in rendered["services"].items():
            for volume in service.get("volumes", []):
                if volume["source"].startswith("/var/run"):
                    assert name in SOCKET_ALLOWED, f"{name} mounts {volume['source']}"
                    assert volume.get("read_only") is True, f"{name}: socket is writable"

    def test_start_order_waits_for_health(self, rendered):
        """Services that need another one wait until it is healthy, not merely started."""
        for name, service in rendered["services"].items():
            for dependency, spec in service.get("depends_on", {}).items():
                assert spec["condition"] == "service_healthy", f"{name} → {dependency}"
        if rendered["name"] == "botwatch-agent":
            return  # the agent's services depend on nothing local
        assert "loki" in rendered["services"]["promtail"]["depends_on"]
        assert {"prometheus", "loki"} <= set(rendered["services"]["grafana"]["depends_on"])
        # Its first alerts (the Watchdog) find Alertmanager: no error line at a fresh start.
        assert "alertmanager" in rendered["services"]["prometheus"]["depends_on"]

    def test_secrets_come_from_files(self, rendered, repo):
        """Secrets are Compose file secrets under the git-ignored .secrets/ folder."""
        for name, secret in rendered["secrets"].items():
            assert Path(secret["file"]).parent == repo / ".secrets", name
        assert ".secrets/" in (repo / ".gitignore").read_text().split()


def test_bind_address_setting_is_honoured(tool, repo, tmp_path):
    """Setting BIND_ADDRESS changes where every published port listens."""
    env = tmp_path / ".env"
    env.write_text(MINIMAL_ENV + "BIND_ADDRESS=192.0.2.10\nGRAFANA_PORT=3300\n")
    services = render(tool, repo, env)["services"]
    grafana = services["grafana"]["ports"][0]
    assert (grafana["host_ip"], grafana["published"]) == ("192.0.2.10", "3300")
    for service in services.values():
        assert all(p["host_ip"] == "192.0.2.10" for p in service.get("ports", []))


@pytest.fixture(scope="module")
def scaled(tool, repo) -> dict:
    """The stack with both scaling profiles, `longterm` and `ha`."""
    return render(tool, repo, repo / ".env.example", "longterm", "ha")


@pytest.fixture(scope="module")
def services(scaled) -> dict:
    return scaled["services"]


class TestScalingProfiles:
    """The `longterm` and `ha` profiles (README "Scaling"): what they add, and how they gossip."""

    @pytest.mark.parametrize(
        ("profile", "added"),
        [("longterm", {"victoriametrics"}), ("ha", {"alertmanager-2", "prometheus-2"})],
    )
    def test_each_profile_adds_only_its_services(self, tool, repo, profile, added):
        """Without its profile none of these services exists; with it, exactly these are added."""
        plain = set(render(tool, repo, repo / ".env.example")["services"])
        assert plain.isdisjoint(added)
        assert set(render(tool, repo, repo / ".env.example", profile)["services"]) == plain | added

    def test_victoriametrics_keeps_a_year_and_merges_ha_copies(self, services):
        """Retention defaults to 12 months (.env.example) and HA duplicates are deduplicated."""
        command = services["victoriametrics"]["command"]
        assert "-retentionPeriod=12" in command
        assert "-dedup.minScrapeInterval=10s" in command

    def test_prometheus_replicas_differ_only_in_replica_data_and_port(self, services):
        """prometheus-2 runs the same image, command and config as prometheus; only its replica
        name, its data volume, its profile and the published port differ."""
        first, second = services["prometheus"], services["prometheus-2"]
        assert (
            first["environment"]["PROMETHEUS_REPLICA"],
            second["environment"]["PROMETHEUS_REPLICA"],
        ) == ("a", "b")
        differing = {"environment", "volumes", "ports", "profiles"}
        assert {k: v for k, v in first.items() if k not in differing} == {
            k: v for k, v in second.items() if k not in differing
        }
        assert "ports" not in second

    def test_gossip_stays_on_its_own_internal_network(self, services, scaled):
        """Only the Alertmanagers are on the gossip network, which has no route out; each listens
        on its own address there and peers with the other; no gossip port is published."""
        assert scaled["networks"]["alertmanager-gossip"]["internal"] is True
        members = {n for n, s in services.items() if "alertmanager-gossip" in s.get("networks", {})}
        assert members == {"alertmanager", "alertmanager-2"}
        listen = {}
        for name in members:
            flags = dict(
                a.split("=", 1) for a in services[name]["command"] if a.startswith("--cluster.")
            )
            address = services[name]["networks"]["alertmanager-gossip"]["ipv4_address"]
            assert flags["--cluster.listen-address"] == f"{address}:9094"
            listen[name] = flags
        assert (
            listen["alertmanager"]["--cluster.peer"]
            == listen["alertmanager-2"]["--cluster.listen-address"]
        )
        assert (
            listen["alertmanager-2"]["--cluster.peer"]
            == listen["alertmanager"]["--cluster.listen-address"]
        )
        for service in services.values():
            assert all(port["target"] != 9094 for port in service.get("ports", []))
