"""Benchmark: a month of taps uploaded over HTTP by separate client processes, settled on
PostgreSQL; and a validator's tap decision in software.

    .venv/bin/python bench/settle.py [--taps 1000000] [--terminals 200] [--holders 20000]
                                     [--clients 4] [--workers 2] [--batch 5000]

Builds a fresh PostgreSQL database (CARD_SERVICE_TEST_PG's server), seeds holders with funded
purses, enrols the terminals, then the client processes make the taps as validators would (card-
less input: the card's MAC over each record) and write each batch's JSON body, as a validator's
journal holds its taps when it uploads; once all are ready, they upload them in signed batches to
the app (uvicorn, ``--workers``; each worker's start-up objects frozen, ``gc.freeze``, as
``card-service serve`` does, ``--no-freeze`` to compare) at the same moment. Only the uploads are timed: signing each
request (RFC 9421), sending it over HTTP, settling it on PostgreSQL, reading the answers. ``taps_per_s`` is
taps settled / seconds from the first upload to the last answer; ``cpu_us_per_tap`` splits the
CPU spent meanwhile between the server, this database's PostgreSQL backends and the clients. Then
``decision_ms_p99``: one validator deciding taps one at a time, each durable (the journal's tap
log, fdatasync) before its answer. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("CARD_SERVICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _cpu_s(match: Any) -> float:
    """CPU seconds (user + system) of the processes whose /proc entry satisfies ``match``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if match(int(entry.name), int(fields[1]), cmdline):
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _client(args: tuple[Any, ...]) -> tuple[int, float, float, dict[str, int], float]:
    """One client process: make its terminals' taps, wait for the start, upload them all."""
    base, terminals, cards, per_terminal, batch, start_at, seed = args
    import httpx
    import orjson
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from card_service.protocol.fees import quote  # noqa: F401  (warm import, as a validator)
    from card_service.protocol.tap_record import TapRecord, tap_mac
    from card_service.protocol.terminal_wire import WireTap
    from terminals.sync import SyncClient, TerminalIdentity, signed_headers

    rng = random.Random(seed)
    uploads = []
    # A validator's client is set up once, when it starts (creating an httpx.Client loads the CA
    # store: ~25 ms of CPU); this process's validators share one connection pool.
    http = httpx.Client(timeout=300)
    now = int(time.time()) - 30 * 86400
    for terminal_id, raw_key in terminals:
        identity = TerminalIdentity(terminal_id, Ed25519PrivateKey.from_private_bytes(raw_key))
        items = []
        for seq in range(1, per_terminal + 1):
            uid, version, key, counter = cards[rng.randrange(len(cards))]
            counter[0] += 1
            record = TapRecord(terminal_id, seq, now + seq * 60, 150, counter[0])
            items.append(
                WireTap(
                    seq,
                    uid,
                    version,
                    record,
                    tap_mac(key, record),
                    0,
                    None,
                    "bus",
                    "single",
                    "base",
                ).to_json()
            )
        # What a validator's journal holds when it uploads: each batch's taps, made and MACed
        # by the cards, written as the upload's JSON body. Only signing the request, sending it
        # and reading the answers are timed.
        bodies = [
            orjson.dumps({"taps": items[at : at + batch]}) for at in range(0, len(items), batch)
        ]
        uploads.append((SyncClient(base, identity, http=http), bodies, len(items)))
    signed_headers(uploads[0][0].identity, "POST", base, b"{}", time.time())  # warm imports
    results: Counter[str] = Counter()
    while time.time() < start_at:
        time.sleep(0.01)
    t0, c0 = time.time(), time.process_time()
    for client, bodies, _ in uploads:
        for body in bodies:
            answers = client.upload_body(body)
            results.update([a["result"] for a in answers if "reason" not in a])
            results.update([a["result"] + ":" + a["reason"] for a in answers if "reason" in a])
    cpu = time.process_time() - c0
    return sum(n for _, _, n in uploads), t0, time.time(), dict(results), cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--taps", type=int, default=1_000_000)
    parser.add_argument("--terminals", type=int, default=200)
    parser.add_argument("--holders", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="serve without freezing start-up objects (gc_freeze_at_start off)",
    )
    args = parser.parse_args()

    import psycopg

    from card_service.config import Settings
    from card_service.db import make_engine, make_sessionmaker
    from card_service.migrate import upgrade
    from card_service.terminals.simulate.city import build

    name = f"bench_settle_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0] + "/" + name
    tmp = Path(tempfile.mkdtemp())
    env = {
        **os.environ,
        "CARD_SERVICE_DATABASE_URL": url,
        "CARD_SERVICE_KEYSTORE_PATH": str(tmp / "keystore.json"),
        "CARD_SERVICE_KEYSTORE_PASSPHRASE": "bench",
        "CARD_SERVICE_PII_KEYRING_PATH": str(tmp / "pii.json"),
        "CARD_SERVICE_LEDGER_MAINTENANCE_INTERVAL_S": "1",
    }
    os.environ.update(env)
    server = None
    try:
        upgrade(url)
        settings = Settings()
        factory = make_sessionmaker(make_engine(url))
        rng = random.Random(1)
        specs = [(1000 + i, "bus_validator", "bus", f"vehicle {i}") for i in range(args.terminals)]
        t = time.time()
        city = build(
            factory,
            settings,
            holders=args.holders,
            purse_cents=10_000_000,
            empty_share=0,
            terminals=specs,
            rng=rng,
        )
        print(
            f"city of {len(city.cards)} cards, {args.terminals} terminals in {time.time() - t:.1f} s"
        )
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        terms = [
            (
                t.identity.terminal_id,
                t.identity.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            )
            for t in city.terminals
        ]
        port = 18800
        freeze = "false" if args.no_freeze else "true"  # as card-service serve starts it
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "card_service.api.app:create_app",
             "--port", str(port), "--workers", str(args.workers), "--log-level", "warning"],
            env=env | {"CARD_SERVICE_GC_FREEZE_AT_START": freeze}, cwd=REPO,
        )  # fmt: skip
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        per_terminal = args.taps // args.terminals
        # Each client owns its terminals and its cards (a card's counter lives on the card).
        shares = []
        for c in range(args.clients):
            cards = [(k.uid, k.key_version, k.key, [0]) for k in city.cards[c :: args.clients]]
            shares.append((terms[c :: args.clients], cards))

        def server_tree(pid: int, ppid: int, cmd: str) -> bool:
            return server is not None and server.pid in (pid, ppid)

        def backends(pid: int, ppid: int, cmd: str) -> bool:
            return cmd.startswith("postgres:") and f" {name} " in cmd

        cpu0 = (_cpu_s(server_tree), _cpu_s(backends))
        start_at = time.time() + 5 + args.taps / 40_000  # time to make the taps first
        with mp.get_context("spawn").Pool(args.clients) as pool:
            out = pool.map(
                _client,
                [(f"http://127.0.0.1:{port}", t, c, per_terminal, args.batch, start_at, i)
                 for i, (t, c) in enumerate(shares)],
            )  # fmt: skip
        cpu1 = (_cpu_s(server_tree), _cpu_s(backends))
        total = sum(o[0] for o in out)
        client_cpu = sum(o[4] for o in out)
        first, last = min(o[1] for o in out), max(o[2] for o in out)
        results: dict[str, int] = {}
        for o in out:
            for k, v in o[3].items():
                results[k] = results.get(k, 0) + v
        taps_per_s = total / (last - first)
        # CPU per tap while uploading (microseconds): where the two cores went.
        cpu_us = {
            "server": round((cpu1[0] - cpu0[0]) / total * 1e6, 1),
            "postgres_backends": round((cpu1[1] - cpu0[1]) / total * 1e6, 1),
            "clients": round(client_cpu / total * 1e6, 1),
        }
        print(
            f"settled {total} taps in {last - first:.1f} s: {taps_per_s:,.0f} taps/s; answers {results}"
        )
        print(f"CPU per tap (us): {cpu_us}; load average {os.getloadavg()}")
        decisions = _decisions(city, tmp, args.decisions)
        print(
            f"decision p50 {statistics.median(decisions):.3f} ms p99 {_pct(decisions, 0.99):.3f} ms"
        )
        print(json.dumps({
            "bench": "settle", "taps": total, "terminals": args.terminals, "clients": args.clients,
            "workers": args.workers, "batch": args.batch, "gc_freeze": not args.no_freeze, "seconds": round(last - first, 2),
            "taps_per_s": round(taps_per_s), "answers": results, "cpu_us_per_tap": cpu_us,
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "decision_ms_p50": round(statistics.median(decisions), 3),
            "decision_ms_p99": round(_pct(decisions, 0.99), 3), "cpu_count": os.cpu_count(),
        }))  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _decisions(city: Any, tmp: Path, n: int) -> list[float]:
    """One validator, taps one at a time, each durable (tap log, fdatasync) before its answer."""
    from terminals.sync import SyncClient
    from terminals.validator.decide import Validator
    from terminals.validator.journal import Journal
    from terminals.validator.snapshot import LocalSnapshot
    from terminals.validator.sync import Syncer

    clock = [time.time()]
    journal = Journal(tmp / "decisions.journal")
    terminal = city.terminals[0]
    snapshot = LocalSnapshot(
        journal, city.keys.issuer_public_keys(), terminal.identity.terminal_id, lambda: clock[0]
    )
    Syncer(
        SyncClient("http://127.0.0.1:18800", terminal.identity), journal, snapshot
    ).sync_snapshot()
    validator = Validator(terminal.identity.terminal_id, "bus", journal, snapshot, city.keys)
    out = []
    for i in range(n):
        card = city.cards[i % len(city.cards)]
        clock[0] += 20
        t0 = time.perf_counter()
        decision = validator.decide(card)
        out.append((time.perf_counter() - t0) * 1000)
        assert decision.code in ("accepted", "purse_empty"), decision
    return out


if __name__ == "__main__":
    main()
