"""Watchy GitHub monitor: rates GitHub REST, GraphQL and webhook-delivery checks.

GitHub-specific rule: a check reporting ``rate_limit_remaining`` below ``rate_limit_pct``
percent of its ``rate_limit_limit`` is degraded (the next burst of calls will get HTTP 403).
"""

import sys

from watchy_monitor_common import Monitor, main


def github_rule(check, thresholds):
    remaining, limit = check.get("rate_limit_remaining"), check.get("rate_limit_limit")
    if isinstance(remaining, int) and isinstance(limit, int) and limit > 0:
        percent = 100.0 * remaining / limit
        if percent < thresholds["rate_limit_pct"]:
            return f"rate limit at {percent:.1f}% ({remaining}/{limit})"
    return None


MONITOR = Monitor(
    app="github",
    display_name="GitHub",
    default_thresholds={"latency_ms": 2000, "rate_limit_pct": 10},
    rule=github_rule,
)

if __name__ == "__main__":
    sys.exit(main(MONITOR))
