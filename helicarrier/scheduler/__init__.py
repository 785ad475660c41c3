"""Background jobs (command expiry, kill verification, alert evaluation, reports) run by exactly one
process at a time, however many web workers or app instances share the database."""
