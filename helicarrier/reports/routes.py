"""``GET /reports/<name>``: download one scheduled report (a CSV in ``<data dir>/reports``).

Signed-in users only: the gate in helicarrier.auth.web redirects anyone else to /login before this runs,
and the handler checks again. Only a name the report listing knows is served: no path separators, no
dot-files, nothing outside the reports directory.

    curl -b 'helicarrier_session=…' https://helicarrier.example/reports/usage-2025-01-31.csv
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

from helicarrier.auth.web import current_user
from helicarrier.reports.jobs import list_reports

bp = Blueprint("reports", __name__)


def _data_dir() -> Path:
    return Path(current_app.config["HELICARRIER"].settings.data_dir)


@bp.get("/reports/<name>")
def download(name: str):
    if current_user() is None:
        abort(401)
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        abort(404)
    data_dir = _data_dir()
    if name not in {r["name"] for r in list_reports(data_dir)}:
        abort(404)
    return send_from_directory(data_dir / "reports", name, as_attachment=True, mimetype="text/csv", max_age=0)
