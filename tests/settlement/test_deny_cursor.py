"""The deny list is read by a cursor that never skips a change committed late (PostgreSQL
commits transactions in any order; autoincrement positions alone would skip one)."""

from __future__ import annotations

import time
from pathlib import Path

from card_service.audit.schemas import Actor
from card_service.cards import service as cards
from card_service.cards.deny_list import START, deny_list_since
from card_service.db import transaction
from tests.api.support import desk


def test_a_change_committed_after_a_later_one_is_not_skipped(pg_url: str, tmp_path: Path) -> None:
    with desk(pg_url, tmp_path) as d:
        first = d.card(d.person(national_id="12345678Z"), chip="04000000000001")["number"]
        second = d.card(d.person(national_id="87654321X"), chip="04000000000002")["number"]
        factory = d.sessions()
        slow = factory()
        try:
            # Two writers of the deny list (the audit trail's lock is left out: expiry, blocks
            # and renewals need not all pass through it). The first takes its position first
            # and commits last.
            cards._deny(slow, cards.get(slow, first), "add", "lost")
            slow.flush()
            with transaction(factory) as fast:
                cards._deny(fast, cards.get(fast, second), "add", "stolen")
            with transaction(factory) as reader:
                seen, cursor, more = deny_list_since(reader, START)
            assert seen == [] and cursor == START and not more  # the later change waits
            slow.commit()
        finally:
            slow.close()
        # The horizon is the whole server's oldest open transaction (other databases' too): a
        # busy server hands the changes out a little later, never out of order.
        for _ in range(300):
            with transaction(factory) as reader:
                seen, cursor, _ = deny_list_since(reader, cursor)
            if seen:
                break
            time.sleep(0.1)
        with transaction(factory) as reader:
            assert [c.chip_uid for c in seen] == ["04000000000001", "04000000000002"]
            again, _, _ = deny_list_since(reader, cursor)
            assert again == []


def test_on_sqlite_changes_come_in_position_order(sqlite_url: str, tmp_path: Path) -> None:
    with desk(sqlite_url, tmp_path) as d:
        numbers = [
            d.card(d.person(national_id=nid), chip=chip)["number"]
            for nid, chip in (("12345678Z", "04000000000001"), ("87654321X", "04000000000002"))
        ]
        with transaction(d.sessions()) as s:
            for n in numbers:
                cards.block(s, Actor.system("test"), n, "lost")
        with transaction(d.sessions()) as s:
            page, cursor, more = deny_list_since(s, START, limit=1)
            assert [c.chip_uid for c in page] == ["04000000000001"] and more
            page, cursor, more = deny_list_since(s, cursor, limit=1)
            assert [c.chip_uid for c in page] == ["04000000000002"] and not more
