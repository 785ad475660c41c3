"""Agents that report and obey through their own hooks (Claude Code), not through Helicarrier's client."""
