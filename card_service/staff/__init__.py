"""Staff accounts, roles, TOTP and sessions (staff and citizen)."""
