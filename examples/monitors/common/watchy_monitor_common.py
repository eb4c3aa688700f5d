"""Shared core of the Watchy monitors: event parsing, check evaluation and the command line.

Each monitor (``watchy_<app>_monitor.py``) supplies its app name, default thresholds and one
app-specific rule; everything else - the event format, the report format and the exit codes
documented in ``examples/monitors/README.md`` - lives here so the three monitors cannot drift.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Callable, Dict, List, Optional, Sequence

from dateutil import parser as date_parser

try:  # Written by the build (buildspecs/nuitka.yml); absent when run from source.
    from watchy_build_info import VERSION as BUILD_VERSION  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on how the monitor is run
    BUILD_VERSION = "0.0.0+source"

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_EVENT = 2

MAX_EVENT_BYTES = 1024 * 1024
MAX_CHECKS = 100
STATUSES = ("ok", "degraded", "down")


class BadEvent(ValueError):
    """The event is not a valid monitor event; the message names the field."""


# An app-specific rule: (check, thresholds) -> a reason the check is degraded, or None.
AppRule = Callable[[Dict[str, Any], Dict[str, float]], Optional[str]]


@dataclass(frozen=True)
class Monitor:
    app: str
    display_name: str
    default_thresholds: Dict[str, float]
    rule: AppRule


def _number(value: Any, field: str, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise BadEvent(f"{field}: expected a number >= {minimum:g}, got {json.dumps(value)}")
    return float(value)


def parse_event(text: str) -> Dict[str, Any]:
    if len(text.encode("utf-8")) > MAX_EVENT_BYTES:
        raise BadEvent(f"event: larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadEvent(f"event: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    if not isinstance(event, dict):
        raise BadEvent("event: expected a JSON object")
    workspace = event.get("workspace")
    if not isinstance(workspace, str) or not workspace.strip():
        raise BadEvent("workspace: expected a non-empty string")
    checks = event.get("checks")
    if not isinstance(checks, list) or not 1 <= len(checks) <= MAX_CHECKS:
        raise BadEvent(f"checks: expected a list of 1 to {MAX_CHECKS} checks")
    for index, check in enumerate(checks):
        where = f"checks[{index}]"
        if not isinstance(check, dict):
            raise BadEvent(f"{where}: expected an object")
        if not isinstance(check.get("name"), str) or not check["name"]:
            raise BadEvent(f"{where}.name: expected a non-empty string")
        status_code = check.get("status_code")
        if isinstance(status_code, bool) or not isinstance(status_code, int) or not 0 <= status_code <= 599:
            raise BadEvent(f"{where}.status_code: expected an integer 0-599 (0 = no response)")
        _number(check.get("latency_ms"), f"{where}.latency_ms")
        observed = check.get("observed_at")
        if observed is not None:
            try:
                parsed = date_parser.isoparse(observed) if isinstance(observed, str) else None
            except ValueError:
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise BadEvent(f"{where}.observed_at: expected an ISO-8601 time with a UTC offset")
    thresholds = event.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise BadEvent("thresholds: expected an object")
    for key, value in thresholds.items():
        _number(value, f"thresholds.{key}")
    return event


def _evaluate(monitor: Monitor, check: Dict[str, Any], thresholds: Dict[str, float]) -> Dict[str, Any]:
    code = check["status_code"]
    latency = float(check["latency_ms"])
    if code == 0:
        status, reason = "down", "no response"
    elif code >= 500:
        status, reason = "down", f"HTTP {code}"
    elif code == 429:
        status, reason = "degraded", "rate limited (HTTP 429)"
    elif code >= 400:
        status, reason = "down", f"HTTP {code}"
    elif latency > thresholds["latency_ms"]:
        status, reason = "degraded", f"latency {latency:g} ms over {thresholds['latency_ms']:g} ms"
    else:
        app_reason = monitor.rule(check, thresholds)
        status, reason = ("degraded", app_reason) if app_reason else ("ok", None)
    result: Dict[str, Any] = {"name": check["name"], "status": status, "latency_ms": latency}
    if reason:
        result["reason"] = reason
    return result


def build_report(monitor: Monitor, event: Dict[str, Any]) -> Dict[str, Any]:
    thresholds = {**monitor.default_thresholds, **{k: float(v) for k, v in event.get("thresholds", {}).items()}}
    results = [_evaluate(monitor, check, thresholds) for check in event["checks"]]
    counts = {status: sum(1 for r in results if r["status"] == status) for status in STATUSES}
    overall = "down" if counts["down"] else "degraded" if counts["degraded"] else "ok"
    times = sorted(
        date_parser.isoparse(c["observed_at"]).astimezone(timezone.utc)
        for c in event["checks"]
        if c.get("observed_at") is not None
    )
    return {
        "app": monitor.app,
        "saas_app": monitor.display_name,
        "monitor_version": BUILD_VERSION,
        "workspace": event["workspace"],
        "status": overall,
        "checks": results,
        "summary": {
            "total": len(results),
            **counts,
            "max_latency_ms": max(r["latency_ms"] for r in results),
            "window_seconds": (times[-1] - times[0]).total_seconds() if times else 0,
        },
    }


USAGE = """usage: watchy-{app}-monitor [EVENT_JSON | -]
       watchy-{app}-monitor --version

Reads one JSON monitor event (from the argument, or stdin when it is absent or "-") and
writes one JSON report to stdout. Exit codes: 0 report written, 2 bad event or usage,
1 internal error."""


def main(monitor: Monitor, argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    name = f"watchy-{monitor.app}-monitor"
    if args in (["--version"], ["-V"]):
        print(f"{name} {BUILD_VERSION}")
        return EXIT_OK
    if args in (["--help"], ["-h"]):
        print(USAGE.format(app=monitor.app))
        return EXIT_OK
    if len(args) > 1 or (args and args[0].startswith("--")):
        print(f"{name}: bad usage (see --help)", file=sys.stderr)
        return EXIT_BAD_EVENT
    try:
        text = sys.stdin.read(MAX_EVENT_BYTES + 1) if not args or args[0] == "-" else args[0]
        report = build_report(monitor, parse_event(text))
    except BadEvent as error:
        print(f"{name}: bad event: {error}", file=sys.stderr)
        return EXIT_BAD_EVENT
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        print(f"{name}: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_INTERNAL
    json.dump(report, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return EXIT_OK
