"""Gauges read from the database when Prometheus scrapes: commands by kind and state, agents by status, and
how long ago the alerts were last evaluated. The database is the one place every worker, instance and the
scheduler process agree on, so whichever process answers the scrape reports the same numbers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from helicarrier.autoscale.service import FLAG as AUTOSCALE_FLAG
from helicarrier.control.lifecycle import KINDS, STATES
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow
from helicarrier.fleet.status import STATUSES, status_of


class DatabaseGauges(Collector):
    def __init__(self, repo: Repository, offline_after_s: int):
        self.repo = repo
        self.offline_after_s = offline_after_s

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        commands = GaugeMetricFamily(
            "helicarrier_commands", "Commands by kind and lifecycle state.", labels=["kind", "state"]
        )
        counts = {(k, s): n for k, s, n in self.repo.command_counts()}
        # Every known pair, zero included, so a rate or an alert on a state has a series before it happens.
        for kind in KINDS:
            for state in STATES:
                commands.add_metric([kind, state], counts.get((kind, state), 0))
        yield commands

        agents = GaugeMetricFamily(
            "helicarrier_agents", "Agents by status as the HUD shows it.", labels=["status"]
        )
        seen_since = now - timedelta(seconds=self.offline_after_s)
        by_status: Counter[str] = Counter()
        for reported, control, seen, n in self.repo.agent_status_counts(seen_since):
            by_status[status_of(reported, control, seen)] += n
        for status in STATUSES:
            agents.add_metric([status], by_status.get(status, 0))
        yield agents

        decision = self.repo.flag(AUTOSCALE_FLAG)
        if decision is not None and decision.value:
            yield GaugeMetricFamily(
                "helicarrier_fleet_desired_workers",
                "Agent workers the auto-scaler wants now (absent before its first evaluation).",
                value=json.loads(decision.value)["desired"],
            )

        last = self.repo.last_alert_cycle_at()
        if last is not None:
            yield GaugeMetricFamily(
                "helicarrier_alert_evaluation_lag_seconds",
                "Seconds since the latest alert evaluation cycle started (absent before the first).",
                value=max(0.0, (now - last).total_seconds()),
            )
