"""SQLite: a batch's transfers as one packed blob, inserted by one statement.

``executemany`` binds each row in Python and holds the GIL between rows, so nothing else in the
process can run while it writes. One ``INSERT ... SELECT`` over a blob runs in a single
``sqlite3_step``, with the GIL released throughout: the rules can decide the next rows meanwhile
(see store.SQLiteStore.settle), and it costs less CPU per row than ``executemany`` did.

A row is fixed-width ASCII (ids as their 16 bytes, integers as 20 decimal characters, the two
text lengths in bytes) followed by its code and user data as UTF-8; a recursive CTE walks the
rows, and SQLite casts each field back. Nothing about the stored rows changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from card_service.ledger.rules import StoredTransfer

_INT = 20
_LEN = 10
_ZERO_ID = bytes(16)
_NULL_INT = b" " * _INT
_ROW = b"%s%s" + b"%20d" * 5 + b"%20s" + b"%20d" * 3 + b"%10d%10d%s%s"
# Offsets (from 0) of the fixed part: id, pending id, then the integers in _INTS' order.
_INTS = ("debit", "credit", "amount", "flags", "timeout", "expires", "ts", "drb", "crb")
_AT = {name: 32 + k * _INT for k, name in enumerate(_INTS)}
_CODE_LEN = 32 + len(_INTS) * _INT
_UD_LEN = _CODE_LEN + _LEN
_FIXED = _UD_LEN + _LEN


def pack(rows: Iterable[StoredTransfer]) -> bytes:
    """The rows, packed for INSERT_PACKED (``user_data`` None has length -1)."""
    out = []
    for t in rows:
        code = t[5].encode()
        ud = t[6]
        data = b"" if ud is None else ud.encode()
        out.append(
            _ROW
            % (
                t[0].bytes,
                _ZERO_ID if t[4] is None else t[4].bytes,
                t[1],
                t[2],
                t[3],
                t[7],
                t[8],
                _NULL_INT if t[9] is None else b"%d" % t[9],
                t[10],
                t[11],
                t[12],
                len(code),
                -1 if ud is None else len(data),
                code,
                data,
            )
        )
    return b"".join(out)


def _field(name: str) -> str:
    return f"CAST(substr(?1, r.i + {_AT[name]}, {_INT}) AS INTEGER)"


_NEXT = f"r.i + {_FIXED} + r.lc + max(r.lu, 0)"
_LENGTHS = (
    f"CAST(substr(?1, {{i}} + {_CODE_LEN}, {_LEN}) AS INTEGER), "
    f"CAST(substr(?1, {{i}} + {_UD_LEN}, {_LEN}) AS INTEGER)"
)
_SPACES = "x'" + "20" * _INT + "'"


def insert_sql(columns: str) -> str:
    """INSERT of a packed blob (?1) into ledger_transfers, every row with batch id ?2."""
    return f"""
WITH RECURSIVE r(i, lc, lu) AS (
  SELECT 1, {_LENGTHS.format(i=1)} WHERE length(?1) > 0
  UNION ALL
  SELECT {_NEXT}, {_LENGTHS.format(i=_NEXT)} FROM r WHERE {_NEXT} <= length(?1)
)
INSERT INTO ledger_transfers ({columns}, batch_id)
SELECT substr(?1, r.i, 16), {_field("debit")}, {_field("credit")}, {_field("amount")},
  nullif(substr(?1, r.i + 16, 16), zeroblob(16)),
  CAST(substr(?1, r.i + {_FIXED}, r.lc) AS TEXT),
  CASE WHEN r.lu < 0 THEN NULL ELSE CAST(substr(?1, r.i + {_FIXED} + r.lc, r.lu) AS TEXT) END,
  {_field("flags")}, {_field("timeout")},
  CAST(nullif(substr(?1, r.i + {_AT["expires"]}, {_INT}), {_SPACES}) AS INTEGER),
  {_field("ts")}, {_field("drb")}, {_field("crb")}, ?2
FROM r
"""
