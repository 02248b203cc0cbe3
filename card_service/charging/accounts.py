"""The city's side of a charge: a revenue account per service, a concession budget per category.

``revenue:<service>`` (kind ``service_revenue``) is credited the full price of every use, whoever
pays it. ``concession:<category>`` (kind ``concession_subsidy``) is debited what the city pays for
that category; it has no balance limit and runs negative by design (its balance is the subsidy).
Accounts are opened on first use or for a whole catalogue at once (``open_for``); their ids never
change, so each process remembers them per database.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from card_service.ledger.results import AccountCodeTaken, UnknownAccount
from card_service.ledger.schemas import AccountFlags
from card_service.ledger.service import find_account, open_account
from card_service.protocol.fees import FareRules

REVENUE = "service_revenue"
CONCESSION = "concession_subsidy"

_ids: dict[tuple[str, str], int] = {}
_lock = threading.Lock()


def revenue_code(service: str) -> str:
    return f"revenue:{service}"


def concession_code(category: str) -> str:
    return f"concession:{category}"


def _db(session: Session) -> str:
    return session.connection().engine.url.render_as_string(hide_password=True)


def account_id(session: Session, code: str, kind: str) -> int:
    key = (_db(session), code)
    found = _ids.get(key)
    if found is not None:
        return found
    opened: set[str] = session.info.setdefault("charging_opened", set())
    try:
        account_id = find_account(session, code).id
    except UnknownAccount:
        try:
            account_id = open_account(session, code=code, kind=kind, flags=AccountFlags.NONE).id
            # Not remembered: this transaction may still roll back.
            opened.add(code)
            return account_id
        except AccountCodeTaken:  # another transaction opened it meanwhile
            account_id = find_account(session, code).id
    if code not in opened:  # committed by someone: safe to remember
        with _lock:
            _ids[key] = account_id
    return account_id


def revenue(session: Session, service: str) -> int:
    return account_id(session, revenue_code(service), REVENUE)


def concession(session: Session, category: str) -> int:
    return account_id(session, concession_code(category), CONCESSION)


def open_for(session: Session, rules: FareRules) -> list[str]:
    """Make sure every service's revenue and every category's budget account exist."""
    for service in rules.services:
        revenue(session, service)
    for category in rules.categories:
        concession(session, category)
    return [revenue_code(s) for s in rules.services] + [
        concession_code(c) for c in rules.categories
    ]
