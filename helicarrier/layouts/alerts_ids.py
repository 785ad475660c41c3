"""The Alerts page's component ids (its layout spans alerts.py and alerts_forms.py). Pattern-matching ids
use the ``*_OPEN``, ``*_EDIT``, ``*_EXPIRE`` and ``*_TOGGLE`` types with the row's id, e.g.
``{"type": ACK_OPEN, "alert": alert_id}``."""

from __future__ import annotations

# Stores a successful action bumps, so the feed and the tables redraw at once.
TICKS = ("ack", "silence", "expire", "rule", "receiver", "toggle")


class ID:
    PAGE = "alerts-page"
    SUMMARY = "alerts-summary"
    INTERVAL = "alerts-interval"
    SLOW_INTERVAL = "alerts-slow-interval"
    TICK = {name: f"alerts-tick-{name}" for name in TICKS}
    # the live feed
    FEED_PANEL = "alerts-feed-panel"
    STATE_FILTER = "alerts-state-filter"
    FEED = "alerts-feed"
    FEED_EMPTY = "alerts-feed-empty"
    FEED_HASH = "alerts-feed-hash"
    PANELS_SHOWN = "alerts-panels-shown"  # digests of what the polled panels show (callbacks/unchanged.py)
    CONFIG_SHOWN = "alerts-config-shown"
    ACK_OPEN = "alerts-ack-open"
    SILENCE_OPEN = "alerts-silence-open"
    # acknowledging
    ACK_MODAL = "alerts-ack-modal"
    ACK_TARGET = "alerts-ack-target"
    ACK_WHAT = "alerts-ack-what"
    ACK_NOTE = "alerts-ack-note"
    ACK_SUBMIT = "alerts-ack-submit"
    ACK_RESULT = "alerts-ack-result"
    # silencing, and the silences
    SILENCE_MODAL = "alerts-silence-modal"
    SILENCE_MATCHERS = "alerts-silence-matchers"
    SILENCE_DURATION = "alerts-silence-duration"
    SILENCE_COMMENT = "alerts-silence-comment"
    SILENCE_SUBMIT = "alerts-silence-submit"
    SILENCE_RESULT = "alerts-silence-result"
    SILENCES_PANEL = "alerts-silences-panel"
    SILENCES = "alerts-silences"
    SILENCE_EXPIRE = "alerts-silence-expire"
    SILENCE_EXPIRE_RESULT = "alerts-silence-expire-result"
    # the evaluator's health
    EVAL_PANEL = "alerts-eval-panel"
    EVAL = "alerts-eval"
    EVAL_TABLE = "alerts-eval-table"
    # rules and the rule editor
    RULES_PANEL = "alerts-rules-panel"
    RULES = "alerts-rules"
    RULE_NEW = "alerts-rule-new"
    RULE_EDIT = "alerts-rule-edit"
    RULE_EDITOR = "alerts-rule-editor"
    RULE_ID = "alerts-rule-id"
    RULE_NAME = "alerts-rule-name"
    RULE_METRIC = "alerts-rule-metric"
    RULE_GROUP_BY = "alerts-rule-group-by"
    RULE_GROUP_WANT = "alerts-rule-group-want"
    RULE_LABEL_KEY = "alerts-rule-label-key"
    RULE_SEVERITY = "alerts-rule-severity"
    RULE_COMPARATOR = "alerts-rule-comparator"
    RULE_THRESHOLD = "alerts-rule-threshold"
    RULE_WINDOW = "alerts-rule-window"
    RULE_FOR = "alerts-rule-for"
    RULE_NODATA = "alerts-rule-nodata"
    RULE_ERROR = "alerts-rule-error"
    RULE_REOPEN = "alerts-rule-reopen"
    RULE_ENABLED = "alerts-rule-enabled"
    RULE_PARAMS = "alerts-rule-params"
    RULE_LABELS = "alerts-rule-labels"
    RULE_INHIBITS = "alerts-rule-inhibits"
    RULE_DESCRIPTION = "alerts-rule-description"
    RULE_PREVIEW = "alerts-rule-preview"
    RULE_PREVIEW_RESULT = "alerts-rule-preview-result"
    PREVIEW_TEXT = "alerts-preview-text"
    RULE_SAVE = "alerts-rule-save"
    RULE_DELETE = "alerts-rule-delete"
    RULE_RESULT = "alerts-rule-result"
    # receivers and deliveries
    RECEIVERS_PANEL = "alerts-receivers-panel"
    RECEIVERS = "alerts-receivers"
    RECEIVER_FORM = "alerts-receiver-form"
    RECEIVER_NAME = "alerts-receiver-name"
    RECEIVER_KIND = "alerts-receiver-kind"
    RECEIVER_URL = "alerts-receiver-url"
    RECEIVER_GROUP_BY = "alerts-receiver-group-by"
    RECEIVER_TIMING = "alerts-receiver-timing"
    RECEIVER_CREATE = "alerts-receiver-create"
    RECEIVER_RESULT = "alerts-receiver-result"
    RECEIVER_TOGGLE = "alerts-receiver-toggle"
    RECEIVER_TOGGLE_RESULT = "alerts-receiver-toggle-result"
    DELIVERIES_PANEL = "alerts-deliveries-panel"
    DELIVERIES = "alerts-deliveries"
