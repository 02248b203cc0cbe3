"""Disputes take the money back from the purse, below zero if need be (the card is denied until
the debt is paid); kiosk cash credits at once and a closed day reports its difference."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from card_service.audit.schemas import Actor
from card_service.cards.models import DenyListChange
from card_service.cards.service import purse_code
from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from card_service.payments import accounts
from card_service.terminals import enrolment
from terminals.kiosk.signing import request_signer
from terminals.sync import TerminalIdentity
from tests.payments.rig import Counter, LocalStripe, counter, event


def _enrol(c: Counter, terminal_id: int, kind: str) -> TerminalIdentity:
    identity = TerminalIdentity(terminal_id, Ed25519PrivateKey.generate())
    with transaction(c.sessions()) as s:
        enrolment.enrol(
            s, Actor.system("test"), terminal_id=terminal_id, kind=kind, service="kiosk",
            place="Town hall", public_key=identity.public_key,
        )  # fmt: skip
    return identity


def _deny_list(c: Counter, number: str) -> list[tuple[str, str]]:
    with c.sessions()() as s:
        rows = s.scalars(
            select(DenyListChange)
            .where(DenyListChange.card_number == number)
            .order_by(DenyListChange.position)
        )
        return [(r.action, r.reason) for r in rows]


def _dispute(paid: dict[str, Any], charge_id: str, amount: int, status: str) -> dict[str, Any]:
    return {
        "id": paid.get("dispute_id") or "dp_" + secrets.token_hex(8),
        "object": "dispute",
        "amount": amount,
        "currency": "eur",
        "charge": charge_id,
        "payment_intent": paid["payment_intent_id"],
        "reason": "fraudulent",
        "status": status,
    }


def test_dispute_takes_the_purse_below_zero_until_topped_up(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    """localstripe has no disputes: the test delivers charge.dispute.* events for
    localstripe's real charge, signed with the endpoint's secret as Stripe signs them."""
    with counter(db_url, tmp_path, localstripe) as c:
        holder, number, me = c.holder_with_card()
        paid = c.paid_topup(me, 2000)
        charge_id = localstripe.get(f"/v1/payment_intents/{paid['payment_intent_id']}")[
            "latest_charge"
        ]["id"]
        with transaction(c.sessions()) as s:  # 1500 spent on buses
            purse = ledger.find_account(s, purse_code(holder)).id
            bus = ledger.open_account(s, code="revenue:bus", kind="service_revenue").id
            assert ledger.create_transfers(
                s, [TransferRequest(uuid.uuid4(), purse, bus, 1500, "fare")]
            )[0].ok

        dispute = _dispute(paid, charge_id, 2000, "needs_response")
        opened = c.post_event(event("charge.dispute.created", dispute))
        assert opened.status_code == 200 and opened.json()["outcome"] == "applied", opened.text
        overview = c.client.get("/v1/me/payments", headers=me).json()
        assert (overview["purse_cents"], overview["debt_cents"], overview["balance_cents"]) == (
            0,
            1500,
            -1500,
        )
        assert overview["refundable_cents"] == 0
        assert any("deny list" in n for n in overview["notices"])
        assert _deny_list(c, number) == [("add", "purse_debt")]
        replay = c.post_event(event("charge.dispute.created", dispute))  # a new event id
        assert replay.json()["outcome"] == "ignored" and c.balance(me) == -1500

        c.paid_topup(me, 1000)  # pays part of the debt: still denied
        assert c.balance(me) == -500 and _deny_list(c, number) == [("add", "purse_debt")]
        c.paid_topup(me, 1000)
        overview = c.client.get("/v1/me/payments", headers=me).json()
        assert (overview["purse_cents"], overview["debt_cents"]) == (500, 0)
        assert _deny_list(c, number) == [("add", "purse_debt"), ("remove", "debt_settled")]

        won = c.post_event(event("charge.dispute.closed", {**dispute, "status": "won"}))
        assert won.json()["outcome"] == "applied"
        assert c.balance(me) == 2500
        assert c.audit(action="payments.dispute")[0]["target"] == f"holder:{holder}"

        # Reconciliation matches the charges; the dispute's money moves are in the ledger only,
        # because localstripe keeps no balance transactions for disputes (Stripe does).
        report = c.reconcile()
        assert sorted(m.stripe_cents or 0 for m in report.matched) == [1000, 1000, 2000]
        assert [(m.source, m.ledger_cents) for m in report.missing_in_stripe] == [
            (dispute["id"], 0)
        ]
        assert not report.missing_in_ledger and not report.differs


def test_kiosk_cash_and_closing_the_day(
    db_url: str, tmp_path: Path, localstripe: LocalStripe
) -> None:
    with counter(db_url, tmp_path, localstripe, purse_max_cents=5000) as c:
        _holder, number, me = c.holder_with_card()
        kiosk, bus = _enrol(c, 9001, "kiosk"), _enrol(c, 9002, "bus_validator")

        def pay_in(kiosk_id: str, body: dict[str, Any], who: TerminalIdentity | None) -> Any:
            request = c.client.build_request(
                "POST", f"/v1/kiosks/{kiosk_id}/cash-topups", json=body
            )
            if who is not None:
                request_signer(who)(request)
            return c.client.send(request)

        rid = str(uuid.uuid4())
        cash = {"request_id": rid, "card_number": number, "amount_cents": 2000}
        first = pay_in("9001", cash, kiosk)
        assert first.status_code == 201, first.text
        assert first.json()["balance_cents"] == 2000
        again = pay_in("9001", cash, kiosk)
        assert again.json()["id"] == rid and c.balance(me) == 2000  # once
        spaced = {
            **cash,
            "request_id": str(uuid.uuid4()),
            "card_number": number[:4] + " " + number[4:],
        }
        spaced["amount_cents"] = 1500
        assert pay_in("9001", spaced, kiosk).status_code == 201
        assert c.balance(me) == 3500

        def refused(
            kiosk_id: str, who: TerminalIdentity | None = kiosk, **change: Any
        ) -> dict[str, Any]:
            r = pay_in(kiosk_id, {**cash, "request_id": str(uuid.uuid4()), **change}, who)
            assert r.status_code >= 400
            result: dict[str, Any] = r.json()
            return result

        assert refused("9001", card_number="4000000000000002")["code"] == "card_not_found"
        assert refused("9001", amount_cents=0)["code"] == "cash_amount_invalid"
        assert refused("9001", amount_cents=1600)["code"] == "purse_limit_exceeded"
        # Only the kiosk itself pays cash in, into its own box: not a clerk, not a bus validator,
        # not another kiosk's id, not unsigned.
        by_clerk = c.as_("clerk", "POST", "/v1/kiosks/9001/cash-topups", json=cash)
        assert by_clerk.json()["code"] == "signature_missing"
        assert refused("9001", who=None, amount_cents=100)["code"] == "signature_missing"
        assert refused("9002", who=bus, amount_cents=100)["code"] == "kiosk_terminal_mismatch"
        assert refused("9002", amount_cents=100)["code"] == "kiosk_terminal_mismatch"
        other_holder, other_number, _ = c.holder_with_card()
        c.as_("clerk", "POST", f"/v1/cards/{other_number}/block", json={"reason": "stolen"})
        assert refused("9001", card_number=other_number)["code"] == "card_blocked"
        assert c.balance(me) == 3500 and other_holder

        close = {"request_id": str(uuid.uuid4()), "counted_cents": 3400}
        closed = c.as_("clerk", "POST", "/v1/kiosks/9001/close-day", json=close)
        assert closed.status_code == 201, closed.text
        day = closed.json()
        assert (day["topups"], day["expected_cents"], day["counted_cents"]) == (2, 3500, 3400)
        assert day["difference_cents"] == -100
        with c.sessions()() as s:
            kiosk = ledger.balance(s, ledger.find_account(s, accounts.kiosk_cash("9001")).id)
            banked = ledger.balance(s, ledger.find_account(s, accounts.CASH_BANKED).id)
            short = ledger.balance(s, ledger.find_account(s, accounts.CASH_DIFFERENCES).id)
        assert kiosk.balance_cents == 0 and banked.balance_cents == -3400
        assert short.balance_cents == -100
        next_day = c.as_(
            "clerk", "POST", "/v1/kiosks/9001/close-day",
            json={"request_id": str(uuid.uuid4()), "counted_cents": 50},
        ).json()  # fmt: skip
        assert (next_day["topups"], next_day["expected_cents"], next_day["difference_cents"]) == (
            0,
            0,
            50,
        )
        listed = c.as_("finance", "GET", "/v1/kiosks/9001/closings").json()
        assert [d["difference_cents"] for d in listed] == [50, -100]
        assert c.as_("clerk", "GET", "/v1/kiosks/9001/closings").status_code == 403
        assert c.reconcile().ok
