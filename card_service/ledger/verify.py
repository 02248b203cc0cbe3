"""``ledger verify``: recompute everything the ledger caches and walk the tamper-evident chain.

Reads only. Each check names the first account or batch that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from card_service.ledger import history
from card_service.ledger.seal import GENESIS, content_hash, link
from card_service.ledger.store import TRANSFER_COLUMNS, store_for

Progress = Callable[[str, int, int], None]


@dataclass
class VerifyReport:
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _noop(_step: str, _done: int, _total: int) -> None:
    return None


def verify(session: Session, progress: Progress = _noop) -> VerifyReport:
    report = VerifyReport()
    _balances(session, report, progress)
    _running_balances(session, report)
    _chain(session, report, progress)
    if session.get_bind().dialect.name == "sqlite":
        _history_index(session, report)
    return report


def _history_index(session: Session, report: VerifyReport) -> None:
    """SQLite: each transfer up to the index's mark has its two entries, and no entry is stray."""
    missing = session.execute(text(history.MISSING)).scalar()
    if missing is not None:
        tid = store_for(session).to_id(missing)
        report.problems.append(f"history index: transfer {tid} lacks an entry")
    stray = int(session.execute(text(history.STRAY)).scalar_one())
    if stray:
        report.problems.append(f"history index: {stray} entries match no transfer")
    report.checked["history_entries"] = int(
        session.execute(text("SELECT count(*) FROM ledger_history")).scalar_one()
    )


def _balances(session: Session, report: VerifyReport, progress: Progress) -> None:
    sums: dict[int, list[int]] = {}
    rows = session.execute(
        text(
            "SELECT account_id, is_debit, SUM(posted_delta), SUM(pending_delta), MAX(timestamp) "
            "FROM ledger_entries GROUP BY account_id, is_debit"
        )
    )
    for account_id, is_debit, posted, pending, newest in rows:
        s = sums.setdefault(int(account_id), [0, 0, 0, 0, 0])
        base = 0 if int(is_debit) else 1
        s[base] += int(posted)
        s[base + 2] += int(pending)
        s[4] = max(s[4], int(newest))
    accounts = session.execute(
        text(
            "SELECT id, code, flags, floor_cents, debits_posted, credits_posted, debits_pending, "
            "credits_pending, timestamp_last FROM ledger_accounts ORDER BY id"
        )
    ).all()
    total = [0, 0, 0, 0]
    for n, (aid, code, flags, floor, dp, cp, dpe, cpe, ts_last) in enumerate(accounts, 1):
        want = sums.pop(int(aid), [0, 0, 0, 0, 0])
        cached = [dp, cp, dpe, cpe]
        if cached != want[:4]:
            names = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
            diff = ", ".join(
                f"{k} cached {c} recomputed {w}"
                for k, c, w in zip(names, cached, want[:4], strict=True)
                if c != w
            )
            report.problems.append(f"account {aid} ({code}): {diff}")
        if want[4] and ts_last < want[4]:
            report.problems.append(f"account {aid} ({code}): timestamp_last behind its entries")
        if flags & 1 and dp + dpe > cp + (floor or 0):
            report.problems.append(f"account {aid} ({code}): debits exceed credits and floor")
        if flags & 2 and cp + cpe > dp + (floor or 0):
            report.problems.append(f"account {aid} ({code}): credits exceed debits and floor")
        total = [t + c for t, c in zip(total, cached, strict=True)]
        if n % 5000 == 0:
            progress("balances", n, len(accounts))
    progress("balances", len(accounts), len(accounts))
    for aid in sums:
        report.problems.append(f"entries name account {aid}, which does not exist")
    if total[0] != total[1]:
        report.problems.append(f"posted debits {total[0]} differ from posted credits {total[1]}")
    if total[2] != total[3]:
        report.problems.append(f"pending debits {total[2]} differ from pending credits {total[3]}")
    report.checked["accounts"] = len(accounts)
    report.checked["debits_posted_cents"] = total[0]


