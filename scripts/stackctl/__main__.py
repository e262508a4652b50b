"""Command line behind the Makefile's stack targets: python -m stackctl <command>."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import envfile
from .agent import COMPOSE_FILE, up_agent
from .backup import BackupError, backup, restore
from .docker import Compose, DockerUnavailable, check_docker
from .ingest import new_credentials
from .showconfig import show_config
from .up import load_settings, render, report, up
from .volumes import print_report

ROOT = Path(__file__).resolve().parents[2]


def _compose_or_exit() -> Compose:
    try:
        check_docker()
    except DockerUnavailable as exc:
        sys.exit(str(exc))
    return Compose(ROOT)


def restart(service: str | None) -> int:
    settings, problems = load_settings(ROOT, sys.stdout)
    if problems:
        report(problems, sys.stdout)
        return 1
    render(ROOT, settings)
    services = [service] if service else []
    return _compose_or_exit().run("up", "--detach", "--force-recreate", *services).returncode


def ps() -> int:
    """`make ps`: the services and their health, then each data volume's size and the disk left."""
    compose = _compose_or_exit()
    code = compose.run("ps").returncode
    settings = envfile.load(ROOT / ".env.example").values
    if (ROOT / ".env").exists():
        settings.update(envfile.load(ROOT / ".env").values)
    print_report(compose, settings, sys.stdout)
    return code


def clean(force: bool) -> int:
    compose = _compose_or_exit()
    if not force:
        answer = input("Delete all Botwatch data (metrics, logs, dashboards state)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    code = compose.run("down", "--volumes", "--remove-orphans").returncode
    shutil.rmtree(ROOT / ".generated", ignore_errors=True)
    return code


def backup_or_restore(source: str | None) -> int:
    """`make backup` (no source) or `make restore FROM=<folder>`."""
    compose = _compose_or_exit()
    try:
        if source is None:
            backup(compose, ROOT / "backups", sys.stdout)
        else:
            restore(compose, Path(source).resolve(), sys.stdout)
    except BackupError as exc:
        print(f"  ✗ {exc}", file=sys.stdout)
        return 1
    return 0


def ingest_password() -> int:
    """Print a new random password for the agents and its hash for the central .env."""
    local = shutil.which("caddy", path=str(ROOT / ".tools" / "bin"))
    if local:
        command = [local]
    else:
        image = re.search(r"image:\s*(caddy:\S+)", (ROOT / "compose.yaml").read_text()).group(1)
        command = ["docker", "run", "--rm", "-i", image, "caddy"]

    def hash_password(password: str) -> str:
        run = subprocess.run(
            [*command, "hash-password"],
            input=password + "\n",
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.strip()

    password, hashed = new_credentials(hash_password)
    print("Central box, .env (with the ingest profile in COMPOSE_PROFILES):")
    print(f"  INGEST_PASSWORD_HASH='{hashed}'")
    print("Each bot host, .env:")
    print(f"  AGENT_INGEST_PASSWORD={password}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stackctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="validate, start and wait for health")
    sub.add_parser("config", help="validate and show the effective configuration")
    sub.add_parser("ps", help="services and health, data volume sizes and free disk space")
    sub.add_parser("restart").add_argument("service", nargs="?")
    sub.add_parser("clean").add_argument("--force", action="store_true")
    sub.add_parser("test-alert", help="send a test alert through Alertmanager")
    sub.add_parser("backup", help="archive every named volume into backups/<time>/")
    sub.add_parser("restore", help="restore the volumes from a backup folder").add_argument(
        "source"
    )
    sub.add_parser("up-agent", help="validate and start the bot-host agent (compose.agent.yaml)")
    sub.add_parser("ingest-password", help="new agents' password and its hash for the gateway")
    agent = sub.add_parser("agent", help="run docker compose for the bot-host agent")
    agent.add_argument("args", nargs=argparse.REMAINDER)
    passthrough = sub.add_parser("compose", help="run docker compose for this project")
    passthrough.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(ROOT)
    if args.command == "config":
        return show_config(ROOT)
    if args.command == "ps":
        return ps()
    if args.command == "restart":
        return restart(args.service)
    if args.command == "clean":
        return clean(args.force)
    if args.command in ("backup", "restore"):
        return backup_or_restore(getattr(args, "source", None))
    if args.command == "up-agent":
        return up_agent(ROOT)
    if args.command == "ingest-password":
        return ingest_password()
    if args.command == "agent":
        return Compose(ROOT, file=COMPOSE_FILE).run(*args.args).returncode
    if args.command == "test-alert":
        from .testalert import main as test_alert  # owned by the alerting component

        return test_alert([])
    return _compose_or_exit().run(*args.args).returncode


if __name__ == "__main__":
    sys.exit(main())
