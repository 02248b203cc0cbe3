"""Citizen self-service: sign in with card and PIN, balance, movements, block, GDPR access."""
