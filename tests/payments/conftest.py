"""Fixtures of the payments tests: one localstripe per test session (per xdist worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.payments.rig import LocalStripe


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    fake = LocalStripe()
    yield fake
    fake.close()
