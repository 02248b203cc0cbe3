"""Pages for the kiosk and the clerk desk: jinja2 templates, a little plain JS, no build step.

kiosk_ui imports nothing of card_service but its protocol; the pages are served by the device
runtime in terminals/kiosk, which talks to card_service over HTTP.
"""
