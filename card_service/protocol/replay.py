"""Replay cache for mobile tokens: each (device key, time step) is accepted once."""

from __future__ import annotations

from card_service.protocol.errors import TokenReplayed


class ReplayCache:
    """In memory; entries older than the acceptance window are dropped as time moves on."""

    def __init__(self) -> None:
        self._seen: dict[int, set[bytes]] = {}

    def admit(self, device_key: bytes, step: int, oldest_live: int) -> None:
        for old in [s for s in self._seen if s < oldest_live]:
            del self._seen[old]
        seen = self._seen.setdefault(step, set())
        if device_key in seen:
            raise TokenReplayed(f"token for step {step} already used")
        seen.add(device_key)

    def __len__(self) -> int:
        return sum(len(v) for v in self._seen.values())
