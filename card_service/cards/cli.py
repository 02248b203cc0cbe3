"""``card-service cards expire``: mark cards past their expiry now (the running service also does it daily)."""

from __future__ import annotations

from datetime import date

import typer

cards_app = typer.Typer(help="Cards.", no_args_is_help=True)


@cards_app.command("expire")
def expire_cmd() -> None:
    """Cards past their expiry date become expired; live ones go on the deny list."""
    from card_service.audit.schemas import Actor
    from card_service.cards.service import expire_due
    from card_service.db import configured_sessions, transaction

    factory = configured_sessions()
    total = 0
    while True:
        with transaction(factory) as session:
            n = expire_due(session, Actor.system("cards expire"), date.today())
        total += n
        if n == 0:
            break
    typer.echo(f"expired {total} cards")
