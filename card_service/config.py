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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
