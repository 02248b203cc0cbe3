"""The database's ``CounterLedger`` (card_service.protocol.settlement) used at settlement.

A claim is a row in the caller's transaction: it commits with the settlement that relied on it,
or rolls back with it. Two settlements claiming the same counter at once: the unique key makes
the second wait for the first, then find the row and refuse (a replayed tap).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from card_service.ledger.clock import now_ns
from card_service.terminals.models import SettledCounter

# Arrays go as literals of hex and digits: far cheaper to build than psycopg's dumped lists. The
# answer is the pairs NOT claimed (found before, or listed twice): usually none, so no row per
# tap comes back to Python.
_REFUSED_PG = text(
    "WITH t AS MATERIALIZED (SELECT decode(u, 'hex') AS u, c FROM unnest(CAST(:uids AS text[]), "
    "CAST(:counters AS bigint[])) AS t(u, c)), "
    "ins AS (INSERT INTO terminals_settled_counters (card_uid, counter, settled_at) "
    "SELECT u, c, :ts FROM t ON CONFLICT DO NOTHING RETURNING card_uid, counter) "
    "SELECT u, c FROM t EXCEPT ALL SELECT card_uid, counter FROM ins"
)
_COPY_PG = "COPY terminals_settled_counters (card_uid, counter, settled_at) FROM STDIN"
_SQLITE_ROWS = 3000  # 3 parameters a row, below SQLite's 32,766 variables


class DbCounterLedger:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, uid: bytes, counter: int) -> bool:
        """Record ``counter`` for the card; False if it was recorded before."""
        dialect = self.session.get_bind().dialect.name
        values = {"card_uid": uid, "counter": counter, "settled_at": now_ns()}
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            make(SettledCounter)
            .values(values)
            .on_conflict_do_nothing()
            .returning(SettledCounter.counter)
        )
        return self.session.execute(statement).first() is not None

    def claim_many(self, claims: Sequence[tuple[bytes, int]]) -> set[tuple[bytes, int]]:
        """Claim many (uid, counter) pairs in one statement; the pairs that were new.

        A pair listed twice is claimed once."""
        unique = list(dict.fromkeys(claims))
        return set(unique) - self.refuse_many(unique)

    def _copy_all(self, unique: list[tuple[bytes, int]], ts: int) -> bool:
        """PostgreSQL, the usual batch (no counter seen before): COPY every claim, in a
        savepoint. A counter claimed before (or by a settlement still in flight, which COPY
        waits for) fails the COPY with a unique violation: the savepoint is rolled back and
        False returned, for ``_REFUSED_PG`` to sort the batch out pair by pair. COPY costs
        PostgreSQL about a third of an INSERT ... ON CONFLICT with its per-row speculative
        insertion."""
        import psycopg

        raw = self.session.connection().connection.driver_connection
        assert raw is not None
        data = "".join([f"\\\\x{u.hex()}\t{c}\t{ts}\n" for u, c in unique])  # COPY text
        cur = raw.cursor()
        # A savepoint in the caller's transaction (begun by this statement if need be: never a
        # transaction of its own, which would commit the claims without their settlement).
        cur.execute("SAVEPOINT counter_claims")
        try:
            with cur.copy(_COPY_PG) as copy:
                copy.write(data)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT counter_claims")
            return False
        cur.execute("RELEASE SAVEPOINT counter_claims")
        return True

    def refuse_many(self, claims: Sequence[tuple[bytes, int]]) -> set[tuple[bytes, int]]:
        """Claim many (uid, counter) pairs in one statement; the pairs that were NOT new
        (claimed before). A pair listed twice is claimed once (and not refused)."""
        if not claims:
            return set()
        ts = now_ns()
        if self.session.get_bind().dialect.name == "postgresql":
            unique = list(dict.fromkeys(claims))
            if self._copy_all(unique, ts):
                return set()
            rows = self.session.execute(
                _REFUSED_PG,
                {
                    "ts": ts,
                    "uids": "{" + ",".join([u.hex() for u, _ in unique]) + "}",
                    "counters": "{" + ",".join([str(c) for _, c in unique]) + "}",
                },
            )
            return {(bytes(u), int(c)) for u, c in rows}
        unique = list(dict.fromkeys(claims))
        claimed: set[tuple[bytes, int]] = set()
        for at in range(0, len(unique), _SQLITE_ROWS):
            chunk = unique[at : at + _SQLITE_ROWS]
            statement = (
                sqlite_insert(SettledCounter)
                .values([{"card_uid": u, "counter": c, "settled_at": ts} for u, c in chunk])
                .on_conflict_do_nothing()
                .returning(SettledCounter.card_uid, SettledCounter.counter)
            )
            claimed |= {(bytes(u), int(c)) for u, c in self.session.execute(statement)}
        return set(unique) - claimed
