"""Retention: old history is pruned per kind (raw usage, logs, audit, resolved alerts, rollups), in bounded
batches, by the scheduler's leader."""
