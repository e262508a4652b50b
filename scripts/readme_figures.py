"""The README's generated figures: the stack's memory and disk, from docs/results/memory.json,
compose and .env.example; the bot-host agent's footprint, replay and gateway cost, from
docs/results/agent-ingest.json (written by tests/bench/test_agent_ingest.py).

`python3 scripts/readme_figures.py` rewrites each generated block of README.md; `--check` only
says whether the README is up to date (tests/config/test_readme_figures.py runs it). The memory
limits are summed from the effective compose configuration (`docker compose config`) and the disk
caps from .env.example's defaults, never typed.
Stdlib only, like stackctl.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from stackctl.docker import compose_for_rendering

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "memory.json"
README = ROOT / "README.md"
BLOCK = re.compile(
    r"(<!-- generated: memory and disk \(scripts/readme_figures\.py\) -->\n)"
    r".*?(\n<!-- end generated -->)",
    re.S,
)
AGENT_RESULTS = ROOT / "docs" / "results" / "agent-ingest.json"
AGENT_BLOCK = re.compile(
    r"(<!-- generated: agents \(scripts/readme_figures\.py\) -->\n)"
    r".*?(\n<!-- end generated -->)",
    re.S,
)
GIB = 1024**3
MIB = 1024**2


def mem_limits(*profiles: str) -> dict[str, int]:
    """Each service's mem_limit in bytes, as Compose resolves it for these profiles."""
    args = [*compose_for_rendering(ROOT), "--project-directory", str(ROOT),
            "-f", str(ROOT / "compose.yaml"), "--env-file", str(ROOT / ".env.example")]  # fmt: skip
    for profile in profiles:
        args += ["--profile", profile]
    result = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True,
                            check=True)  # fmt: skip
    services = json.loads(result.stdout)["services"]
    return {name: int(spec["mem_limit"]) for name, spec in services.items() if "mem_limit" in spec}


def memory_text(results: dict, core: dict[str, int], host: dict[str, int]) -> str:
    limits = (
        f"The services' memory limits add up to {sum(core.values()) / GIB:.2f} GiB "
        f"({sum(host.values()) / GIB:.2f} GiB with the `host` profile), summed from "
        "[compose.yaml](compose.yaml): the most the stack may take."
    )
    resident = results.get("resident_bytes") or {}
    if not resident:
        return (
            "**Memory.** Resident memory: not measured yet (`make test-stack` measures it with "
            f"`docker stats` after demo traffic, on a machine with Docker). {limits}"
        )
    minutes = round(results["demo_traffic_seconds"] / 60)
    return (
        f"**Memory.** {sum(resident.values()) / GIB:.2f} GiB resident for the whole stack, "
        f"measured with `docker stats` after {minutes} min of demo traffic under `make test-stack` "
        f"({results['machine']}, {results['measured_at']}; per service in "
        f"[docs/results/memory.json](docs/results/memory.json)). {limits}"
    )


def disk_text(results: dict, defaults: dict[str, str]) -> str:
    caps = (
        f"Metrics are capped at PROMETHEUS_RETENTION_SIZE={defaults['PROMETHEUS_RETENTION_SIZE']} "
        f"and logs budgeted at LOKI_DISK_BUDGET={defaults['LOKI_DISK_BUDGET']} "
        "([.env.example](.env.example))."
    )
    volumes = results.get("volume_bytes") or {}
    if not volumes:
        return f"**Disk.** Data volumes after demo traffic: not measured yet. {caps}"
    minutes = round(results["demo_traffic_seconds"] / 60)
    return (
        f"**Disk.** {sum(volumes.values()) / GIB:.2f} GiB in the data volumes after {minutes} min "
        f"of demo traffic (same measurement). {caps}"
    )


def agents_text(results: dict) -> str:
    """The Scaling section's figures from the agent benchmark, or that it has not run."""
    if not results:
        return "Agent figures: not measured yet (`make bench` measures them)."
    return (
        f"Measured by `make bench` ({results['machine']}, {results['measured_at']}; "
        "[docs/results/agent-ingest.json](docs/results/agent-ingest.json)): an agent scraping "
        f"{results['bots']} bots × {results['series_per_bot']:,} series every 10 s holds "
        f"{results['agent_rss_bytes'] / MIB:.0f} MB resident (target ≤ 300 MB) and uses "
        f"{results['agent_cpu_share']:.1%} of a core (≤ 10 %). After a "
        f"{results['outage_seconds'] / 60:.0f}-minute central outage it had sent its whole backlog "
        f"{results['replay_seconds']:.0f} s after the central Prometheus was back (target ≤ 60 s; "
        f"AgentDown waits {results['agent_down_for_seconds'] / 60:.0f} min), with no scrape "
        f"missing. While catching up, writing straight to Prometheus moved "
        f"{results['gateway_overhead_ratio']:.2f}× the samples per second of the path through the "
        f"gateway ({results['samples_per_second_gateway']:,.0f}/s; target ≤ 1.2×)."
    )


def env_defaults() -> dict[str, str]:
    pairs = re.findall(r"^([A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M)
    return dict(pairs)


def render(readme: str) -> str:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    text = memory_text(results, mem_limits(), mem_limits("host"))
    text += "\n\n" + disk_text(results, env_defaults())
    if not BLOCK.search(readme) or not AGENT_BLOCK.search(readme):
        raise SystemExit("README.md lacks a generated block (memory and disk, agents)")
    readme = BLOCK.sub(lambda m: m.group(1) + text + m.group(2), readme)
    agents = json.loads(AGENT_RESULTS.read_text(encoding="utf-8")) if AGENT_RESULTS.exists() else {}
    return AGENT_BLOCK.sub(lambda m: m.group(1) + agents_text(agents) + m.group(2), readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md's generated figures are stale: run python3 scripts/readme_figures.py")
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
