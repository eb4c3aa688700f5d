"""Watchy Zoom monitor: rates Zoom API, meeting-join and media checks.

Zoom-specific rule: a media check with ``packet_loss_pct`` above the threshold is degraded
(calls stay up but audio and video break up).
"""

import sys

from watchy_monitor_common import Monitor, main


def zoom_rule(check, thresholds):
    loss = check.get("packet_loss_pct")
    if isinstance(loss, (int, float)) and not isinstance(loss, bool) and loss > thresholds["packet_loss_pct"]:
        return f"packet loss {loss:g}% over {thresholds['packet_loss_pct']:g}%"
    return None


MONITOR = Monitor(
    app="zoom",
    display_name="Zoom",
    default_thresholds={"latency_ms": 1000, "packet_loss_pct": 2},
    rule=zoom_rule,
)

if __name__ == "__main__":
    sys.exit(main(MONITOR))
