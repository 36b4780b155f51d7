"""Where a round's time goes, read after the round from what the services record anyway.

Every service writes its outbox rows (created_at, published_at) and its inbox marks
(handled_at) with the time, and the matcher logs when a solve begins; the mail server's
files have the time each message arrived. Read together, they split launch-to-last-message
into its steps without adding a line of timing code to the services.
Used by bench_pipeline.py; these are measurements, not tests.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path


def _seconds(value: str | None) -> float | None:
    """A stored timestamp (UTC; SQLite keeps it as text) as seconds since the epoch."""
    if value is None:
        return None
    when = dt.datetime.fromisoformat(value)
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _outbox(db: Path, round_id: str, event_type: str) -> list[tuple[str, float | None, float | None]]:
    rows = _rows(
        db,
        "select event_id, created_at, published_at from outbox"
        " where json_extract(headers, '$.correlation_id') = ? and json_extract(headers, '$.event_type') = ?",
        round_id,
        event_type,
    )
    return [(event_id, _seconds(created), _seconds(published)) for event_id, created, published in rows]


def _handled(db: Path, event_ids: list[str]) -> list[float]:
    if not event_ids:
        return []
    marks = ",".join("?" for _ in event_ids)
    handled = _rows(db, f"select handled_at from inbox where event_id in ({marks})", *event_ids)
    return [s for (h,) in handled if (s := _seconds(h)) is not None]


def _solve_began(log: Path, round_id: str) -> float | None:
    """When the matcher logged that it began solving the round (its log lines are JSON, or plain text)."""
    if not log.exists():
        return None
    for line in log.read_text(errors="replace").splitlines():
        if f"solving round {round_id} " not in line:
            continue
        try:
            return _seconds(json.loads(line)["time"])
        except (ValueError, KeyError):
            return None
    return None


def stages(
    data_dir: Path, round_id: str, started: float, proposed: float, published: float, arrived: list[float]
) -> list[tuple[str, float, float]]:
    """Each step of the round: its name, seconds since the launch request (`started`) and since the step before."""
    registry, matcher, notifier = (data_dir / f"{name}.db" for name in ("registry", "matcher", "notifier"))
    requested = _outbox(registry, round_id, "RoundRequested")
    solved = _outbox(matcher, round_id, "RoundSolved")
    outcomes = _outbox(registry, round_id, "OutcomePublished")
    marks: list[tuple[str, float | None]] = [
        ("launch request sent", started),
        ("RoundRequested written to the registry's outbox", requested[0][1] if requested else None),
        ("RoundRequested sent to the broker by the relay", requested[0][2] if requested else None),
        ("the matcher began solving", _solve_began(data_dir / "logs" / "matcher.log", round_id)),
        ("RoundSolved written to the matcher's outbox", solved[0][1] if solved else None),
        ("RoundSolved sent to the broker by the relay", solved[0][2] if solved else None),
        ("the registry recorded the proposal", min(_handled(registry, [s[0] for s in solved]), default=None)),
        ("the benchmark saw the proposal", proposed),
        ("approved and published (the API answered)", published),
        ("first outcome sent to the broker", min((o[2] for o in outcomes if o[2]), default=None)),
        ("last outcome sent to the broker", max((o[2] for o in outcomes if o[2]), default=None)),
        ("the notifier took the first outcome", min(_handled(notifier, [o[0] for o in outcomes]), default=None)),
        ("first message at the mail server", min(arrived, default=None)),
        ("the notifier took the last outcome", max(_handled(notifier, [o[0] for o in outcomes]), default=None)),
        ("last message at the mail server", max(arrived, default=None)),
    ]
    steps, before = [], started
    for name, when in marks[1:]:
        if when is None:
            continue
        steps.append((name, when - started, when - before))
        before = when
    return steps
