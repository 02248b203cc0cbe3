"""A client's policy: which questions it may ask and which personal fields its answers carry.

The default is the least: a client registered without a policy may ask whether a card is valid
and nothing else. Fields are named one by one; no field is ever implied by another.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Question = Literal["card_status", "entitlement", "quote", "charge", "usage"]
Disclosure = Literal["birth_date", "name", "address", "residence_status"]

QUESTIONS: tuple[Question, ...] = ("card_status", "entitlement", "quote", "charge", "usage")
DISCLOSURES: tuple[Disclosure, ...] = ("birth_date", "name", "address", "residence_status")


def _minimal() -> list[Question]:
    return ["card_status"]


class Policy(BaseModel):
    questions: list[Question] = Field(
        default_factory=_minimal,
        description="card_status: valid and active, yes/no; entitlement: in category X, yes/no; "
        "quote: what this card pays for one of the service's products; charge: charge it; "
        "usage: this service's own charges of a card.",
    )
    fields: list[Disclosure] = Field(
        default_factory=list,
        description="Personal fields added to the card_status answer; none by default.",
    )
    categories: list[str] | None = Field(
        default=None,
        description="Categories the client may ask about (entitlement); null: every category.",
    )

    def allows(self, question: Question) -> bool:
        return question in self.questions

    def may_ask_category(self, category: str) -> bool:
        return self.categories is None or category in self.categories
