"""``card-service staff ...``: create an account (the first admin), write the permissions table."""

from __future__ import annotations

from pathlib import Path

import typer

staff_app = typer.Typer(help="Staff accounts and the permissions reference.", no_args_is_help=True)


@staff_app.command("create")
def create(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., help="clerk, supervisor, auditor, admin or finance."),
    name: str = typer.Option(..., help="Display name."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a staff account; its owner then enrols an authenticator (POST /v1/staff/enrolment)."""
    from card_service.audit.schemas import Actor
    from card_service.db import configured_sessions, transaction
    from card_service.staff import service
    from card_service.staff.roles import Role

    factory = configured_sessions()
    with transaction(factory) as session:
        service.create(
            session,
            Actor.system("staff create"),
            username=username,
            display_name=name,
            role=Role(role),
            password=password,
        )
    typer.echo(f"created {role} {username}: enrol an authenticator before signing in")


@staff_app.command("permissions")
def permissions(
    write: Path | None = typer.Option(None, help="Write the markdown table to this file."),
) -> None:
    """Print (or write) the table of every route and the roles allowed, generated from the code."""
    from card_service.api.permissions import markdown

    text = markdown()
    if write is None:
        typer.echo(text, nl=False)
    else:
        write.write_text(text)
        typer.echo(f"wrote {write}")
