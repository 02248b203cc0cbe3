"""Settings, read from the environment (prefix ``CARD_SERVICE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "card_service.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARD_SERVICE_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    # Seconds between background runs of the ledger sealer and hold expiry in the web service.
    ledger_maintenance_interval_s: float = 1.0
    host: str = "127.0.0.1"
    port: int = 8000
    # Identity, staff and cards (issue 3). The PII keyring (master keys that wrap each holder's
    # data key, and the national-id lookup key) comes from pii_keyring (JSON, for production
    # secrets) or else from pii_keyring_path, generated on first use for the embedded default.
    pii_keyring: str | None = None
    pii_keyring_path: Path = Path("var") / "pii-keyring.json"
    staff_session_minutes: int = 30
    citizen_session_minutes: int = 15
    staff_lockout_failures: int = 5
    staff_lockout_minutes: int = 15
    pin_max_failures: int = 3
    card_validity_years: int = 5
    card_renewal_window_days: int = 90

    # Card security (issue 5): the keystore with the master keys cards are diversified from and
    # the city's Ed25519 issuing keys. Production passes the passphrase in the environment; the
    # embedded default creates both files under var/ on first use (demo only).
    keystore_path: Path = Path("var") / "keystore.json"
    keystore_passphrase: str | None = None
    mobile_credential_days: int = 365

    # The city's services, fees and the service API (issue 4).

    # end of services settings

    # Payments (issue 7).

    # end of payments settings

    # Terminals, snapshots and settlement (issue 6). A terminal's signed request must be created
    # within this many seconds of the server's clock; validators stop accepting taps once their
    # last snapshot is older than the maximum age; deny-list deltas come in pages of this size.
    terminals_signature_window_s: int = 300
    terminals_snapshot_max_age_days: int = 21
    terminals_deny_page: int = 5000
    terminals_max_batch: int = 5000
    # A snapshot request first lifts the purse denials of purses topped up since (at most this
    # often per process), so a top-up reaches validators at their next sync.
    terminals_purse_sweep_s: float = 2.0

    # end of terminals settings

    # Kiosk and desk (issue 8).

    # end of kiosk settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
