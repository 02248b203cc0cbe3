"""``card-service keys rotate-pii``: rotate the master key and re-encrypt personal data."""

from __future__ import annotations

import typer


def rotate_pii(
    batch_size: int = typer.Option(500, min=1, help="Holders per transaction."),
    resume: bool = typer.Option(
        False, "--resume", help="Finish an interrupted rotation: no new key."
    ),
    retire: bool = typer.Option(
        False, "--retire", help="Afterwards drop master keys no longer used."
    ),
) -> None:
    """A new master key, then every holder gets a fresh data key, in batches, while serving."""
    from rich.progress import Progress

    from card_service.config import get_settings
    from card_service.db import configured_sessions
    from card_service.identity.crypto import keyring_for
    from card_service.identity.rotation import retire_unused, rotate

    settings = get_settings()
    factory = configured_sessions(settings)
    ring = keyring_for(settings.pii_keyring, settings.pii_keyring_path)
    with Progress(transient=True) as bar:
        task = bar.add_task("re-encrypting holders", total=None)
        done = rotate(
            factory,
            ring,
            batch_size=batch_size,
            new_master_key=not resume,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
        )
    typer.echo(f"re-encrypted {done} holders under master key {ring.current}")
    if retire:
        gone = retire_unused(factory, ring)
        typer.echo(f"retired master keys: {', '.join(gone) or 'none'}")


holders_app = typer.Typer(
    help="Holders: maintenance of their lookup indexes.", no_args_is_help=True
)


@holders_app.command("reindex-names")
def reindex_names(
    batch_size: int = typer.Option(500, min=1, help="Holders per transaction."),
) -> None:
    """Rebuild the blind name index of every live holder (after the 0008 migration)."""
    from card_service.config import get_settings
    from card_service.db import configured_sessions, transaction
    from card_service.identity.crypto import keyring_for
    from card_service.identity.names import reindex_batch

    settings = get_settings()
    factory = configured_sessions(settings)
    ring = keyring_for(settings.pii_keyring, settings.pii_keyring_path)
    after, done = 0, 0
    while True:
        with transaction(factory) as session:
            step = reindex_batch(session, ring, after, batch_size)
        if step is None:
            break
        after, n = step
        done += n
    typer.echo(f"name index rebuilt for {done} holders")
