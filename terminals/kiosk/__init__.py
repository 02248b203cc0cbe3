"""The kiosk device runtime: the card reader and card_service on one side, kiosk_ui's pages on
the other (served to the kiosk's own screen, pushed reader events over server-sent events)."""
