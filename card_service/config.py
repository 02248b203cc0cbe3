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
    # FastAPI's own OpenTelemetry (traces, metrics, logs per request). Off unless a deployment
    # has an OpenTelemetry SDK to send them to (its checks measured 70-160 µs per request).
    telemetry: bool = False
    # Once started, freeze what start-up built out of the cyclic collector's reach (gc.freeze):
    # it lives as long as the process, and every collection would walk it again. `card-service
    # serve` turns it on; off by default for processes that build many apps (the tests).
    gc_freeze_at_start: bool = False
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
    # -- service API and charging (branch grants) --
    # The city's day for reports and daily fare rules.
    services_timezone: str = "Europe/Madrid"
    # How long a process trusts its copy of a client (policy, secret hashes, active): a disable,
    # rotation or policy change made by another process takes effect within this time.
    services_client_cache_s: float = 5.0
    # How long the previous secret keeps working after a rotation.
    services_rotation_grace_hours: int = 24
    # Default token bucket of a new client: requests per second and burst.
    services_default_rate_per_s: int = 100
    services_default_burst: int = 200
    # An answer waits at most this long for its audit record to commit (else 503).
    services_audit_wait_s: float = 5.0
    # The audit writer waits this long after a group's first record for more to join it (one
    # commit for all); the price is this much latency when the service is idle.
    services_audit_linger_ms: float = 2.0
    # Serve the hot questions (entitlement, quote) on the plain ASGI fast path (api/fast.py,
    # services_api/fast_endpoints.py); false leaves them to the FastAPI reference endpoints.
    services_fast_path: bool = True

    # end of services settings

    # Payments (issue 7). Keys come from the environment, never from code: the secret key
    # (sk_...), the publishable key handed to browsers (pk_...) and the webhook signing secret
    # (whsec_...). stripe_api_base points the stripe library elsewhere (localstripe in tests);
    # None is Stripe itself. Payments are off until stripe_api_key is set.
    stripe_api_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    stripe_timeout_s: float = 10.0
    stripe_max_network_retries: int = 2
    # A signed webhook older than this is refused (replayed by someone who captured it).
    stripe_webhook_tolerance_s: int = 300
    payments_currency: str = "eur"
    topup_min_cents: int = 500
    purse_max_cents: int = 15_000
    # An unpaid online top-up counts against purse_max_cents for this long, then is abandoned.
    topup_pending_minutes: int = 60
    auto_topup_max_failures: int = 3
    # Seconds between runs of the payments worker in the web service (stored events left
    # unprocessed, queued auto top-ups, refunds Stripe did not answer); 0 turns it off.
    payments_worker_interval_s: float = 5.0
    # The city's business day for reconciliation and kiosk closings.
    payments_timezone: str = "Europe/Madrid"

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

    # Kiosk and desk (issue 8). Residence certificates are valid this long; their PDF points
    # to the public verify page (served by the kiosk runtime's public pages, kiosk_ui/public.py).
    certificate_validity_days: int = 90
    certificate_verify_url: str = "http://127.0.0.1:8100/verify"
    # The demo kiosk's terminal identity (id and signing key): `card-service demo seed` makes it
    # when missing and enrols it as a terminal of kind kiosk; `python -m terminals.kiosk` reads it.
    demo_kiosk_identity_path: Path = Path("var") / "kiosk-terminal.json"
    demo_kiosk_terminal_id: int = 9001

    # end of kiosk settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
