"""Payments: Stripe top-ups, auto top-up, refunds, kiosk cash and reconciliation."""
