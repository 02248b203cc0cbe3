"""Named errors of the catalogue (docs/reference/errors.md)."""

from __future__ import annotations

from card_service.api.problems import DomainError
from card_service.protocol import fees


class CatalogueInvalid(DomainError):
    """A catalogue file that does not parse or validate; ``line`` is 1-based (None if unknown)."""

    code = "catalogue_invalid"
    status = 422

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class CatalogueNotLoaded(DomainError):
    code = "catalogue_not_loaded"
    status = 409


class EffectiveFromPast(DomainError):
    code = "effective_from_past"
    status = 422


class ServiceUnknown(DomainError):
    code = "service_unknown"
    status = 404


class ProductUnknown(DomainError):
    code = "product_unknown"
    status = 404


class ProductNotOfService(DomainError):
    code = "product_not_of_service"
    status = 422


class QuantityInvalid(DomainError):
    code = "quantity_invalid"
    status = 422


_BY_CODE: dict[str, type[DomainError]] = {
    c.code: c for c in (ServiceUnknown, ProductUnknown, ProductNotOfService, QuantityInvalid)
}


def from_engine(exc: fees.FeeError) -> DomainError:
    """The back-office error of the same code as a fee engine error."""
    return _BY_CODE.get(exc.code, DomainError)(str(exc))
