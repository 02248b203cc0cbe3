"""The back-office side of terminals: enrolment, batch ingestion, settlement checks, snapshots."""
