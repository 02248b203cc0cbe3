"""``card-service simulate``: a city's day (or month) of taps, settled, verified, reconciled.

Holders ride buses at rush hours (three quarters of the uses), some change bus within the transfer
window, concessions as on their cards, and use door readers (sports, museums, libraries, toilets).
Validators decide offline in-process (the card-less input); most sync every simulated hour, some
are down for the day and upload late. Uploads go to the back office in-process (ASGI, fast) or
over HTTP to a running service (``--url``). Then: seal, ledger verify, and the reconciliation:
taps made = taps settled + taps in exceptions; money charged = money in service revenue.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from sqlalchemy import func, select

from card_service.config import Settings
from card_service.db import transaction
from card_service.ledger.models import Account
from card_service.ledger.seal import seal
from card_service.ledger.verify import verify
from card_service.terminals.models import SettledTap
from card_service.terminals.simulate.city import SimCity, SimTerminal, build
from terminals.sync import SyncClient
from terminals.validator.cards import SoftCard
from terminals.validator.decide import Validator
from terminals.validator.journal import Journal
from terminals.validator.snapshot import LocalSnapshot
from terminals.validator.sync import Syncer

DOORS = (("sports", "entry"), ("museums", "entry"), ("library", "loan"), ("toilets", "entry"))
# Share of a day's boardings per hour, 0..23 (rush at 8 and 14, evening at 18).
HOURS = [0, 0, 0, 0, 0, 1, 3, 8, 11, 7, 5, 5, 6, 7, 9, 7, 6, 7, 9, 6, 4, 3, 2, 1]


@dataclass
class Report:
    taps_made: int = 0
    cents_made: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    revenue_cents: int = 0
    verify_ok: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def reconciled(self) -> bool:
        settled = self.outcomes.get("settled", {}).get("taps", 0)
        exceptions = self.outcomes.get("exception", {}).get("taps", 0)
        charged = self.outcomes.get("settled", {})
        money = charged.get("holder_cents", 0) + charged.get("concession_cents", 0)
        lost = self.outcomes.get("exception", {})
        lost_money = lost.get("holder_cents", 0) + lost.get("concession_cents", 0)
        return (
            self.taps_made == settled + exceptions
            and money == self.revenue_cents
            and self.cents_made == money + lost_money
        )


@dataclass
class Device:
    terminal: SimTerminal
    validator: Validator
    syncer: Syncer
    clock: list[float]
    down: bool = False


def _clock(cell: list[float]) -> Callable[[], float]:
    return lambda: cell[0]


def _devices(city: SimCity, work: Path, http: httpx.Client, base_url: str) -> list[Device]:
    devices = []
    for t in city.terminals:
        clock = [time.time()]
        journal = Journal(work / f"terminal-{t.identity.terminal_id}.journal")
        snapshot = LocalSnapshot(
            journal, city.keys.issuer_public_keys(), t.identity.terminal_id, _clock(clock)
        )
        product = "single" if t.service == "bus" else dict(DOORS)[t.service]
        validator = Validator(
            t.identity.terminal_id, t.service, journal, snapshot, city.keys, product=product
        )
        syncer = Syncer(SyncClient(base_url, t.identity, http=http), journal, snapshot)
        devices.append(Device(t, validator, syncer, clock))
    return devices


def day_of_taps(
    rng: random.Random,
    cards: list[SoftCard],
    buses: int,
    doors: int,
    day_start: float,
    trips: float,
) -> list[tuple[float, int, SoftCard]]:
    """(time, device index, card) for one day: buses first in the device list, then doors."""
    out: list[tuple[float, int, SoftCard]] = []
    hours = rng.choices(range(24), weights=HOURS, k=int(len(cards) * trips))
    for hour in hours:
        card = rng.choice(cards)
        at = day_start + hour * 3600 + rng.uniform(0, 3600)
        if rng.random() < 0.75 or doors == 0:
            bus = rng.randrange(buses)
            out.append((at, bus, card))
            if rng.random() < 0.2 and buses > 1:  # a change of bus within the transfer window
                out.append((at + rng.uniform(300, 2400), (bus + 1) % buses, card))
        else:
            out.append((at, buses + rng.randrange(doors), card))
    out.sort(key=lambda x: x[0])
    return out


def simulate(
    factory: Any,
    settings: Settings,
    work: Path,
    *,
    http: httpx.Client,
    base_url: str,
    days: int = 1,
    holders: int = 2000,
    buses: int = 20,
    doors: int = 4,
    trips_per_holder: float = 1.5,
    down_share: float = 0.1,
    late_days: int = 2,
    seed_value: int = 1,
    progress: Callable[[str, int, int], None] = lambda what, done, total: None,
) -> Report:
    rng = random.Random(seed_value)
    started = time.perf_counter()
    specs = [
        (1000 + i, "bus_validator", "bus", f"bus line {i % 12 + 1}, vehicle {i}")
        for i in range(buses)
    ]
    specs += [
        (2000 + i, "door_reader", DOORS[i % len(DOORS)][0], f"door {i}") for i in range(doors)
    ]
    city = build(factory, settings, holders=holders, purse_cents=5000, terminals=specs, rng=rng)
    devices = _devices(city, work, http, base_url)
    report = Report()
    for d in devices:
        d.syncer.sync_snapshot()
    day0 = time.time()
    late: list[tuple[int, Device]] = []
    for day in range(days):
        for d in devices:
            d.down = rng.random() < down_share
            if d.down:
                late.append((day + rng.randint(1, late_days), d))
        taps = day_of_taps(rng, city.cards, buses, doors, day0 + day * 86400, trips_per_holder)
        for n in range(0, len(taps), 2000):
            _run_burst(devices, taps[n : n + 2000], report)
            for d in devices:
                if not d.down:
                    d.syncer.upload_all()
                    d.syncer.sync_snapshot()
            progress("taps", day * len(taps) + n, days * len(taps))
        for due, d in [x for x in late if x[0] <= day + 1]:
            d.syncer.upload_all()
            late.remove((due, d))
    for d in devices:
        d.syncer.upload_all()
        d.validator.journal.close()
    progress("taps", 1, 1)
    progress("verify", 0, 1)
    _reconcile(factory, report)
    progress("verify", 1, 1)
    report.seconds = time.perf_counter() - started
    return report


def _run_burst(
    devices: list[Device], taps: list[tuple[float, int, SoftCard]], report: Report
) -> None:
    by_device: dict[int, list[tuple[float, SoftCard]]] = {}
    for at, index, card in taps:
        by_device.setdefault(index, []).append((at, card))
    for index, rows in by_device.items():
        d = devices[index]
        for at, card in rows:  # one presentation at a time, in time order, each journaled
            d.clock[0] = at
            decision = d.validator.decide_many([card])[0]
            if decision.code == "accepted":
                report.taps_made += 1
                report.cents_made += decision.holder_cents + decision.concession_cents
            else:
                report.refused[decision.code] += 1


def _reconcile(factory: Any, report: Report) -> None:
    with transaction(factory) as s:
        seal(s)
    with transaction(factory) as s:
        rows = s.execute(
            select(
                SettledTap.outcome,
                func.count(),
                func.sum(SettledTap.holder_cents),
                func.sum(SettledTap.concession_cents),
            ).group_by(SettledTap.outcome)
        )
        report.outcomes = {
            o: {"taps": int(n), "holder_cents": int(h or 0), "concession_cents": int(c or 0)}
            for o, n, h, c in rows
        }
        revenue = s.execute(
            select(func.sum(Account.credits_posted - Account.debits_posted)).where(
                Account.code.like("revenue:%")
            )
        ).scalar()
        report.revenue_cents = int(revenue or 0)
        result = verify(s)
        report.verify_ok, report.problems = result.ok, result.problems


@contextmanager
def in_process(settings: Settings) -> Iterator[tuple[Any, httpx.Client, str]]:
    """The back office in this process (ASGI, no sockets)."""
    from fastapi.testclient import TestClient

    from card_service.api.app import create_app

    with TestClient(create_app(settings)) as client:
        yield client.app.state.sessionmaker, client, "http://testserver"  # type: ignore[attr-defined]


def progress_bar() -> tuple[Progress, Callable[[str, int, int], None]]:
    bar = Progress()
    tasks: dict[str, Any] = {}

    def update(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bar.add_task(what, total=total)
        bar.update(tasks[what], completed=done, total=total)

    return bar, update
