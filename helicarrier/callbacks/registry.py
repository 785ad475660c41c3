"""A page's Dash callbacks, declared as module-level functions and wired to an app in one place.

    CALLBACKS = Callbacks()

    @CALLBACKS.on(Output(ID.HISTORY, "children"), Input(ID.INTERVAL, "n_intervals"))
    def history(ctx: AppContext, _n): ...

    @CALLBACKS.on(Output(...), Input(...), role="operator", prevent_initial_call=True)
    def send_task(ctx: AppContext, ...): ...

    def register(app, ctx):
        CALLBACKS.register(app, ctx)

A callback takes the app's context first, then the values Dash passes; a test calls it directly
(``command.history(ctx, 0)``). One declared with a role is registered through ``role_callback`` (the gate
refuses a lower role with 403 and an audit entry before the callback runs) and checks ``require_role`` again
when it runs, here, so that no callback has to remember to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dash

from helicarrier.auth.web import CurrentUser, current_user, require_role, role_callback
from helicarrier.context import AppContext
from helicarrier.observability import metrics, tracing


@dataclass(frozen=True)
class _Server:
    func: Callable[..., Any]
    dependencies: tuple[Any, ...]
    options: dict[str, Any]
    role: str | None


@dataclass(frozen=True)
class _Clientside:
    script: str
    dependencies: tuple[Any, ...]
    options: dict[str, Any]


class Callbacks:
    """The callbacks of one page, in the order they were declared."""

    def __init__(self) -> None:
        self._server: list[_Server] = []
        self._clientside: list[_Clientside] = []

    def on(self, *dependencies: Any, role: str | None = None, **options: Any):
        """Declare ``func(ctx, *values)`` with Dash's Outputs, Inputs and States and ``app.callback``'s
        options; ``role``: the least role that may run it. The function is returned unchanged."""

        def declare(func: Callable[..., Any]) -> Callable[..., Any]:
            self._server.append(_Server(func, dependencies, options, role))
            return func

        return declare

    def clientside(self, script: str, *dependencies: Any, **options: Any) -> None:
        """Declare a callback that runs in the browser (``app.clientside_callback``)."""
        self._clientside.append(_Clientside(script, dependencies, options))

    def register(self, app: dash.Dash, ctx: AppContext) -> None:
        for cb in self._server:
            bound = bind_context(cb.func, ctx, cb.role)
            if cb.role is None:
                app.callback(*cb.dependencies, **cb.options)(bound)
            else:
                role_callback(app, cb.role, *cb.dependencies, **cb.options)(bound)
        for cs in self._clientside:
            app.clientside_callback(cs.script, *cs.dependencies, **cs.options)


def bind_context(func: Callable[..., Any], ctx: AppContext, role: str | None) -> Callable[..., Any]:
    """What Dash calls: ``func`` with the context first, after the role check when it has a role."""

    # helicarrier_dash_callback_duration_seconds{callback="ledger.grid_rows"}: the page and the function;
    # inside a request's trace, the span "callback ledger.grid_rows" with the page's queries under it.
    name = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
    span_name = f"callback {name}"

    @functools.wraps(func)
    def callback(*values: Any) -> Any:
        if role is not None:
            require_role(role)  # the second line of defence behind the gate
        with tracing.span(span_name):
            return func(ctx, *values)

    return metrics.timed(metrics.CALLBACK, name, callback)


def signed_in_user() -> CurrentUser:
    """Who a role-gated callback runs for (the registry has checked the role before calling it)."""
    user = current_user()
    if user is None:
        raise PermissionError("sign in first")
    return user
