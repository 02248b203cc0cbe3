"""Charging a card for a service's product: the fee engine's quote as linked ledger transfers."""
