"""Timestamps in TaskRun statuses, for tests that compare them."""

from __future__ import annotations

import datetime


def seconds_between(earlier: str, later: str) -> float:
    def parse(text: str) -> datetime.datetime:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

    return (parse(later) - parse(earlier)).total_seconds()
