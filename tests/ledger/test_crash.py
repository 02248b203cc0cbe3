"""A settlement process killed with SIGKILL mid-batch leaves the batch wholly there or wholly
absent, and verify stays clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

from card_service.db import make_engine, make_sessionmaker, transaction
from card_service.ledger import service as ledger
from card_service.ledger.seal import seal
from card_service.ledger.verify import verify

SETTLER = textwrap.dedent(
    """
    import sys, uuid
    from card_service.db import make_engine, make_sessionmaker, transaction
    from card_service.ledger import history, service as ledger
    from card_service.ledger.schemas import TransferRequest
    url, src, dst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    history.INDEX_EVERY = int(sys.argv[4])
    sessions = make_sessionmaker(make_engine(url))
    n = 0
    while True:
        with transaction(sessions) as s:
            batch = [TransferRequest(uuid.uuid4(), src, dst, 1, "fare") for _ in range(2000)]
            ledger.create_transfers(s, batch)
        n += 1
        print(n, flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "index_every",
    [
        50_000,
        # SQLite: from the second batch on, each writes a slice of the history index on a
        # thread, its reads on a sibling connection, when the kill comes.
        1_000,
    ],
)
def test_sigkill_during_settlement_leaves_whole_batches_only(db_url, index_every):
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        src = ledger.open_account(s, code="src", kind="t").id
        dst = ledger.open_account(s, code="dst", kind="t").id
    proc = subprocess.Popen(
        [sys.executable, "-c", SETTLER, db_url, str(src), str(dst), str(index_every)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    # Wait until two batches are committed, then kill it while it writes the next ones.
    for _ in range(2):
        assert proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with transaction(sessions) as s:
        count = s.execute(text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one()
        sums = s.execute(text("SELECT COUNT(*), SUM(transfer_count) FROM ledger_batches")).one()
        assert count % 2000 == 0 and count >= 4000
        assert sums[1] == count
        assert ledger.balance(s, dst).balance_cents == count
        seal(s)
    with transaction(sessions) as s:
        report = verify(s)
    assert report.ok, report.problems
    engine.dispose()
