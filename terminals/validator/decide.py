"""The validator's tap decision, offline, in milliseconds; journaled durably before accept.

On a presentation: a torn tap of this card left pending is settled first (as the card's counter
tells); the snapshot must be younger than its maximum age; the holder certificate must verify; the
card must not be on the deny list (nor its purse, when the holder has something to pay); a second
charge of the same card on this validator within ``passback_s`` is refused (answered
``already_charged``); the fare comes from the shared fee engine with this card's recent uses (this
validator's journal, plus the card's own last tap when it was made on another validator); the card
counts and MACs the tap; the journal commits it (fsync); only then is the answer ``accepted``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from card_service.protocol.certificate import HolderCertificate
from card_service.protocol.errors import ProtocolError
from card_service.protocol.fees import FeeError, Quote, Rider, Use, quote
from card_service.protocol.keystore import Keystore
from card_service.protocol.tap_record import TapRecord, TapRequest, verify_tap_mac
from card_service.protocol.terminal_wire import VoidSeq, WireTap
from terminals.pcsc.channel import Channel
from terminals.pcsc.errors import CardRefused, TransactionTorn
from terminals.validator.cards import CardAtReader, ReaderCard
from terminals.validator.journal import Journal, Journaled, PendingRow, UseRow
from terminals.validator.snapshot import LocalSnapshot

HISTORY_S = 8 * 86400  # uses kept for transfers, day and week caps
RETAP_GRACE_S = 60


@dataclass
class Decision:
    code: str
    uid: bytes | None = None
    seq: int | None = None
    holder_cents: int = 0
    concession_cents: int = 0
    rule: str = ""
    explanation: str = ""
    detail: str = ""
    settled_pending: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.code in ("accepted", "already_charged")


def rider_of(cert: HolderCertificate, today: date) -> Rider:
    """Categories on the card, each either permanent (``senior``) or valid until a date
    (``youth~20310512``: an age band that ends on the 26th birthday). See ADR 0008."""
    valid = set()
    for name in cert.categories:
        base, _, until = name.partition("~")
        if until:
            try:
                if date(int(until[:4]), int(until[4:6]), int(until[6:8])) < today:
                    continue
            except ValueError:
                continue
        valid.add(base)
    return Rider(birth_date=None, categories=frozenset(valid))


def _use(row: UseRow) -> Use:
    at = datetime.fromtimestamp(row.at, UTC)
    return Use(row.service, row.product, at, row.price, row.holder, row.rule)


@dataclass
class _Plan:
    card: CardAtReader
    now: int
    quote: Quote
    resolved: list[int] = field(default_factory=list)
    carried: list[Journaled] = field(default_factory=list)


class Validator:
    def __init__(
        self,
        terminal_id: int,
        service: str,
        journal: Journal,
        snapshot: LocalSnapshot,
        keys: Keystore,
        product: str = "single",
        passback_s: int = 10,
    ) -> None:
        self.terminal_id = terminal_id
        self.service = service
        self.product = product
        self.journal = journal
        self.snapshot = snapshot
        self.keys = keys
        self.passback_s = passback_s
        self._seq = journal.last_seq()
        self._lock = threading.Lock()
        # Recent uses per card: read from the journal once, then kept here (a burst's own taps
        # count before their group commit).
        self._uses: dict[bytes, list[Use]] = {}

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    # -- entry points --------------------------------------------------------------------------
    def present(self, channel: Channel) -> Decision:
        """A card in the real reader's field."""
        try:
            card = ReaderCard(channel, self.keys)
        except ProtocolError as exc:
            return Decision(exc.code, detail=str(exc))
        except Exception as exc:  # a misbehaving card never crashes the validator
            return Decision("unknown_card", detail=f"{type(exc).__name__}: {exc}")
        return self.decide(card)

    def decide(self, card: CardAtReader) -> Decision:
        return self.decide_many([card])[0]

    def decide_many(self, cards: Sequence[CardAtReader]) -> list[Decision]:
        """Decide a burst of presentations and journal them in one commit (card-less load input:
        a single fsync for the burst); every answer is given after that commit."""
        decisions: list[Decision] = []
        journaled: list[Journaled] = []
        resolved: list[int] = []
        for card in cards:
            decision, plan = self._prepare(card)
            if plan is not None:
                resolved += plan.resolved
                journaled += plan.carried
                decision = self._tap(plan, decision, journaled)
            decisions.append(decision)
        if journaled or resolved:
            try:
                self.journal.commit_taps(journaled, resolved)
            except BaseException:
                self._uses.clear()  # they were not journaled: read again from the journal
                raise
        return decisions

    def _recent(self, uid: bytes, now: int) -> list[Use]:
        uses = self._uses.get(uid)
        if uses is None:
            if len(self._uses) > 200_000:
                self._uses.clear()
            uses = self._uses[uid] = [_use(u) for u in self.journal.uses(uid, now - HISTORY_S)]
        elif uses and uses[0].at.timestamp() < now - HISTORY_S - 86400:  # prune once a day
            cutoff = datetime.fromtimestamp(now - HISTORY_S, UTC)
            uses[:] = [u for u in uses if u.at >= cutoff]
        return uses

    # -- steps ---------------------------------------------------------------------------------
    def _prepare(self, card: CardAtReader) -> tuple[Decision, _Plan | None]:
        decision = Decision("refused", uid=card.uid)
        now = int(self.snapshot.now())
        carried: list[Journaled] = []
        resolved: list[int] = []
        try:
            pending = self.journal.pending_for(card.uid)
            if pending is not None:
                recovered = self._settle_pending(card, pending, decision)
                resolved.append(pending.seq)
                carried.append(recovered)
                if decision.code == "already_charged":
                    self.journal.commit_taps(carried, resolved)
                    return decision, None
            if not self.snapshot.usable():
                age = self.snapshot.age_s()
                decision.code = "snapshot_missing" if age is None else "snapshot_too_old"
                decision.detail = "" if age is None else f"snapshot is {age / 86400:.1f} days old"
            elif self.snapshot.rules is None:
                decision.code = "fare_rules_missing"
            else:
                cert = self.snapshot.certificate(card.certificate(), now)
                plan = self._fare(card, cert, now, decision)
                if plan is not None:
                    plan.carried, plan.resolved = carried, resolved
                    return decision, plan
        except ProtocolError as exc:
            decision.code, decision.detail = exc.code, str(exc)
        if carried or resolved:
            self.journal.commit_taps(carried, resolved)
        return decision, None

    def _fare(
        self, card: CardAtReader, cert: HolderCertificate, now: int, decision: Decision
    ) -> _Plan | None:
        uid_hex = card.uid.hex().upper()
        if uid_hex in self.snapshot.denied_cards:
            decision.code = "card_denied"
            return None
        uses = self._recent(card.uid, now)
        if (
            uses
            and uses[-1].at.timestamp() > now - self.passback_s
            and uses[-1].service == self.service
        ):
            decision.code = "already_charged"
            decision.detail = f"charged {now - uses[-1].at.timestamp():.0f} s ago on this validator"
            return None
        recent = self._with_last_tap(card, now, uses)
        rules = self.snapshot.rules
        assert rules is not None
        at = datetime.fromtimestamp(now, UTC)
        try:
            q = quote(rules, rider_of(cert, at.date()), self.service, self.product, at, recent)
        except FeeError as exc:
            decision.code, decision.detail = "fare_unavailable", str(exc)
            return None
        if q.holder_cents > 0 and uid_hex in self.snapshot.denied_purses:
            decision.code = "purse_empty"
            return None
        return _Plan(card, now, q)

    def _with_last_tap(self, card: CardAtReader, now: int, recent: list[Use]) -> list[Use]:
        """The card's own last tap, when made on another validator, counts as a recent use."""
        try:
            last = card.last_tap()
        except ProtocolError:
            return recent
        if last is None:
            return recent
        record, mac = last
        if record.terminal_id == self.terminal_id or record.time < now - HISTORY_S:
            return recent
        try:
            verify_tap_mac(card.key, record, mac)
        except ProtocolError:
            return recent
        rule = "base" if record.amount_cents > 0 else "transfer"
        at = datetime.fromtimestamp(record.time, UTC)
        use = Use(self.service, self.product, at, record.amount_cents, record.amount_cents, rule)
        return sorted([*recent, use], key=lambda u: u.at)

    def _tap(self, plan: _Plan, decision: Decision, journaled: list[Journaled]) -> Decision:
        q, card = plan.quote, plan.card
        seq = self._next_seq()
        request = TapRequest(self.terminal_id, seq, plan.now, q.holder_cents)
        try:
            counter, mac = card.tap(request)
            record = TapRecord.of(request, counter)
            verify_tap_mac(card.key, record, mac)
        except TransactionTorn as exc:
            draft = self._body(card, seq, None, b"", q)
            self.journal.add_pending(
                PendingRow(
                    seq,
                    card.uid,
                    plan.now,
                    card.key_version,
                    card.counter,
                    request.to_bytes(),
                    draft,
                )
            )
            decision.code, decision.detail = exc.code, str(exc)
            return decision
        except (CardRefused, ProtocolError) as exc:  # not counted: the sequence number is void
            journaled.append(
                Journaled(seq, card.uid, plan.now, VoidSeq(seq, exc.code).to_json(), None)
            )
            decision.code, decision.detail = exc.code, str(exc)
            return decision
        body = self._body(card, seq, record, mac, q)
        use = UseRow(plan.now, self.service, self.product, q.price_cents, q.holder_cents, q.rule)
        journaled.append(Journaled(seq, card.uid, plan.now, body, use))
        self._recent(card.uid, plan.now).append(_use(use))
        decision.code, decision.seq = "accepted", seq
        decision.holder_cents, decision.concession_cents = q.holder_cents, q.concession_cents
        decision.rule, decision.explanation = q.rule, q.explanation
        return decision

    def _body(
        self, card: CardAtReader, seq: int, record: TapRecord | None, mac: bytes, q: Quote
    ) -> dict[str, object]:
        placeholder = record or TapRecord(self.terminal_id, seq, 0, q.holder_cents, 0)
        return WireTap(
            seq=seq,
            uid=card.uid,
            key_version=card.key_version,
            record=placeholder,
            mac=mac or bytes(8),
            concession_cents=q.concession_cents,
            concession_category=q.concession_category,
            service=self.service,
            product=q.product,
            rule=q.rule,
        ).to_json()

    def _settle_pending(
        self, card: CardAtReader, pending: PendingRow, decision: Decision
    ) -> Journaled:
        """A torn TAP of this card: charged (the card counted it and shows its MAC), or void."""
        request = TapRequest.parse(pending.request)
        void = Journaled(
            pending.seq, card.uid, pending.at, VoidSeq(pending.seq, "not_counted").to_json(), None
        )
        if card.counter == pending.counter_before:
            decision.settled_pending.append("not_counted")
            return void
        last = card.last_tap()
        if card.counter == pending.counter_before + 1 and last is not None:
            record, mac = last
            if record.request == request and record.card_counter == card.counter:
                try:
                    verify_tap_mac(card.key, record, mac)
                except ProtocolError:
                    pass
                else:
                    body = dict(pending.body) | {
                        "record": record.to_bytes().hex(),
                        "mac": mac.hex(),
                    }
                    decision.settled_pending.append("charged")
                    if self.snapshot.now() - record.time <= RETAP_GRACE_S:
                        decision.code, decision.seq = "already_charged", pending.seq
                    use = UseRow(
                        record.time,
                        self.service,
                        str(body.get("product")),
                        int(body["holder_cents"]) + int(body["concession_cents"]),
                        int(body["holder_cents"]),
                        str(body.get("rule")),
                    )
                    self._recent(card.uid, record.time).append(_use(use))
                    return Journaled(pending.seq, card.uid, pending.at, body, use)
        decision.settled_pending.append("lost")
        return Journaled(
            pending.seq, card.uid, pending.at, VoidSeq(pending.seq, "lost").to_json(), None
        )
