"""Card counters already settled: a tap's counter counts once per card, ever."""

from __future__ import annotations

from sqlalchemy import BigInteger, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from card_service.models_base import Base


class SettledCounter(Base):
    __tablename__ = "terminals_settled_counters"
    __table_args__ = ({"sqlite_with_rowid": False},)

    card_uid: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    settled_at: Mapped[int] = mapped_column(BigInteger)
