"""The few plain web routes beside the Dash pages: sign-in and sign-out (``helicarrier.auth.web``), and the
browser's reports of Content-Security-Policy violations."""

from __future__ import annotations

import logging

from flask import Response, current_app, request

from helicarrier.auth.web import login, login_page, logout  # noqa: F401 - views of the route table

log = logging.getLogger("helicarrier.csp")
MAX_REPORT_BYTES = 16 * 1024


def csp_report():
    """A browser says the page broke the policy: counted (the CSP test reads the count) and logged once per
    kind. Anyone may post here; nothing is stored but a bounded counter."""
    body = request.get_data(cache=False)[:MAX_REPORT_BYTES]
    counts = current_app.config.setdefault("HELICARRIER_CSP_REPORTS", {})
    key = "violation"
    counts[key] = min(counts.get(key, 0) + 1, 10**9)
    if counts[key] <= 10:
        log.warning("Content-Security-Policy violation reported: %s", body[:500].decode("utf-8", "replace"))
    return Response(status=204)
