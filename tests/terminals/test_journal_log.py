"""The validator's journal: a tap is durable once its tap-log record is synced, whether or not
SQLite got it; replays never double a tap or a use; a torn record is ignored."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from terminals.validator.journal import Journal, Journaled, UseRow
from terminals.validator.taplog import HEADER, MAGIC


def _tap(seq: int) -> Journaled:
    body = {"seq": seq, "kind": "tap", "uid": "04a1b2c3d4e5f6", "holder_cents": 150}
    use = UseRow(1000 + seq, "bus", "single", 150, 150, "base")
    return Journaled(seq, bytes.fromhex("04A1B2C3D4E5F6"), 1000 + seq, body, use)


def test_a_tap_whose_sqlite_write_was_lost_comes_back_from_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "v.journal")
    journal.commit_taps([_tap(1)])

    def lost(*args: Any) -> None:  # the process dies between the log's sync and SQLite's commit
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Journal, "_apply", staticmethod(lost))
        with pytest.raises(KeyboardInterrupt):
            journal.commit_taps([_tap(2)])
    assert [t["seq"] for t in journal.unacknowledged(10)] == [1]
    journal.close()

    reopened = Journal(tmp_path / "v.journal")
    assert [t["seq"] for t in reopened.unacknowledged(10)] == [1, 2]
    assert len(reopened.uses(bytes.fromhex("04A1B2C3D4E5F6"), 0)) == 2
    reopened.close()
    again = Journal(tmp_path / "v.journal")  # opening twice replays nothing twice
    assert len(again.uses(bytes.fromhex("04A1B2C3D4E5F6"), 0)) == 2
    assert again.last_seq() == 2


def test_a_torn_record_at_the_end_of_the_log_is_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "v.journal")
    journal.commit_taps([_tap(1)])
    log, end = journal._log, journal._log.end
    journal.close()
    fd = os.open(log.path, os.O_RDWR)
    os.pwrite(fd, HEADER.pack(MAGIC, log.generation, 500, 0) + b"{half", end)
    os.close(fd)
    reopened = Journal(tmp_path / "v.journal")
    assert [t["seq"] for t in reopened.unacknowledged(10)] == [1]
    reopened.commit_taps([_tap(2)])
    assert [t["seq"] for t in reopened.unacknowledged(10)] == [1, 2]


def test_the_log_starts_again_when_full_and_keeps_every_tap(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "v.journal", log_bytes=4096)
    n = 100  # about 250 bytes each: several passes of the log
    for seq in range(1, n + 1):
        journal.commit_taps([_tap(seq)])
    assert journal._log.generation > 4
    journal.close()
    reopened = Journal(tmp_path / "v.journal", log_bytes=4096)
    assert len(reopened.unacknowledged(n + 10)) == n
    assert len(reopened.uses(bytes.fromhex("04A1B2C3D4E5F6"), 0)) == n


def test_a_burst_bigger_than_the_log_is_committed_by_sqlite_itself(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "v.journal", log_bytes=4096)
    n = 100
    journal.commit_taps([_tap(seq) for seq in range(1, n + 1)])
    journal.close()
    assert len(Journal(tmp_path / "v.journal", log_bytes=4096).unacknowledged(n + 10)) == n
