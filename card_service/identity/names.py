"""The blind name index: find holders by name without decrypting anyone.

A name is normalised (NFKD, accents stripped, casefolded, split into words, particles such as
"de", "la", "del", "y" dropped) and each word is stored as an HMAC under the keyring's lookup key
(the same key family as the national-id hash, ``Keyring.lookup_hash``) in ``holder_name_words``.
A search hashes the words the clerk typed and keeps the holders that have every one of them.

What it leaks (ADR 0004): whoever holds the table sees which holders share a word of their name
(equal words hash equally), and how many words each name has; not the words themselves.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from card_service.identity.crypto import Keyring
from card_service.identity.models import Holder, HolderNameWord

PURPOSE = "name_word"
PARTICLES = frozenset({"de", "del", "la", "las", "los", "el", "y", "i", "e", "da", "do", "dos"})
SEARCH_LIMIT = 50
_WORD = re.compile(r"[^\W_]+")


def name_words(text: str) -> list[str]:
    """The distinct normalised words of a name, in order: 'José de la Peña' -> ['jose', 'pena']."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words: list[str] = []
    for word in _WORD.findall(plain):
        if word not in PARTICLES and word not in words:
            words.append(word)
    return words


def holder_name(fields: dict[str, Any]) -> str:
    """The indexed name of a holder's personal fields: given names and surnames, or legal name."""
    if "legal_name" in fields:
        return str(fields["legal_name"])
    return f"{fields.get('given_names', '')} {fields.get('surnames', '')}"


def word_hashes(ring: Keyring, text: str) -> list[bytes]:
    return [ring.lookup_hash(PURPOSE, w) for w in name_words(text)]


def rows_for(ring: Keyring, holder_id: int, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows to insert for one holder (the seeder's bulk path inserts them itself)."""
    return [
        {"holder_id": holder_id, "word_hash": h} for h in word_hashes(ring, holder_name(fields))
    ]


def index(session: Session, ring: Keyring, holder_id: int, fields: dict[str, Any]) -> None:
    """Replace the holder's name words (on creation, a name change, a re-index)."""
    forget(session, holder_id)
    rows = rows_for(ring, holder_id, fields)
    if rows:
        session.execute(insert(HolderNameWord), rows)


def forget(session: Session, holder_id: int) -> None:
    session.execute(delete(HolderNameWord).where(HolderNameWord.holder_id == holder_id))


def search(session: Session, ring: Keyring, text: str, limit: int = SEARCH_LIMIT) -> list[Holder]:
    """Live holders whose name has every word of ``text`` (order and accents ignored)."""
    hashes = list(dict.fromkeys(word_hashes(ring, text)))
    if not hashes:
        return []
    matching = (
        select(HolderNameWord.holder_id)
        .where(HolderNameWord.word_hash.in_(hashes))
        .group_by(HolderNameWord.holder_id)
        .having(func.count() == len(hashes))
    )
    stmt = (
        select(Holder)
        .where(Holder.id.in_(matching), Holder.status == "active")
        .order_by(Holder.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def reindex_batch(
    session: Session, ring: Keyring, after_id: int, batch_size: int
) -> tuple[int, int] | None:
    """Re-index up to ``batch_size`` live holders with id > ``after_id``: (last id, how many)."""
    from card_service.identity.models import DataKey
    from card_service.identity.service import open_personal

    rows = session.execute(
        select(Holder.id, Holder.pseudonym, Holder.pii, DataKey.key_id, DataKey.wrapped)
        .join(DataKey, DataKey.holder_id == Holder.id)
        .where(Holder.id > after_id, Holder.pii.is_not(None))
        .order_by(Holder.id)
        .limit(batch_size)
    ).all()
    if not rows:
        return None
    ids = [r.id for r in rows]
    session.execute(delete(HolderNameWord).where(HolderNameWord.holder_id.in_(ids)))
    new_rows: list[dict[str, Any]] = []
    for r in rows:
        new_rows += rows_for(
            ring, r.id, open_personal(ring, r.pseudonym, r.pii, r.key_id, r.wrapped)
        )
    if new_rows:
        session.execute(insert(HolderNameWord), new_rows)
    return ids[-1], len(ids)
