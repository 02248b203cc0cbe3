"""A validator offline for weeks, uploads cut and retried, snapshots and the deny list."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from card_service.db import transaction
from card_service.ledger import service as ledger
from card_service.terminals.models import SettledTap
from card_service.terminals.reports import totals
from terminals.sync import SyncUnavailable
from tests.settlement.simcity import rig


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def test_21_days_offline_with_50000_taps_then_sync(sqlite_url: str, tmp_path: Path) -> None:
    with rig(sqlite_url, tmp_path, holders=200, purse_cents=20_000) as r:
        clock = Clock()
        validator, syncer = r.validator(r.city.terminals[0], clock)
        syncer.sync_snapshot()
        assert validator.snapshot.rules is not None and validator.snapshot.age_s() is not None
        cards = r.city.cards
        assert len(cards) >= 200
        accepted, t0 = 0, clock.t
        for day in range(21):
            clock.t = t0 + day * 86400
            for _ in range(12):  # every card twelve times a day, ten minutes apart
                # a burst of presentations, journaled with one commit before any answer
                decisions = validator.decide_many(cards[:200])
                accepted += sum(d.code == "accepted" for d in decisions)
                clock.t += 600
        assert accepted == 21 * 12 * 200 == 50_400  # paid, capped or transfers: all accepted
        assert validator.journal.counts()["ready"] == accepted
        clock.t = t0 + 21 * 86400 + 60  # past 21 days: the validator stops accepting
        refused = validator.decide(cards[0])
        assert refused.code == "snapshot_too_old" and not refused.accepted
        assert syncer.upload_all() == accepted
        assert validator.journal.counts() == {}
        with transaction(r.sessions()) as s:
            counted = totals(s)
            assert counted["settled"]["taps"] == accepted
            assert s.scalar(select(func.count()).select_from(SettledTap)) == accepted
        r.verify()


class CutAfterSending(httpx.BaseTransport):
    """Delivers the request to the server, then loses the answer (a cut connection)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.cuts = inner, 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.cuts and request.url.path.endswith("/taps"):
            self.cuts -= 1
            response.read()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_an_upload_cut_mid_request_is_retried_and_settles_once(db_url: str, tmp_path: Path) -> None:
    with rig(db_url, tmp_path) as r:
        clock = Clock()
        cut = httpx.Client(
            transport=CutAfterSending(r.client._transport), base_url="http://testserver"
        )  # type: ignore[attr-defined]
        validator, syncer = r.validator(r.city.terminals[0], clock, http=cut)
        syncer.sync_snapshot()
        decisions = validator.decide_many(r.city.cards[:40])
        assert all(d.code == "accepted" for d in decisions)
        with pytest.raises(SyncUnavailable):
            syncer.upload_once()
        assert validator.journal.counts()["ready"] == 40  # nothing acknowledged, nothing lost
        assert syncer.upload_all() == 40
        with transaction(r.sessions()) as s:
            assert totals(s)["settled"]["taps"] == 40
        assert syncer.answers == {"settled": 40}  # the retry's answers: replayed, all settled
        r.verify()


def _block(r: Any, chip: bytes) -> None:
    from card_service.audit.schemas import Actor
    from card_service.cards import service as cards
    from card_service.cards.models import Card

    with transaction(r.sessions()) as s:
        number = s.scalars(select(Card.number).where(Card.chip_uid == chip.hex().upper())).one()
        cards.block(s, Actor.system("test"), number, "stolen")


def test_a_blocked_card_reaches_the_validator_at_the_next_sync(
    sqlite_url: str, tmp_path: Path
) -> None:
    with rig(sqlite_url, tmp_path, holders=20) as r:
        clock = Clock()
        validator, syncer = r.validator(r.city.terminals[0], clock)
        syncer.sync_snapshot()
        thief = r.city.cards[3]
        assert validator.decide(thief).code == "accepted"
        _block(r, thief.uid)
        clock.t += 60
        assert validator.decide(thief).code == "accepted"  # offline: not known yet
        syncer.sync_snapshot()
        clock.t += 60
        assert validator.decide(thief).code == "card_denied"
        syncer.upload_all()
        with transaction(r.sessions()) as s:
            reasons = s.execute(select(SettledTap.seq, SettledTap.outcome, SettledTap.reason)).all()
        assert sorted(reasons) == [(1, "settled", None), (2, "exception", "card_blocked")]


def test_a_top_up_reaches_the_validator_at_the_next_sync(sqlite_url: str, tmp_path: Path) -> None:
    from card_service.terminals.simulate.city import fund

    with rig(sqlite_url, tmp_path, holders=12, empty_share=1, terminals_purse_sweep_s=0) as r:
        clock = Clock()
        validator, syncer = r.validator(r.city.terminals[0], clock)
        syncer.sync_snapshot()
        from card_service.protocol.certificate import HolderCertificate

        card = next(
            c for c in r.city.cards if not HolderCertificate.parse_unverified(c.cert).categories
        )
        assert (
            validator.decide(card).code == "accepted"
        )  # offline it cannot know the purse is empty
        syncer.upload_all()
        # The ride settles into the purse's offline allowance (below zero, above its floor)...
        assert syncer.answers == {"settled": 1}
        with transaction(r.sessions()) as s:
            assert ledger.balance(s, r.city.purses[card.uid]).balance_cents < 0
        syncer.sync_snapshot()  # ... and the card, with nothing left, is denied until a top-up
        clock.t += 3600
        assert validator.decide(card).code == "purse_empty"
        with transaction(r.sessions()) as s:
            fund(s, [r.city.purses[card.uid]], 2000)  # a top-up, from wherever
        syncer.sync_snapshot()  # (sets the validator's clock to the server's again)
        clock.t += 3600
        assert validator.decide(card).code == "accepted"
