"""SQLite: each account's history, indexed in sorted runs rather than row by row.

An index on (account, time) for each side of a transfer puts every new entry on the page of its
account: a batch of fares from thousands of purses dirties thousands of pages, each rewritten to
the WAL at commit, and the more history there is the more pages a batch touches. So on SQLite the
transfers table has no such index. ``ledger_history`` holds the two entries of every transfer up
to a mark (``ledger_history_state.indexed_upto``, a rowid of ``ledger_transfers``), written by
``catch_up`` in one sorted INSERT, which touches each page once per run instead of once per batch.
Reads take the indexed entries and scan the transfers after the mark, which are at most
``INDEX_EVERY`` rows plus one batch: a write that leaves more behind catches up in its own
transaction, and the service's maintenance loop catches up whenever anything is behind.

Rowids of ledger_transfers are a gap-free sequence: rows are never deleted (triggers refuse it),
and a new row takes the largest rowid plus one. The entries name transfers by id, not rowid, and
``verify`` checks that every transfer up to the mark has exactly its two entries.

PostgreSQL keeps the plain indexes: its writers commit concurrently and out of rowid order, and
its COPY path meets its target with them. See docs/decisions/0011.
"""

from __future__ import annotations

from typing import Any

INDEX_EVERY = 50_000

_BEHIND = (
    "SELECT coalesce((SELECT max(rowid) FROM ledger_transfers), 0), indexed_upto "
    "FROM ledger_history_state WHERE id = 1"
)
_CATCH_UP = """
INSERT INTO ledger_history (account_id, timestamp, transfer_id)
SELECT account_id, timestamp, transfer_id FROM (
  SELECT debit_account_id AS account_id, timestamp, id AS transfer_id
  FROM ledger_transfers WHERE rowid > ?1 AND rowid <= ?2
  UNION ALL
  SELECT credit_account_id, timestamp, id FROM ledger_transfers WHERE rowid > ?1 AND rowid <= ?2
) ORDER BY 1, 2, 3
"""

# An account's entries (columns of ledger_entries), newest first: those indexed, and those of the
# transfers after the mark, found by a scan of at most INDEX_EVERY rows plus a batch.
ENTRIES = """
WITH mark AS (SELECT indexed_upto AS upto FROM ledger_history_state WHERE id = 1),
picked AS (
  SELECT transfer_id, timestamp FROM ledger_history
  WHERE account_id = :a AND timestamp >= :lo AND timestamp < :hi
  UNION ALL
  SELECT id, timestamp FROM ledger_transfers
  WHERE rowid > (SELECT upto FROM mark) AND (debit_account_id = :a OR credit_account_id = :a)
    AND timestamp >= :lo AND timestamp < :hi
  ORDER BY timestamp DESC LIMIT :n
)
SELECT transfer_id, timestamp, is_debit, posted_delta, pending_delta, balance_after_cents, code,
  user_data, other_account_id FROM ledger_entries
WHERE account_id = :a AND transfer_id IN (SELECT transfer_id FROM picked)
ORDER BY timestamp DESC
"""


def behind(conn: Any) -> tuple[int, int]:
    """The newest transfer's rowid, and the mark: the entries of those between are not indexed."""
    top, upto = conn.execute(_BEHIND).fetchone()
    return int(top), int(upto)


def catch_up(conn: Any, at_least: int = 1) -> int:
    """Index every transfer after the mark when ``at_least`` of them are waiting, in the caller's
    transaction (which must hold SQLite's write lock); returns how many were indexed."""
    top, upto = behind(conn)
    if top - upto < at_least:
        return 0
    conn.execute(_CATCH_UP, (upto, top))
    conn.execute("UPDATE ledger_history_state SET indexed_upto = ? WHERE id = 1", (top,))
    return top - upto


# verify: a transfer up to the mark that lacks one of its entries, and how many entries there are
# against how many there should be (with none missing, any extra one shows in the count).
MISSING = """
SELECT t.id FROM ledger_transfers t
WHERE t.rowid <= (SELECT indexed_upto FROM ledger_history_state WHERE id = 1) AND (
  NOT EXISTS (SELECT 1 FROM ledger_history h WHERE h.account_id = t.debit_account_id
              AND h.timestamp = t.timestamp AND h.transfer_id = t.id)
  OR NOT EXISTS (SELECT 1 FROM ledger_history h WHERE h.account_id = t.credit_account_id
                 AND h.timestamp = t.timestamp AND h.transfer_id = t.id))
LIMIT 1
"""
COUNTS = """
SELECT (SELECT count(*) FROM ledger_history),
  2 * (SELECT count(*) FROM ledger_transfers
       WHERE rowid <= (SELECT indexed_upto FROM ledger_history_state WHERE id = 1))
"""
