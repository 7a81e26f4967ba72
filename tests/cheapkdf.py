"""Cheap argon2id for the daemons the tests run.

The daemon hashes every new password and checks every log-in with argon2-cffi's default
argon2id (64 MiB, 3 passes, 4 lanes: about 150 ms of both cores of a CI machine each). Most
tests register and log in several people to set a scene, and those hashes were a large share
of the suite's time while proving nothing about the test's subject. So the daemons the tests
run hash with the smallest parameters argon2id takes, as tests/test_auth.py and tests/http/ do
through ``Auth(hasher=...)``; what hashing itself must do (argon2id, never the clear text, the
worker slots) stays tested in tests/test_auth.py.

- In the tests' own process, ``tests/conftest.py`` swaps the default hasher of
  :class:`chatd.auth.Auth` (the daemons the tests run in-process build theirs with it).
- A daemon run as a child process (the browser tests) is started as
  ``python -m tests.cheapkdf serve ...`` (the checkout on ``PYTHONPATH``) instead of
  ``python -m chatd serve ...``: this module makes the same swap, then runs ``chatd``'s
  command line exactly as ``-m chatd`` does.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

#: The checkout (this package's parent), which a child process needs on its path.
ROOT = Path(__file__).resolve().parent.parent
#: The command line of a ``chatd`` child process that hashes cheaply: ``[*CHATD, "serve"]``
#: in the place of ``[sys.executable, "-m", "chatd", "serve"]``, with :func:`child_env`.
CHATD = [sys.executable, "-m", "tests.cheapkdf"]


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the checkout first on ``PYTHONPATH``, so that :data:`CHATD` finds this
    module whatever the child's working folder."""
    path = [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def cheap_hasher(**_: Any) -> PasswordHasher:
    """In the place of ``PasswordHasher()``: argon2id at its smallest cost (one pass over
    8 KiB, one lane)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def make_hashing_cheap() -> None:
    """Make :class:`chatd.auth.Auth` default to :func:`cheap_hasher` in this process."""
    import chatd.auth

    setattr(chatd.auth, "PasswordHasher", cheap_hasher)  # noqa: B010 (mypy: it is a class)


if __name__ == "__main__":
    make_hashing_cheap()
    runpy.run_module("chatd", run_name="__main__", alter_sys=True)
