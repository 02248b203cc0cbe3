"""``card-service ledger ...``: verify, seal, expire holds."""

from __future__ import annotations

import typer

ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@ledger_app.command("seal")
def seal_cmd() -> None:
    """Chain every committed batch that is not chained yet."""
    from card_service.db import configured_sessions, transaction
    from card_service.ledger.seal import seal

    factory = configured_sessions()
    with transaction(factory) as session:
        typer.echo(f"sealed {seal(session)} batches")


@ledger_app.command("verify")
def verify_cmd() -> None:
    """Recompute every balance from the entries, check debits equal credits, walk the chain.

    Exits 1 naming the first account or batch that is wrong.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from card_service.db import configured_sessions, transaction
    from card_service.ledger.seal import seal
    from card_service.ledger.verify import verify

    console = Console()
    factory = configured_sessions()
    with transaction(factory) as session:
        sealed = seal(session)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, object] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)  # type: ignore[arg-type]

        with transaction(factory) as session:
            report = verify(session, progress)
    console.print(f"sealed {sealed} new batches before checking")
    for name, count in report.checked.items():
        console.print(f"checked {name}: {count}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/]: {warning}")
    if not report.ok:
        for problem in report.problems:
            console.print(f"[red]wrong[/]: {problem}")
        raise typer.Exit(1)
    console.print("[green]ledger verified: balances, debits = credits, chain intact[/]")


@ledger_app.command("expire")
def expire_cmd() -> None:
    """Void every hold whose timeout has passed."""
    from card_service.db import configured_sessions, transaction
    from card_service.ledger.service import expire_holds

    factory = configured_sessions()
    with transaction(factory) as session:
        typer.echo(f"expired {expire_holds(session)} holds")
