"""The migrations build the models' schema exactly, on SQLite and on PostgreSQL, both ways."""

from alembic import command

from card_service.db import make_engine
from card_service.migrate import alembic_config


def test_migrations_match_the_models_and_round_trip(db_url):
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises when models and migrations drift apart
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        command.check(cfg)
    engine.dispose()
