"""What a terminal downloads, signed by the city's issuing key (protocol.terminal_wire).

The body: the server time; the deny list as deltas since the terminal's cursors (cards blocked,
renewed, revoked or expired, from ``cards_deny_list``; cards whose purse is empty (at or below 0),
from ``terminals_purse_denials``), a page at a time (``more``: ask again); the fare rules of the
terminal's service's catalogue, sent whole only when their version differs from the one the
terminal holds; the issuing public keys; the maximum age after which the terminal stops accepting.
A terminal without a cursor gets the log from the start: applying it in order gives the set.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session

from card_service.cards.deny_list import START, Cursor, changes_since, deny_list_since
from card_service.cards.issuing import ISSUING_KEY_ID, keystore_for
from card_service.catalogue.errors import CatalogueNotLoaded
from card_service.catalogue.service import in_force
from card_service.config import Settings
from card_service.protocol.terminal_wire import sign_snapshot
from card_service.terminals.denials import sweep_topped_up
from card_service.terminals.models import PurseDenial, Terminal


def _cursor(raw: Any) -> Cursor:
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw)
    ):
        return (raw[0], raw[1])
    return START


def fare_rules(session: Session, at: float) -> dict[str, Any] | None:
    """The fare rules in force (``FareRules.to_dict``, with its ``version``), or None when no
    catalogue is loaded (the terminal then keeps the rules it has)."""
    try:
        rules = in_force(session, datetime.fromtimestamp(at, UTC))
    except CatalogueNotLoaded:
        return None
    return rules.to_dict()


_sweep_lock = threading.Lock()
_last_sweep = [0.0]


def _maybe_sweep(session: Session, every_s: float) -> None:
    """Lift purse denials of topped-up purses, at most every ``every_s`` seconds per process."""
    with _sweep_lock:
        if time.monotonic() - _last_sweep[0] < every_s:
            return
        _last_sweep[0] = time.monotonic()
    sweep_topped_up(session)


def build(
    session: Session, settings: Settings, terminal: Terminal, ask: dict[str, Any]
) -> dict[str, Any]:
    now = time.time()
    _maybe_sweep(session, settings.terminals_purse_sweep_s)
    page = settings.terminals_deny_page
    deny_from = _cursor(ask.get("deny_cursor"))
    cards, deny_to, deny_more = deny_list_since(session, deny_from, page)
    purse_from = _cursor(ask.get("purse_cursor"))
    purses, purse_to, purse_more = changes_since(
        session, PurseDenial, PurseDenial.commit_key, PurseDenial.position, purse_from, page
    )
    keys = keystore_for(settings)
    body: dict[str, Any] = {
        "terminal_id": terminal.id,
        "service": terminal.service,
        "issued_at": int(now),
        "max_age_s": settings.terminals_snapshot_max_age_days * 86400,
        "deny": {
            "from": list(deny_from),
            "cursor": list(deny_to),
            "more": deny_more,
            "changes": [
                [c.action, (c.chip_uid or "").upper(), c.reason] for c in cards if c.chip_uid
            ],
        },
        "purses": {
            "from": list(purse_from),
            "cursor": list(purse_to),
            "more": purse_more,
            "changes": [[c.action, c.chip_uid.upper()] for c in purses],
        },
        "issuer_keys": {
            str(k): v.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
            for k, v in keys.issuer_public_keys().items()
        },
    }
    rules = fare_rules(session, now)
    if rules is not None:
        same = rules.get("version") == ask.get("rules_version")
        body["rules"] = {"version": rules.get("version")} if same else rules
    return sign_snapshot(body, ISSUING_KEY_ID, keys.issuer_key(ISSUING_KEY_ID))
