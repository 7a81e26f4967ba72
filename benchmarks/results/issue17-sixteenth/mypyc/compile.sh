#!/bin/sh
# The sixteenth session's experiment (not adopted): the hot modules compiled with mypyc, in a
# scratch worktree of main with its own venv; the .so files land beside the sources, where an
# editable install imports them first. ab.sh then runs that worktree against /work/main.
# Left out: chatd/protocol/events.py and client.py (their dataclasses' ClassVar OP cannot be
# compiled as they are written: "'Send' object attribute 'OP' is read-only").
printf '[mypy]\nignore_missing_imports = True\n' > /tmp/mypyc.ini
.venv/bin/mypyc --config-file /tmp/mypyc.ini chatd/outbox.py chatd/delivery.py chatd/transport.py \
    chatd/connection.py chatd/committer.py chatd/rooms.py chatd/recent.py chatd/views.py \
    chatd/limits.py chatd/protocol/codec.py chatd/protocol/session.py chatd/actions/messages.py \
    chatd/actions/context.py
