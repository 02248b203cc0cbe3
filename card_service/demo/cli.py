"""``card-service demo seed``: load the demo city."""

from __future__ import annotations

import typer

demo_app = typer.Typer(help="The demo city.", no_args_is_help=True)


@demo_app.command("seed")
def seed_cmd(
    holders: int = typer.Option(1000, min=0, help="Generated holders (each with card and purse)."),
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when holders exist."),
) -> None:
    """Staff (TOTP secrets printed once), personas with PINs, generated holders, the kiosk."""
    from rich.console import Console
    from rich.progress import Progress

    from card_service.config import get_settings
    from card_service.db import configured_sessions
    from card_service.demo.seed import seed
    from card_service.identity.crypto import keyring_for

    settings = get_settings()
    factory = configured_sessions(settings)
    ring = keyring_for(settings.pii_keyring, settings.pii_keyring_path)
    console = Console()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("holders", total=holders)
        report = seed(
            factory,
            ring,
            holders_count=holders,
            if_empty=if_empty,
            progress=lambda n: bar.advance(task, n),
        )
    from card_service.demo.kiosk import enrol_demo_kiosk

    path, kiosk_id = settings.demo_kiosk_identity_path, settings.demo_kiosk_terminal_id
    typer.echo(enrol_demo_kiosk(factory, path, kiosk_id))  # plain: a path is never wrapped
    if report.skipped:
        console.print("holders exist already: nothing seeded (--if-empty)")
        return
    # Plain lines, never truncated: these secrets are shown once.
    if report.staff:
        console.print("[bold]Staff[/] (shown once: put each TOTP secret in an authenticator)")
        for username, role, password, secret in report.staff:
            typer.echo(f"  staff {username} role={role} password={password} totp_secret={secret}")
    if report.personas:
        console.print("[bold]Personas[/] (sign in at POST /v1/me/login)")
        for who, nid, number, pin in report.personas:
            typer.echo(f"  persona national_id={nid} card={number} pin={pin}  {who}")
    console.print(f"seeded {report.holders} generated holders with cards and purses")
