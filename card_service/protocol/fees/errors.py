"""Named errors of the fee engine. Each has a stable snake_case ``code``.

Pure exceptions (validators raise them offline); the back office maps each to a domain error of
the same code (``card_service.catalogue.errors``).
"""

from __future__ import annotations


class FeeError(Exception):
    """Base of every fee engine error."""

    code = "fee_error"


class RulesInvalid(FeeError):
    """The fare rules do not validate; ``path`` names the offending key (for a line number)."""

    code = "catalogue_invalid"

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        self.path = path
        self.reason = reason
        where = ".".join(str(p) for p in path) or "(top)"
        super().__init__(f"{where}: {reason}")


class ServiceUnknown(FeeError):
    code = "service_unknown"


class ProductUnknown(FeeError):
    code = "product_unknown"


class ProductNotOfService(FeeError):
    code = "product_not_of_service"


class QuantityInvalid(FeeError):
    """A quantity outside what the product allows (not 1 for a per-item product, above max)."""

    code = "quantity_invalid"
