"""``chatd client``: a line-oriented terminal chat client.

It talks to a chatd server as any client would, through the HTTP front (log in, ``/upload``)
and the socket protocol (WebSocket ``/ws`` or the bare TCP port), and of chatd it imports only
the protocol's sans-IO package, :mod:`chatd.protocol` (its client side frames and parses
everything). The modules, in the order a line travels:

- :mod:`chatd.client.main`: the entry point, ``chatd client``: options, user name, password.
- :mod:`chatd.client.commands`: what a typed line does (text to the room, ``/commands``).
- :mod:`chatd.client.session`: logging in, staying connected and resuming, requests and their
  replies, sends and changes that survive reconnects, what each event from the server does.
- :mod:`chatd.client.messages`: the messages held, kept exact by applying the entries of the
  rooms' logs (the rev rule), and their short numbers.
- :mod:`chatd.client.link`: the server's address, HTTP requests (an upload streamed from the
  disk), one protocol connection.
- :mod:`chatd.client.render`: how a message looks: the Markdown subset as terminal styles.
- :mod:`chatd.client.terminal`: what is printed (made safe for a terminal) and what is read.
"""

from chatd.client.link import Endpoint
from chatd.client.main import main, run
from chatd.client.session import ChatClient, ClientOptions
from chatd.client.terminal import clean, clean_body

__all__ = ["ChatClient", "ClientOptions", "Endpoint", "clean", "clean_body", "main", "run"]
