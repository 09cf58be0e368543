"""The radar's Atom feeds, served by the chat app's own web server (Chainlit's FastAPI app).

* `/radar/feeds/TOKEN.atom`: for feed readers, which cannot log in; the per-topic secret token is the key
  (`academichub radar feed NAME --format url` prints the address).
  The token names one topic, whoever owns it.
* `/radar/topics/NAME.atom`: the same feed by topic name, behind the app's login when login is on: the
  signed-in user's topic of that name (another user's answers 404, as a name no topic has).

Chainlit registers a catch-all route (`/{full_path:path}`, the chat page) when its server module is
imported, and routes match in order, so ours are moved in front of it (or in front of the included router
that holds it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainlit.auth import get_current_user
from chainlit.server import app as server
from fastapi import Depends, HTTPException
from fastapi.responses import Response
from starlette.routing import BaseRoute

from assistant.radar import delivery
from assistant.radar.service import Radar, RadarError
from assistant.ui.auth import owner_of

ATOM_TYPE = "application/atom+xml; charset=utf-8"
CATCH_ALL = "/{full_path:path}"


def _atom(radar: Radar, owner: str, name: str, path: str) -> Response:
    """The owner's topic's feed, its self link on the configured public address (never from the request's
    Host header)."""
    try:
        self_url = delivery.public_url(radar.settings, path)
        body = delivery.topic_feed(radar, name, self_url=self_url, owner=owner)
    except RadarError:
        raise HTTPException(status_code=404, detail="no such feed") from None
    return Response(content=body, media_type=ATOM_TYPE)


def add_feed_routes(radar_provider: Callable[[], Radar]) -> None:
    """Serve the feeds of `radar_provider()`'s radar. The routes are registered once per process, ahead of
    Chainlit's catch-all page route; the provider is kept on the server's state, so the latest call's radar
    is the one served (a process that re-points its radar never serves another index's feeds)."""
    server.state.academichub_radar = radar_provider
    if any(getattr(route, "path", "") == "/radar/feeds/{token}.atom" for route in server.router.routes):
        return

    def radar() -> Radar:
        provider: Callable[[], Radar] = server.state.academichub_radar
        return provider()

    def feed_by_token(token: str) -> Response:
        found = delivery.topic_for_token(radar(), token)
        if found is None:
            raise HTTPException(status_code=404, detail="no such feed")
        owner, name = found
        return _atom(radar(), owner, name, delivery.feed_path(token))

    def feed_by_name(name: str, user: Any = Depends(get_current_user)) -> Response:
        # get_current_user answers 401 when login is on and the request carries no valid session, and
        # None when login is off (the one no-login owner).
        return _atom(radar(), owner_of(user), name, delivery.topic_path(name))

    server.add_api_route("/radar/feeds/{token}.atom", feed_by_token, methods=["GET"])
    server.add_api_route("/radar/topics/{name}.atom", feed_by_name, methods=["GET"])
    routes: list[BaseRoute] = server.router.routes
    ours = routes[-2:]
    del routes[-2:]
    position = next((i for i, r in enumerate(routes) if _holds_catch_all(r)), len(routes))
    routes[position:position] = ours


def _holds_catch_all(route: BaseRoute) -> bool:
    """The catch-all itself, or the included router that holds it (FastAPI keeps an included router as one
    entry that delegates to the original router's routes)."""
    if getattr(route, "path", "") == CATCH_ALL:
        return True
    inner = getattr(route, "original_router", None)
    return any(getattr(r, "path", "") == CATCH_ALL for r in getattr(inner, "routes", []))
