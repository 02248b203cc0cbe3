"""``card-service ledger ...``: verify, seal, expire holds."""

from __future__ import annotations

import typer

ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@ledger_app.command("seal")
def seal_cmd() -> None:
    """Chain every committed batch that is not chained yet."""
    from card_service.config import get_settings
    from card_service.db import make_engine, make_sessionmaker, transaction
    from card_service.ledger.seal import seal

    factory = make_sessionmaker(make_engine(get_settings().database_url))
    with transaction(factory) as session:
        typer.echo(f"sealed {seal(session)} batches")
