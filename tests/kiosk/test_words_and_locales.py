"""Movements in plain words, money in each language, every screen's text in all three."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kiosk_ui.i18n import LANGS, messages, money
from kiosk_ui.words import describe

TEMPLATES = Path(__file__).resolve().parents[2] / "kiosk_ui" / "templates"
AT_0814 = 1_795_000_000  # any instant; the clock text is checked by pattern


def movement(
    code: str, cents: int, data: dict[str, object] | str | None = None
) -> dict[str, object]:
    raw = json.dumps(data) if isinstance(data, dict) else data
    return {
        "code": code,
        "amount_cents": cents,
        "pending_cents": 0,
        "timestamp_ns": AT_0814 * 10**9,
        "user_data": raw,
    }


def test_a_transfer_on_the_bus() -> None:
    m = describe(movement("fare", 0, {"service": "bus", "line": "12", "transfer": True}), "en")
    assert re.fullmatch(r"Bus, line 12, \d\d:\d\d: 0.00 EUR, transfer", m["sentence"])
    es = describe(movement("fare:bus", -135, {"line": 4}), "es")["sentence"]
    assert re.fullmatch(r"Autobús, línea 4, \d\d:\d\d: -1,35 EUR", es)


@pytest.mark.parametrize(
    ("code", "data", "lang", "start"),
    [
        ("bill", {"reference": "REC-2026-ABC"}, "ast", "Recibu REC-2026-ABC"),
        ("topup:cash", None, "es", "Recarga en efectivo"),
        ("topup", None, "en", "Top-up"),
        ("refund", None, "en", "Refund"),
        ("parking_fee", "x", "en", "Movement (parking_fee)"),
    ],
)
def test_other_movements(code: str, data: dict[str, object] | None, lang: str, start: str) -> None:
    assert describe(movement(code, 500, data), lang)["sentence"].startswith(start + ", ")


def test_money() -> None:
    assert money(123456, "es") == "1.234,56 EUR"
    assert money(123456, "en") == "1,234.56 EUR"
    assert money(-5, "ast") == "-0,05 EUR"


def test_every_language_has_every_message_the_templates_use() -> None:
    used = set()
    for path in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"t\('([a-z0-9_]+)'", path.read_text()))
    for lang in LANGS:
        assert used <= set(messages(lang)), (lang, used - set(messages(lang)))
        assert set(messages(lang)) == set(messages("en")), lang
