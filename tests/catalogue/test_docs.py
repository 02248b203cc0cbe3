"""Every named error of the catalogue and the fee engine has its heading in errors.md."""

from __future__ import annotations

from pathlib import Path

from card_service.catalogue import errors
from card_service.protocol import fees

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "errors.md"


def test_every_catalogue_and_fee_error_is_documented() -> None:
    headings = {line[3:].strip() for line in DOC.read_text().splitlines() if line.startswith("## ")}
    domain = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.DomainError)
        and cls is not errors.DomainError
    }
    engine = {
        cls.code
        for cls in vars(fees).values()
        if isinstance(cls, type) and issubclass(cls, fees.FeeError) and cls is not fees.FeeError
    }
    assert domain >= engine
    assert domain <= headings, domain - headings
