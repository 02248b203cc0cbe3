"""Holders (persons and organisations), their encrypted personal data and the evidence behind it."""
