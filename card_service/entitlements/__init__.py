"""Entitlement categories (reduced and free fares) and the grants that give them to holders."""
