"""The bus validator runtime: fare decision offline, durable journal, signed sync."""
