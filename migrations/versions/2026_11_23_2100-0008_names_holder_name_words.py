"""The blind name index: holder_name_words (issue 8, find a holder by name).

Existing holders are indexed by ``card-service holders reindex-names`` (the migration has no
keyring, so it cannot hash their names).

Revision ID: 0008_names
Revises: 0007_kiosk
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_names"
down_revision: str | None = "0007_kiosk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holder_name_words",
        sa.Column(
            "holder_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("word_hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["identity_holders.id"],
            name=op.f("fk_holder_name_words_holder_id_identity_holders"),
        ),
        sa.PrimaryKeyConstraint("holder_id", "word_hash", name=op.f("pk_holder_name_words")),
    )
    with op.batch_alter_table("holder_name_words", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_holder_name_words_word_hash"), ["word_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("holder_name_words", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holder_name_words_word_hash"))
    op.drop_table("holder_name_words")
