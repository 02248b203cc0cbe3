"""The tap log: the one write a validator's answer waits for (ADR 0008, "Journal").

A file of fixed size, filled with zeros when created, written from its start: each commit of taps
is one record (magic, generation, length, CRC-32, payload) written at the end of the last one and
made durable by one ``fdatasync``. The file never grows, so the sync writes the data blocks only
(no inode or extent change): about 0.2 ms here against 1 to 4 ms at the 99th percentile for a
file that grows, and a few times less than SQLite's commit of the same taps (several pages plus
its WAL frame headers).

Reading stops at the first record that is not whole (a torn write) or belongs to an older
generation: the journal starts a new generation, and writes from the start again, only once
SQLite holds everything the log held durably (journal.py).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

MAGIC = b"CTL1"
HEADER = struct.Struct(">4sIII")  # magic, generation, payload length, CRC-32 of the payload
SIZE = 2 << 20


class TapLog:
    def __init__(self, path: Path, size: int = SIZE) -> None:
        self.path = path
        self.size = size
        self.generation = 0
        self.end = 0
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        have = os.fstat(self._fd).st_size
        if have < size:
            chunk = bytes(1 << 20)
            while have < size:
                have += os.pwrite(self._fd, chunk[: size - have], have)
            os.fsync(self._fd)
            _sync_dir(path.parent)

    def close(self) -> None:
        os.close(self._fd)

    def records(self, generation: int) -> list[tuple[int, bytes]]:
        """The whole records of ``generation`` from the start: (offset after it, payload)."""
        data = os.pread(self._fd, self.size, 0)
        out, at = [], 0
        while at + HEADER.size <= len(data):
            magic, gen, length, crc = HEADER.unpack_from(data, at)
            start = at + HEADER.size
            if magic != MAGIC or gen != generation or start + length > len(data):
                break
            payload = data[start : start + length]
            if zlib.crc32(payload) != crc:
                break
            at = start + length
            out.append((at, payload))
        return out

    def start(self, generation: int, end: int = 0) -> None:
        """Write the next record of ``generation`` at ``end``."""
        self.generation, self.end = generation, end

    def fits(self, payload: bytes) -> bool:
        return self.end + HEADER.size + len(payload) <= self.size

    def append(self, payload: bytes) -> int:
        """Write one record and make it durable; the offset after it."""
        header = HEADER.pack(MAGIC, self.generation, len(payload), zlib.crc32(payload))
        os.pwrite(self._fd, header + payload, self.end)
        os.fdatasync(self._fd)
        self.end += HEADER.size + len(payload)
        return self.end


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
