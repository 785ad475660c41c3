"""The Watchtower page's component ids (its layout spans watchtower.py, watchtower_cards.py and
watchtower_detail.py). Pattern-matching ids use the ``*`` types with the agent's id: ``{"type": CARD,
"agent": agent_id}``."""

from __future__ import annotations


class ID:
    PAGE = "watchtower-page"
    SUMMARY = "watchtower-summary"
    # the Hero Grid
    SEARCH = "watchtower-search"
    STATUS_FILTER = "watchtower-status-filter"
    LABEL_FILTER = "watchtower-label-filter"
    SORT = "watchtower-sort"
    COUNT = "watchtower-count"
    GRID = "watchtower-grid"
    GRID_EMPTY = "watchtower-empty"
    SHOWN = "watchtower-shown"
    HEARTBEATS = "watchtower-heartbeats"
    INTERVAL = "watchtower-interval"
    CARD = "watchtower-card"
    # the System Pulse: the fleet's log tail
    LOG = "watchtower-log"
    LOG_AGENT_FILTER = "watchtower-log-agent-filter"
    LOG_LEVEL_FILTER = "watchtower-log-level-filter"
    LOG_TEXT_FILTER = "watchtower-log-text-filter"
    LOG_PAUSE = "watchtower-log-pause"
    LOG_PAUSE_ICON = "watchtower-log-pause-icon"
    LOG_STATE = "watchtower-log-state"
    LOG_WAITING = "watchtower-log-waiting"
    LOG_CURSOR = "watchtower-log-cursor"
    LOG_INTERVAL = "watchtower-log-interval"
    # the agent drawer
    DETAIL = "watchtower-detail"
    DETAIL_BODY = "watchtower-detail-body"
    DETAIL_SHOWN = "watchtower-detail-shown"  # the agent whose detail the drawer holds (None: loading)
    DETAIL_STATUS = "watchtower-detail-status"
    # What follows the agent while the drawer is open (pattern ids: {"type": ..., "agent": agent_id}); the
    # controls around them are drawn once, so a reason being typed survives the refreshes.
    DETAIL_HEAD = "watchtower-detail-head"
    DETAIL_LIVE = "watchtower-detail-live"
    DETAIL_CONTROLS = "watchtower-detail-controls"
    DETAIL_LOGS = "watchtower-detail-logs"
    DETAIL_COMMANDS = "watchtower-detail-commands"
    DETAIL_KILL_OPEN = "watchtower-detail-kill-open"
    DETAIL_KILL_BOX = "watchtower-detail-kill-box"
    DETAIL_KILL_REASON = "watchtower-detail-kill-reason"
    DETAIL_KILL_STRENGTH = "watchtower-detail-kill-strength"
    DETAIL_KILL_CONFIRM = "watchtower-detail-kill-confirm"
    DETAIL_KILL_KEY = "watchtower-detail-kill-key"
    DETAIL_KILL_RESULT = "watchtower-detail-kill-result"
    DETAIL_OWNER = "watchtower-detail-owner"
    DETAIL_OWNER_PICK = "watchtower-detail-owner-pick"
    DETAIL_OWNER_SET = "watchtower-detail-owner-set"
    DETAIL_OWNER_RESULT = "watchtower-detail-owner-result"
    # the stuck-loop sentinel: the agent's findings, and exempting it from the sentinel's actions
    DETAIL_SENTINEL = "watchtower-detail-sentinel"
    DETAIL_EXEMPT = "watchtower-detail-exempt"
    DETAIL_EXEMPT_RESULT = "watchtower-detail-exempt-result"
