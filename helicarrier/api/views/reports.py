"""The scheduled CSV reports: listed and downloaded with a ``read`` token (``/api/v1/reports``) or by a
signed-in user from the Intelligence page (``/reports/<name>``).

Only a name the listing knows is served: no path separators, no dot-files, nothing outside the reports
directory.

    curl -H "Authorization: Bearer $TOKEN" -O http://127.0.0.1:8050/api/v1/reports/usage-2025-01-31.csv
"""

from __future__ import annotations

from flask import send_from_directory

from helicarrier.api.http import app_context, json_response
from helicarrier.errors import Refused
from helicarrier.reports.jobs import list_reports, reports_dir


def list_all():
    return json_response({"reports": list_reports(app_context().settings.data_dir)})


def download(name: str):
    data_dir = app_context().settings.data_dir
    if name not in {r["name"] for r in list_reports(data_dir)}:
        raise Refused(404, "unknown_report", f"no report {name!r}", {"name": name})
    return send_from_directory(
        reports_dir(data_dir), name, as_attachment=True, mimetype="text/csv", max_age=0
    )
