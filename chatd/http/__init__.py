"""The HTTP front (h11): the server loop (:mod:`~chatd.http.server`), the routes of the REST
API (:mod:`~chatd.http.routes`), the page's files (:mod:`~chatd.http.static`), files sent
from disk with ranges (:mod:`~chatd.http.files`) and the WebSocket upgrade
(:mod:`~chatd.http.websocket`), all on one port."""

from chatd.http.server import serve_http_connection
from chatd.http.static import CONTENT_SECURITY_POLICY

__all__ = ["CONTENT_SECURITY_POLICY", "serve_http_connection"]
