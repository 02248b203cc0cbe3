"""Benchmark: the fee engine alone (what a bus validator spends deciding a fare).

    .venv/bin/python bench/fees.py [--quotes 200000] [--riders 5000]

Loads the demo catalogue (card_service/catalogue/data/gijon.yaml), makes riders of every age and
category, gives each a realistic week of earlier uses (two to six bus rides a day, some parking,
bike, sports with a 10-entry pass), then times single ``quote`` calls over a mix weighted like the
city's 32,000 uses a day (three quarters bus, a quarter of those a change of line). Each timing is one call, perf_counter_ns around it.
The last line is JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from card_service.protocol.fees import FareRules, Rider, Use, quote  # noqa: E402

MADRID = ZoneInfo("Europe/Madrid")
MONDAY = datetime(2026, 11, 30, 4, 30, tzinfo=MADRID)
PROOF = ("pension", "social", "unemployed", "largefam_general", "largefam_special", "disability33")
# (service, product, quantity, weight): roughly the city's mix of uses.
MIX = [
    ("bus", "single", 1, 75),
    ("parking", "minute", 60, 6),
    ("bike", "ride", 45, 4),
    ("library", "loan", 1, 5),
    ("sports", "entry", 1, 4),
    ("museums", "entry", 1, 1),
    ("theatre", "ticket", 1, 1),
    ("wifi", "session", 1, 2),
    ("toilets", "entry", 1, 2),
]


def rules() -> FareRules:
    path = REPO / "card_service" / "catalogue" / "data" / "gijon.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return FareRules.from_dict({**data, "version": "bench"})


def rider(rng: random.Random) -> Rider:
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 95 * 365))
    cats = frozenset(c for c in PROOF if rng.random() < 0.05)
    return Rider(born, cats)


def week_of_uses(r: FareRules, who: Rider, rng: random.Random, days: int) -> list[Use]:
    uses: list[Use] = []
    if rng.random() < 0.2:
        q = quote(r, who, "sports", "ten_entries", MONDAY + timedelta(hours=6), uses)
        uses.append(Use(q.service, q.product, MONDAY + timedelta(hours=6), q.price_cents,
                        q.holder_cents, q.rule))  # fmt: skip
    for day in range(days):
        for hour in sorted(rng.sample(range(2, 19), rng.randint(2, 6))):
            at = MONDAY + timedelta(days=day, hours=hour, minutes=rng.randrange(60))
            service, product, qty = ("bus", "single", 1)
            if rng.random() < 0.1:
                service, product, qty = rng.choice(
                    [("parking", "minute", 30), ("bike", "ride", 40)]
                )
            q = quote(r, who, service, product, at, uses, qty)
            uses.append(Use(service, product, at, q.price_cents, q.holder_cents, q.rule))
    return uses


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=200_000)
    parser.add_argument("--riders", type=int, default=5_000)
    args = parser.parse_args()
    rng = random.Random(20261130)
    r = rules()
    population = []
    for _ in range(args.riders):
        who = rider(rng)
        days = rng.randint(1, 6)
        population.append((who, week_of_uses(r, who, rng, days), MONDAY + timedelta(days=days)))
    weights = [w for *_, w in MIX]
    picks = rng.choices(MIX, weights=weights, k=args.quotes)
    timings: list[float] = []
    rules_by: dict[str, int] = {}
    for service, product, qty, _ in picks:
        who, uses, day = population[rng.randrange(len(population))]
        at = day + timedelta(hours=rng.randrange(2, 19), minutes=rng.randrange(60))
        if service == "bus" and uses and rng.random() < 0.25:  # a change of line
            at = uses[-1].at + timedelta(minutes=rng.randrange(5, 50))
        t0 = time.perf_counter_ns()
        q = quote(r, who, service, product, at, uses, qty)
        timings.append((time.perf_counter_ns() - t0) / 1000)
        rules_by[q.rule] = rules_by.get(q.rule, 0) + 1
    mean_recent = statistics.mean(len(u) for _, u, _ in population)
    print(f"quotes n={len(timings)} riders={len(population)} mean recent uses={mean_recent:.1f}")
    print(
        f"quote p50={statistics.median(timings):.1f} us p99={_pct(timings, 0.99):.1f} us "
        f"max={max(timings):.1f} us   rules: {dict(sorted(rules_by.items()))}"
    )
    print(
        json.dumps(
            {
                "bench": "fees",
                "quotes": len(timings),
                "riders": len(population),
                "recent_uses_mean": round(mean_recent, 1),
                "quote_us_p50": round(statistics.median(timings), 2),
                "quote_us_p99": round(_pct(timings, 0.99), 2),
                "quote_us_max": round(max(timings), 2),
                "rules": rules_by,
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
