"""A real HTTP server for the agent client: the whole app, served by werkzeug on a free port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server

from helicarrier.client import HelicarrierClient
from helicarrier.context import AppContext
from helicarrier.webapp import create_app
from tests.waiting import SERVED, InFlight

Serve = Callable[[Callable], str]


@pytest.fixture
def serve_wsgi() -> Iterator[Serve]:
    """``serve(wsgi_app) -> base_url``: serve in a daemon thread (threaded, keep-alive) until teardown."""
    servers = []

    def serve(wsgi_app: Callable) -> str:
        server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def live_server(settings, serve_wsgi) -> Iterator[tuple[str, AppContext]]:
    """(base_url, app context) of the real app on the backend under test."""
    app = create_app(settings)
    ctx: AppContext = app.server.config["HELICARRIER"]
    app.server.wsgi_app = InFlight(app.server.wsgi_app)
    url = serve_wsgi(app.server)
    SERVED[url] = app.server.wsgi_app
    yield url, ctx
    ctx.repo.dispose()


@pytest.fixture
def ingest_token(live_server) -> str:
    _, ctx = live_server
    token, _ = ctx.repo.create_token("test-agents", "ingest")
    return token


@pytest.fixture
def dead_url() -> str:
    """A URL nothing listens on (a port just freed by the OS)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def make_client() -> Callable[..., HelicarrierClient]:
    """Clients closed at teardown, with short backoff so retries happen within a test."""
    clients: list[HelicarrierClient] = []

    def make(url: str, token: str, **kwargs) -> HelicarrierClient:
        kwargs = {"source": "test-host", "backoff_base": 0.05, "backoff_max": 0.2, "timeout": 5.0, **kwargs}
        client = HelicarrierClient(url, token, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(timeout=1)
