"""The API for municipal services: registered clients, their policies, and what they may ask."""
