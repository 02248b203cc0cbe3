"""The finance report: what each service earned in a day and what each concession cost."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class CategoryCost(BaseModel):
    category: str
    uses: int
    cost_cents: int = Field(description="What the concession budget paid for these uses.")


class ServiceDay(BaseModel):
    service: str
    day: date
    uses: int = Field(description="Charged uses (refused charges are not uses).")
    refused: int
    revenue_cents: int = Field(description="Full price of the uses: holders plus concessions.")
    holder_cents: int
    concession_cents: int
    concessions: list[CategoryCost]
