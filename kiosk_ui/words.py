"""Movements in plain words: ``Bus, line 12, 08:14: 0.00 EUR, transfer``.

A ledger movement carries a code (why) and optional user data (what). The conventions read here:
codes ``fare``/``fare:<service>``, ``bill``, ``topup``/``topup:cash``/``topup:card``, ``refund``;
user data is compact JSON with any of ``service``, ``line``, ``transfer`` (true on a transfer
within the time window), ``reference`` (a bill), or a plain reference string.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kiosk_ui.i18n import TZ, clock, money, t

SERVICES = {"bus", "pool", "library", "bike", "parking"}


def _data(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"reference": raw}
    return value if isinstance(value, dict) else {"reference": str(value)}


def _service(name: str, lang: str) -> str:
    return t(lang, f"svc_{name}") if name in SERVICES else name.replace("_", " ").capitalize()


def what(code: str, user_data: str | None, lang: str) -> tuple[str, list[str]]:
    """The movement's name and its remarks (transfer, pending...)."""
    data = _data(user_data)
    head, _, tail = code.partition(":")
    remarks: list[str] = []
    if head == "fare":
        service = _service(str(data.get("service") or tail or "bus"), lang)
        line = data.get("line")
        name = (
            t(lang, "mv_fare_line", service=service, line=line)
            if line
            else t(lang, "mv_fare", service=service)
        )
        if data.get("transfer"):
            remarks.append(t(lang, "mv_transfer"))
        return name, remarks
    if head == "bill":
        return t(lang, "mv_bill", reference=data.get("reference", tail)), remarks
    if head == "topup":
        key = {"cash": "mv_topup_cash", "card": "mv_topup_card"}.get(tail, "mv_topup")
        return t(lang, key), remarks
    if head == "refund":
        return t(lang, "mv_refund"), remarks
    return t(lang, "mv_other", code=code), remarks


def describe(movement: dict[str, Any], lang: str) -> dict[str, Any]:
    """One movement as the page shows it: a sentence, and its parts for the table."""
    name, remarks = what(str(movement.get("code", "")), movement.get("user_data"), lang)
    pending = int(movement.get("pending_cents") or 0)
    amount = int(movement.get("amount_cents") or 0) or pending
    if pending and not movement.get("amount_cents"):
        remarks.append(t(lang, "mv_pending"))
    ts = int(movement["timestamp_ns"])
    when = clock(ts)
    sentence = f"{name}, {when}: {money(amount, lang)}"
    if remarks:
        sentence += ", " + ", ".join(remarks)
    return {
        "sentence": sentence,
        "name": name,
        "time": when,
        "date": datetime.fromtimestamp(ts / 1e9, TZ).date(),
        "amount": money(amount, lang),
        "credit": amount > 0,
        "remarks": remarks,
    }
