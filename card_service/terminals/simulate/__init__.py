"""The city-day simulator: a city's holders tapping validators, settled and reconciled.

It plays both sides (back office and terminals), so it is the one part of card_service that uses
``terminals.validator``; it is a tool for load, realism and reconciliation, never on a request path.
"""
