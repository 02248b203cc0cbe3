"""Power cuts: the validator killed (SIGKILL) during taps, the back office killed during
settlement. Afterwards nothing is lost, nothing doubled, and ledger verify is clean."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from card_service.db import transaction
from card_service.protocol.apdu import CardState
from card_service.terminals.models import SettledTap
from terminals.validator.journal import Journal
from terminals.virtual_card.state import CardFile, CardStore
from tests.settlement.simcity import rig

REPO = Path(__file__).resolve().parents[2]

VALIDATOR = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from card_service.protocol.keystore import MemoryKeystore
    from terminals.validator.decide import Validator
    from terminals.validator.journal import Journal
    from terminals.validator.snapshot import LocalSnapshot
    from terminals.virtual_card.applet import Applet
    from terminals.virtual_card.local import LocalChannel
    from terminals.virtual_card.state import CardStore
    work = Path(sys.argv[1]); terminal_id = int(sys.argv[2])
    keys = MemoryKeystore.from_json((work / "keys.json").read_bytes())
    journal = Journal(work / "validator.journal")
    snapshot = LocalSnapshot(journal, keys.issuer_public_keys(), terminal_id, time.time)
    if snapshot.issued_at is None:
        snapshot.apply(json.loads((work / "snapshot.json").read_text()))
    validator = Validator(terminal_id, "bus", journal, snapshot, keys, passback_s=0)
    stores = sorted(work.glob("card-*.json"))
    n = 0
    while True:
        store = CardStore(stores[n % len(stores)]); n += 1
        d = validator.present(LocalChannel(Applet(store)))
        print(d.code, d.seq, flush=True)
    """
)


def test_the_validator_killed_during_taps_loses_and_doubles_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    with rig(sqlite_url, tmp_path, holders=12, purse_cents=100_000) as r:
        terminal = r.city.terminals[0]
        work = tmp_path / "validator"
        work.mkdir()
        (work / "keys.json").write_bytes(r.city.keys.to_json())
        _, syncer = r.validator(terminal, time.time, name="fetch")
        doc = syncer.client.snapshot({})
        (work / "snapshot.json").write_text(json.dumps(doc))
        for card in r.city.cards:
            CardStore(work / f"card-{card.uid.hex()}.json").save(
                CardFile(
                    card.uid.hex(),
                    CardState.LOCKED,
                    card.key_version,
                    card.key.hex(),
                    card.cert.hex(),
                )
            )
        accepted: set[int] = set()
        for run in range(4):
            proc = subprocess.Popen(
                [sys.executable, "-c", VALIDATOR, str(work), str(terminal.identity.terminal_id)],
                stdout=subprocess.PIPE, text=True, cwd=REPO,
            )  # fmt: skip
            assert proc.stdout is not None
            for _ in range(30 + 17 * run):
                code, seq = proc.stdout.readline().split()
                assert code in ("accepted", "already_charged"), code  # a torn tap recovered
                accepted.add(int(seq))
            os.kill(proc.pid, signal.SIGKILL)  # mid-tap, mid-commit or mid-card-write
            proc.wait()
            proc.stdout.close()
        journal = Journal(work / "validator.journal")
        ready = journal.counts().get("ready", 0)
        assert ready >= len(accepted)
        from terminals.validator.snapshot import LocalSnapshot
        from terminals.validator.sync import Syncer

        syncer = Syncer(
            syncer.client,
            journal,
            LocalSnapshot(journal, {}, terminal.identity.terminal_id, time.time),
        )
        assert syncer.upload_all() == ready
        with transaction(r.sessions()) as s:
            rows = s.execute(select(SettledTap.seq, SettledTap.outcome, SettledTap.reason)).all()
        settled = {seq for seq, outcome, _ in rows if outcome == "settled"}
        assert accepted <= settled  # every tap the passenger saw accepted is paid
        assert {o for _, o, _ in rows} <= {"settled", "void"}, rows  # no replay, no bad MAC
        r.verify()


def _wait_for_settlement(url: str) -> None:
    """Until the server holds an open transaction on the test database that has written."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        for _ in range(1000):
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_xid IS NOT "
                "NULL AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.005)
    raise AssertionError("no settlement transaction seen")


SERVER = [sys.executable, "-m", "uvicorn", "--factory", "card_service.api.app:create_app"]


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*SERVER, "--port", str(port), "--log-level", "warning"], env=env, cwd=REPO
    )
    import httpx

    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the service did not start")


@pytest.mark.slow
def test_the_service_killed_during_settlement_settles_every_tap_once(
    pg_url: str, tmp_path: Path
) -> None:
    db_url = pg_url
    import threading

    from terminals.sync import SyncClient, SyncUnavailable

    with rig(db_url, tmp_path, holders=100, purse_cents=100_000) as r:
        env = {
            **os.environ,
            "CARD_SERVICE_DATABASE_URL": db_url,
            "CARD_SERVICE_KEYSTORE_PATH": str(tmp_path / "keystore.json"),
            "CARD_SERVICE_KEYSTORE_PASSPHRASE": "test",
            "CARD_SERVICE_PII_KEYRING_PATH": str(tmp_path / "pii-keyring.json"),
            "CARD_SERVICE_LEDGER_MAINTENANCE_INTERVAL_S": "0",
        }
        clock_t = [time.time()]
        validator, syncer = r.validator(r.city.terminals[0], lambda: clock_t[0])
        syncer.sync_snapshot()
        for _ in range(20):  # 2,000 taps
            validator.decide_many(r.city.cards)
            clock_t[0] += 60
        journaled = validator.journal.counts()["ready"]
        port = 18000 + os.getpid() % 1000
        server = _serve(env, port)
        syncer.client = SyncClient(f"http://127.0.0.1:{port}", r.city.terminals[0].identity)
        failed: list[Exception] = []

        def upload() -> None:
            try:
                syncer.upload_once()
            except SyncUnavailable as exc:
                failed.append(exc)

        thread = threading.Thread(target=upload)
        thread.start()
        _wait_for_settlement(db_url)  # the batch's transaction is open on the server
        server.send_signal(signal.SIGKILL)
        server.wait()
        thread.join()
        assert failed, "the upload finished before the kill: make the batch bigger"
        assert validator.journal.counts()["ready"] == journaled
        server = _serve(env, port)
        try:
            assert syncer.upload_all() == journaled
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
        with transaction(r.sessions()) as s:
            n = s.scalar(select(func.count()).where(SettledTap.outcome == "settled"))
        assert n == journaled
        r.verify()
