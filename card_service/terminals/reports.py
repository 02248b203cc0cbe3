"""Reports on settled taps: the exceptions (revenue loss) and rejections, and totals."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from card_service.terminals.models import SettledTap
from card_service.terminals.schemas import ExceptionRow


def exceptions(session: Session, *, limit: int = 500, after_ns: int = 0) -> list[ExceptionRow]:
    rows = session.scalars(
        select(SettledTap)
        .where(SettledTap.outcome.in_(("exception", "rejected")), SettledTap.settled_at > after_ns)
        .order_by(SettledTap.settled_at, SettledTap.terminal_id, SettledTap.seq)
        .limit(limit)
    )
    return [
        ExceptionRow(
            terminal_id=t.terminal_id,
            seq=t.seq,
            outcome=t.outcome,
            reason=t.reason,
            card_uid=t.card_uid.hex().upper() if t.card_uid else None,
            tap_time=t.tap_time,
            holder_cents=t.holder_cents,
            concession_cents=t.concession_cents,
            service=t.service,
        )
        for t in rows
    ]


def totals(session: Session) -> dict[str, dict[str, int]]:
    """Per outcome: taps, holder cents and concession cents."""
    rows = session.execute(
        select(
            SettledTap.outcome,
            func.count(),
            func.coalesce(func.sum(SettledTap.holder_cents), 0),
            func.coalesce(func.sum(SettledTap.concession_cents), 0),
        ).group_by(SettledTap.outcome)
    )
    return {
        o: {"taps": int(n), "holder_cents": int(h), "concession_cents": int(c)}
        for o, n, h, c in rows
    }
