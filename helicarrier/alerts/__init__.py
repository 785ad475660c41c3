"""Alerts: rules, the lifecycle, silences and inhibition, grouping and notifications. Plain modules (no SQL,
no Dash); the queries are in helicarrier.data.queries.alert*."""
