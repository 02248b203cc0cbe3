"""Benchmark: demo seed throughput, and card lookups by card number and by national id.

    .venv/bin/python bench/identity.py --holders 10000
    .venv/bin/python bench/identity.py --holders 1000000            # SQLite file in bench/out/
    .venv/bin/python bench/identity.py --holders 100000 --db postgresql://postgres@127.0.0.1:5432/bench_identity

Lookups are timed in the service layer (a session, the query, decoding), one session per lookup,
as a request would do; no HTTP. Targets: p99 under 5 ms at 1,000,000 holders; p50 at 1,000,000
within 1.5x of p50 at 10,000; seeding 100,000 holders in under 60 s. Figures go to
docs/performance.md by hand.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from card_service.cards import service as cards  # noqa: E402
from card_service.cards.models import Card  # noqa: E402
from card_service.db import make_engine, make_sessionmaker  # noqa: E402
from card_service.demo.seed import seed  # noqa: E402
from card_service.identity import service as holders  # noqa: E402
from card_service.identity.crypto import keyring_for  # noqa: E402
from card_service.identity.models import Holder  # noqa: E402
from card_service.migrate import upgrade  # noqa: E402


def fresh_database(url: str | None, n: int) -> str:
    if url is None:
        path = ROOT / "bench" / "out" / f"identity-{n}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        url = f"sqlite:///{path}"
    elif make_url(url).get_backend_name() == "postgresql":
        import psycopg

        name = make_url(url).database
        admin = make_url(url).set(database="postgres", drivername="postgresql")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
    upgrade(url)
    return url


def existing_sample(factory: Any, ring: Any, k: int) -> list[tuple[str, str]]:
    """Random active cards of a loaded database, with their holders' national ids."""
    with factory() as s:
        rows = s.execute(
            select(Card.number, Holder)
            .join(Holder, Holder.id == Card.holder_id)
            .where(Card.status == "active")
            .order_by(func.random())
            .limit(k)
        ).all()
        return [(n, holders.personal_fields(s, ring, h)["national_id"]) for n, h in rows]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--holders", type=int, default=10_000, help="generated holders to load")
    ap.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    ap.add_argument("--lookups", type=int, default=3000, help="timed lookups of each kind")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="time lookups on the database a previous run loaded (no seeding)",
    )
    args = ap.parse_args()

    default_file = ROOT / "bench" / "out" / f"identity-{args.holders}.sqlite3"
    if args.reuse:
        url = args.db or f"sqlite:///{default_file}"
    else:
        url = fresh_database(args.db, args.holders)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    ring = keyring_for(None, ROOT / "bench" / "out" / "pii-keyring.json")
    every = max(1, args.holders // (args.lookups * 2))
    loaded = 0

    def progress(n: int) -> None:
        nonlocal loaded
        loaded += n
        if loaded % 100_000 < n:
            print(f"  {loaded:,} holders loaded, {time.perf_counter() - t0:.0f} s", flush=True)

    t0 = time.perf_counter()
    if args.reuse:
        report, sample = None, existing_sample(factory, ring, args.lookups)
    else:
        report = seed(
            factory,
            ring,
            holders_count=args.holders,
            sample_every=every,
            seed_value=42,
            progress=progress,
        )
        sample = report.sample
    seed_s = time.perf_counter() - t0
    random.Random(7).shuffle(sample)
    sample = sample[: args.lookups]

    def by_number(number: str) -> None:
        with factory() as s:
            out = cards.view(s, cards.get(s, number))
            assert out.status == "active"

    def by_national_id(nid: str) -> None:
        with factory() as s:
            holder = holders.find_by_national_id(s, ring, nid)
            assert holder is not None
            card = s.scalars(
                select(Card).where(Card.holder_id == holder.id, Card.status == "active")
            ).one()
            assert card.number

    results = {}
    for name, fn, key in (("by card number", by_number, 0), ("by national id", by_national_id, 1)):
        for number_and_id in sample[:200]:  # warm up caches and the connection pool
            fn(number_and_id[key])
        times = []
        for number_and_id in sample:
            t = time.perf_counter()
            fn(number_and_id[key])
            times.append((time.perf_counter() - t) * 1000)
        results[name] = (pct(times, 0.5), pct(times, 0.99), max(times))
    engine.dispose()

    backend = make_url(url).get_backend_name()
    print(f"\nholders={args.holders:,} backend={backend} lookups={len(sample)}")
    if report is not None:
        print(
            f"demo seed: {report.holders:,} holders in {seed_s:.1f} s "
            f"({report.holders / seed_s:,.0f} holders/s)"
        )
    for name, (p50, p99, worst) in results.items():
        print(
            f"lookup {name}: latency_ms_p50={p50:.3f} latency_ms_p99={p99:.3f} "
            f"latency_ms_max={worst:.3f}"
        )


if __name__ == "__main__":
    main()
