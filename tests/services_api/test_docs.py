"""Every named error of entitlements, the service API and charging has its heading in errors.md."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from card_service.api.problems import DomainError
from card_service.charging import errors as charging_errors
from card_service.entitlements import errors as grant_errors
from card_service.services_api import errors as api_errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "errors.md"


def _codes(module: ModuleType) -> set[str]:
    return {
        cls.code
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, DomainError) and cls is not DomainError
    }


def test_every_error_is_documented() -> None:
    headings = {line[3:].strip() for line in DOC.read_text().splitlines() if line.startswith("## ")}
    codes = _codes(grant_errors) | _codes(api_errors) | _codes(charging_errors)
    assert len(codes) >= 20
    assert codes <= headings, codes - headings
