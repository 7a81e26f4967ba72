"""Both file stores for the tests: a local S3-compatible server (moto's server mode, a real
HTTP server on 127.0.0.1 and port 0: chatd's boto3 client talks to it as to any S3), buckets
on it, and a look at what a store holds.

The fixtures that use these live in ``tests/conftest.py``: ``s3_endpoint`` (one server for
the session), ``s3_settings`` (a new bucket for one test, as ``[files]`` settings) and
``store_settings`` (parametrised: ``local`` and ``s3``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import boto3
import botocore.config

from chatd.files import FileStore, LocalStore
from chatd.s3 import S3Store

__all__ = ["S3_KEYS", "MotoServer", "make_bucket", "s3_client", "stored"]

#: Credentials moto accepts (any); the region it makes buckets in.
S3_KEYS = {"s3_access_key": "chatd-test", "s3_secret_key": "chatd-test-secret",
           "s3_region": "us-east-1"}


class MotoServer:
    """moto's S3 server in a thread of this process, on a free port."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line for every request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the test server, for the tests' own looks at a bucket."""
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=S3_KEYS["s3_region"],
        aws_access_key_id=S3_KEYS["s3_access_key"],
        aws_secret_access_key=S3_KEYS["s3_secret_key"],
        config=botocore.config.Config(s3={"addressing_style": "path"}))


def make_bucket(endpoint: str) -> dict[str, str]:
    """A new bucket on the server; the ``[files]`` settings that make chatd use it (with a
    prefix, as a shared bucket would have)."""
    bucket = f"chatd-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return {"store": "s3", "s3_endpoint": endpoint, "s3_bucket": bucket,
            "s3_prefix": "chatd/", **S3_KEYS}


def stored(store: FileStore) -> list[str]:
    """The SHA-256s of the bytes the store holds (not uploads in progress nor bytes taken
    away), sorted. Blocking."""
    if isinstance(store, LocalStore):
        return sorted(path.name for path in store.root.glob("??/??/*") if path.is_file())
    assert isinstance(store, S3Store)
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket,
                                                                   Prefix=store.prefix)
    keys = [item["Key"][len(store.prefix):] for page in pages
            for item in page.get("Contents", [])]
    return sorted(key for key in keys if "/" not in key)


async def read_all(store: FileStore, sha256: str) -> bytes:
    """The stored bytes with this SHA-256, read as a download reads them."""
    async with await store.source(sha256).open() as reader:
        await reader.seek(0, reader.size)
        chunks = []
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)
