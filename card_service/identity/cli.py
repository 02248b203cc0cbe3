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
