"""The central side of remote bot hosts: the ingest gateway's settings (compose profile `ingest`).

The gateway (caddy/Caddyfile) checks the agents' password against a bcrypt hash; .env holds only
that hash (INGEST_PASSWORD_HASH), `make up` writes "<user> <hash>" into the Compose secret the
Caddyfile imports. The settings are checked only when the `ingest` profile is enabled.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable, Mapping

from .checks import LABEL_VALUE_RE, Problem
from .profiles import enabled

PROFILE = "ingest"
DEFAULT_USER = "agent"
# What `caddy hash-password` prints (bcrypt, cost 04-31).
BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$")
DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
HASH_HINT = (
    "make a hash of the agents' password with `make ingest-password` and paste it in single "
    "quotes (INGEST_PASSWORD_HASH='$2a$14$…')"
)


def users_line(env: Mapping[str, str]) -> str:
    """The Caddyfile basic_auth account line ("<user> <bcrypt hash>"), empty when unconfigured."""
    hashed = env.get("INGEST_PASSWORD_HASH", "")
    if not hashed:
        return ""
    return f"{env.get('INGEST_USER') or DEFAULT_USER} {hashed}\n"


def check_ingest(env: Mapping[str, str]) -> list[Problem]:
    """Problems with the gateway settings; none when the `ingest` profile is off."""
    if PROFILE not in enabled(env):
        return []
    problems = []
    hashed = env.get("INGEST_PASSWORD_HASH", "")
    if not BCRYPT_RE.match(hashed):
        what = "is empty" if not hashed else "is not a bcrypt hash"
        problems.append(Problem("INGEST_PASSWORD_HASH", f"{what}; {HASH_HINT}"))
    if not LABEL_VALUE_RE.match(env.get("INGEST_USER") or DEFAULT_USER):
        problems.append(
            Problem("INGEST_USER", "must be a short name of letters, digits, '.', '_' or '-'")
        )
    domain = env.get("INGEST_DOMAIN", "")
    if domain and not DOMAIN_RE.match(domain):
        problems.append(
            Problem("INGEST_DOMAIN", f"{domain!r} is not a DNS name such as ingest.example.com")
        )
    address = env.get("INGEST_BIND_ADDRESS", "") or env.get("BIND_ADDRESS", "127.0.0.1")
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        problems.append(Problem("INGEST_BIND_ADDRESS", f"{address!r} is not an IP address"))
    else:
        if domain and loopback:
            problems.append(
                Problem(
                    "INGEST_BIND_ADDRESS",
                    f"is {address}, so neither the agents nor Let's Encrypt can reach "
                    f"{domain}; set the public address (or 0.0.0.0) and INGEST_TLS_PORT=443",
                )
            )
    for key, default in (("INGEST_PORT", "9095"), ("INGEST_TLS_PORT", "9443")):
        value = env.get(key, default)
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            problems.append(Problem(key, f"must be a port number from 1 to 65535, not {value!r}"))
    return problems


def ingest_url(env: Mapping[str, str]) -> str:
    """The base URL agents send to (AGENT_INGEST_URL on the bot hosts)."""
    if env.get("INGEST_DOMAIN"):
        port = env.get("INGEST_TLS_PORT", "9443")
        return f"https://{env['INGEST_DOMAIN']}" + ("" if port == "443" else f":{port}")
    address = env.get("INGEST_BIND_ADDRESS", "") or env.get("BIND_ADDRESS", "127.0.0.1")
    return f"http://{address}:{env.get('INGEST_PORT', '9095')}"


def new_credentials(hash_password: Callable[[str], str]) -> tuple[str, str]:
    """A random agents' password and its bcrypt hash (hash_password runs `caddy hash-password`)."""
    password = secrets.token_urlsafe(24)
    return password, hash_password(password)
