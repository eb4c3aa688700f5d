"""Watchy Slack monitor: rates Slack API, websocket and webhook checks.

Slack-specific rule: a websocket check with more than ``websocket_reconnects`` reconnects in
the observation window is degraded (Socket Mode apps silently miss events while reconnecting).
"""

import sys

from watchy_monitor_common import Monitor, main


def slack_rule(check, thresholds):
    reconnects = check.get("websocket_reconnects")
    if isinstance(reconnects, int) and reconnects > thresholds["websocket_reconnects"]:
        return f"{reconnects} websocket reconnects over {thresholds['websocket_reconnects']:g}"
    return None


MONITOR = Monitor(
    app="slack",
    display_name="Slack",
    default_thresholds={"latency_ms": 1500, "websocket_reconnects": 3},
    rule=slack_rule,
)

if __name__ == "__main__":
    sys.exit(main(MONITOR))
