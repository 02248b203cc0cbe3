"""Tables of this domain."""

from card_service.models_base import Base

__all__ = ["Base"]
