"""Reading and creating the .env file (Compose's dotenv format, the subset Botwatch documents)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

KEY_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
PASSWORD_KEY = "GRAFANA_ADMIN_PASSWORD"


@dataclass
class EnvFile:
    values: dict[str, str] = field(default_factory=dict)
    # (line number, text, why) for every line that is not a comment, blank or KEY=value.
    malformed: list[tuple[int, str, str]] = field(default_factory=list)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    # An unquoted value ends at an inline comment.
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def parse(text: str) -> EnvFile:
    env = EnvFile()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        if "=" not in line:
            env.malformed.append((number, raw, "expected KEY=value"))
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if not KEY_RE.match(key):
            env.malformed.append((number, raw, f"{key!r} is not a valid setting name"))
            continue
        env.values[key] = _unquote(value)
    return env


def load(path: Path) -> EnvFile:
    return parse(path.read_text(encoding="utf-8"))


def new_password() -> str:
    """A random Grafana admin password (about 128 bits, URL- and shell-safe)."""
    return secrets.token_urlsafe(16)


def create_from_example(example: Path, target: Path) -> str:
    """Write target from example with a fresh Grafana password; returns the password."""
    password = new_password()
    lines = []
    for line in example.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{PASSWORD_KEY}="):
            line = f"{PASSWORD_KEY}={password}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target.chmod(0o600)
    return password
