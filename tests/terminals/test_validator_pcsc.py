"""The validator on the real reader driver (pcscd, vpcd, virtual card processes): a tap journaled
before accept, and a torn tap that survives a validator restart in the journal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from card_service.catalogue.source import parse
from card_service.protocol.keystore import MemoryKeystore
from card_service.protocol.terminal_wire import sign_snapshot
from card_service.terminals.simulate.city import CATALOGUE
from terminals.pcsc.personalise import personalise
from terminals.validator.decide import Validator
from terminals.validator.journal import Journal
from terminals.validator.snapshot import LocalSnapshot
from terminals.virtual_card.__main__ import TORN_EXIT
from terminals.virtual_card.applet import Applet
from terminals.virtual_card.local import LocalChannel
from tests.terminals import test_pcsc_rig
from tests.terminals.conftest import issue
from tests.terminals.rig import VirtualCard

pytestmark = pytest.mark.xdist_group("pcsc")
watch = test_pcsc_rig.watch  # the rig's fixtures
cards = test_pcsc_rig.cards
TERMINAL = 31


def snapshot_doc(keys: MemoryKeystore) -> dict[str, object]:
    rules = parse(CATALOGUE.read_text(encoding="utf-8"), "test-1").to_dict()
    body = {
        "terminal_id": TERMINAL,
        "service": "bus",
        "issued_at": int(time.time()),
        "max_age_s": 21 * 86400,
        "deny": {"from": [0, 0], "cursor": [0, 0], "more": False, "changes": []},
        "purses": {"from": [0, 0], "cursor": [0, 0], "more": False, "changes": []},
        "issuer_keys": {},
        "rules": rules,
    }
    return sign_snapshot(body, 1, keys.issuer_key(1))


def make_validator(path: Path, keys: MemoryKeystore) -> Validator:
    journal = Journal(path)
    snapshot = LocalSnapshot(journal, keys.issuer_public_keys(), TERMINAL, time.time)
    if snapshot.issued_at is None:
        snapshot.apply(snapshot_doc(keys))
    return Validator(TERMINAL, "bus", journal, snapshot, keys, passback_s=2)


def test_a_tap_through_pcscd_is_journaled_and_a_torn_one_survives_a_restart(
    pcscd,
    watch,
    cards,
    blank_card,
    keys,
    tmp_path,
) -> None:  # type: ignore[no-untyped-def]
    journal_path = tmp_path / "validator.journal"
    validators = [make_validator(journal_path, keys)]
    events = watch(lambda ch, reader: validators[-1].present(ch))
    store = blank_card()
    personalise(LocalChannel(Applet(store)), keys, issue(categories=("senior",)))
    card = VirtualCard(store.path, pcscd)
    cards.append(card)
    card.arm_tear("after_commit")  # the card counts the TAP, then leaves the field
    card.insert()
    torn = events.next_result()
    assert torn.code == "transaction_torn" and not torn.accepted
    assert card.wait_gone() == TORN_EXIT
    assert validators[-1].journal.counts() == {"pending": 1}
    validators[-1].journal.close()
    validators.append(make_validator(journal_path, keys))  # power cut and restart
    card.insert()
    again = events.next_result()
    assert again.settled_pending == ["charged"] and again.code == "already_charged"
    assert again.seq == torn_seq(validators[-1]) == 1
    card.remove()
    time.sleep(2.5)  # past the anti-passback window
    card.insert()
    fresh = events.next_result()
    # a second boarding within 45 minutes of the first (recovered) one: a free transfer
    assert (fresh.code, fresh.seq, fresh.rule, fresh.holder_cents) == ("accepted", 2, "transfer", 0)
    items = validators[-1].journal.unacknowledged(10)
    assert [i["seq"] for i in items] == [1, 2] and all(i["kind"] == "tap" for i in items)
    assert items[0]["mac"] != "00" * 8 and items[0]["holder_cents"] == 50  # the senior fare


def torn_seq(validator: Validator) -> int:
    return int(validator.journal.unacknowledged(1)[0]["seq"])