def _running_balances(session: Session, report: VerifyReport) -> None:
    """Each entry's balance_after must be the account's running posted balance."""
    row = session.execute(
        text(
            "SELECT account_id, timestamp, balance_after_cents, running FROM ("
            " SELECT account_id, timestamp, balance_after_cents,"
            "  SUM(CASE WHEN is_debit = 1 THEN -posted_delta ELSE posted_delta END)"
            "   OVER (PARTITION BY account_id ORDER BY timestamp"
            "         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running"
            " FROM ledger_entries) e WHERE balance_after_cents <> running "
            "ORDER BY account_id, timestamp LIMIT 1"
        )
    ).first()
    if row is not None:
        report.problems.append(
            f"account {row[0]}: entry at {row[1]} says balance {row[2]}, entries sum to {row[3]}"
        )
    report.checked["entries"] = int(
        session.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one() * 2
    )


def _chain(session: Session, report: VerifyReport, progress: Progress) -> None:
    store = store_for(session)
    links = session.execute(
        text(
            "SELECT c.position, c.batch_id, c.chain_hash, b.content_hash, b.transfer_count "
            "FROM ledger_chain c LEFT JOIN ledger_batches b ON b.id = c.batch_id "
            "ORDER BY c.position"
        )
    ).all()
    head = GENESIS
    expected_hash: dict[int, tuple[bytes, int]] = {}
    for i, (position, batch_id, chain_hash, batch_hash, count) in enumerate(links, 1):
        if position != i:
            report.problems.append(f"chain: position {i} is missing (next is {position})")
            return
        if batch_hash is None:
            report.problems.append(f"chain position {position}: batch {batch_id} is missing")
            return
        head = link(head, int(batch_id), bytes(batch_hash))
        if head != bytes(chain_hash):
            report.problems.append(f"chain position {position} (batch {batch_id}): hash mismatch")
            return
        expected_hash[int(batch_id)] = (bytes(batch_hash), int(count))
    report.checked["chain_links"] = len(links)
    # Recompute each batch's content hash from its transfers, streaming in batch order.
    conn = store.raw(session)
    cur = conn.cursor()
    cur.execute(
        f"SELECT {TRANSFER_COLUMNS}, batch_id FROM ledger_transfers ORDER BY batch_id, timestamp"
    )
    current: int | None = None
    rows: list[tuple[object, ...]] = []
    seen_batches = 0

    def close(batch_id: int, batch_rows: list[tuple[object, ...]]) -> None:
        want = expected_hash.pop(batch_id, None)
        if want is None:
            report.warnings.append(f"batch {batch_id} is not sealed yet")
            return
        if len(batch_rows) != want[1] or content_hash(batch_rows) != want[0]:
            report.problems.append(f"batch {batch_id}: its transfers do not match its hash")

    while True:
        chunk = cur.fetchmany(10_000)
        if not chunk:
            break
        for raw in chunk:
            t = store._transfer(raw)
            batch_id = int(raw[13])
            if batch_id != current:
                if current is not None:
                    close(current, rows)
                    seen_batches += 1
                current, rows = batch_id, []
            rows.append(t)
        progress("chain", seen_batches, len(links))
    if current is not None:
        close(current, rows)
        seen_batches += 1
    for batch_id, (_, count) in expected_hash.items():
        if count:
            report.problems.append(f"batch {batch_id}: its {count} transfers are missing")
    report.checked["batches"] = seen_batches
    unsealed = session.execute(
        text(
            "SELECT COUNT(*) FROM ledger_batches b LEFT JOIN ledger_chain c ON c.batch_id = b.id "
            "WHERE c.batch_id IS NULL"
        )
    ).scalar_one()
    if unsealed:
        report.warnings.append(f"{unsealed} batches are not chained yet (still in flight?)")
