"""`make drill` (list every alert and what makes it fire), `make drill ALERT=<name>|all` (run it on
the running stack and report time to firing, to Alertmanager, to each channel and to resolved)."""

from __future__ import annotations

import argparse
import sys
import time

from .catalog import BY_ALERT
from .rules import alert_rules, seconds

# Waiting margin beyond a rule's own `for:` plus its longest range window.
MARGIN = 120.0


def listing() -> list[str]:
    out = [f"{'ALERT':34} {'ENGINE':10} {'FOR':5} {'PROOF':8} WHAT MAKES IT FIRE"]
    seen = set()
    for rule in alert_rules():
        if rule.alert in seen:
            continue
        seen.add(rule.alert)
        drill = BY_ALERT.get(rule.alert)
        if drill:
            what = drill.how + (f" (make test only: {drill.off_stack})" if drill.off_stack else "")
        else:
            what = "NO DRILL (make test fails until one is added)"
        mode = drill.mode if drill else "-"
        out.append(f"{rule.alert:34} {rule.engine:10} {rule.for_ or '-':5} {mode:8} {what}")
    return out


def expected_wait(alert: str) -> float:
    """Seconds a rule needs, at most, from condition to firing: `for:` plus its longest window."""
    import re

    longest = 0.0
    for rule in alert_rules():
        if rule.alert == alert:
            windows = [seconds(w) for w in re.findall(r"\[(\w+)\]", rule.expr)]
            longest = max(longest, seconds(rule.for_) + max(windows, default=0.0))
    return longest + MARGIN


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make drill", description=__doc__)
    parser.add_argument("alert", nargs="?", help="alert name, or all")
    parser.add_argument("--max-wait", type=float, default=900.0,
                        help="give up waiting for one alert after this many seconds")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.alert:
        print("\n".join(listing()))
        print("\nRun one: make drill ALERT=<name>    all of them: make drill ALERT=all")
        return 0
    from .compose import ComposeEnvironment
    from .runner import run

    names = list(BY_ALERT) if args.alert == "all" else [args.alert]
    unknown = [n for n in names if n not in BY_ALERT]
    if unknown:
        print(f"no drill for {', '.join(unknown)}; `make drill` lists them", file=sys.stderr)
        return 2
    env = ComposeEnvironment()
    started, failed = time.monotonic(), 0
    for name in names:
        drill = BY_ALERT[name]
        timeout = min(expected_wait(name), args.max_wait)
        result = run(env, drill, timeout)
        getattr(env, "finish", lambda d: None)(drill)
        print("\n".join(result.lines()))
        if result.firing is None:
            failed += 1
            print(f"  did not fire within {timeout:.0f}s (longer rules are proven by `make test`)")
    print(f"\n{len(names)} drill(s) in {time.monotonic() - started:.0f}s, {failed} did not fire")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
