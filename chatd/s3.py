"""The S3-compatible file store (``[files] store = "s3"``): the bytes of uploaded files as the
objects of a bucket that several nodes share.

Theory of operation
-------------------
The bytes with SHA-256 ``h`` are the object ``<s3_prefix>h``. Everything else is as in
:mod:`chatd.files`, whose docstring this module follows; what differs:

- **Uploads** still stream to a temporary file on this machine (``data_dir/files/tmp``),
  hashed as they arrive. :meth:`S3Store.place` then asks whether the key exists (HEAD) and,
  if not, uploads the file with boto3's managed transfer: one PUT up to
  :data:`MULTIPART_BYTES`, a multipart upload above (parts of that size, a few at a time), so
  a large file is never read into memory whole. A PUT is atomic: an object is either absent
  or whole, never half written. ``finish`` asks again, as the local store does.
- **Downloads** (:class:`S3Object`): a HEAD gives the size (404: the file is missing, which
  the HTTP server answers 404), then one GET with a ``Range`` header fetches the span the
  client asked for, read from the response a chunk at a time, each read in a worker thread.
- **Collection** cannot rename: :meth:`S3Store.take_away` copies the object to
  ``<s3_prefix>aside/<sha256>.<random>`` (a copy inside the bucket: the bytes do not pass
  through chatd) and then deletes it. Between the copy and the delete the bytes are in both
  places, which is harmless; the rest of the argument in :mod:`chatd.files` holds as long as
  the store reads its own writes at once, as S3 has done since December 2020 (and MinIO,
  Ceph's RGW and the others do).
- **Blocking calls**: boto3 blocks, so every call runs in a worker thread
  (:meth:`~chatd.files.FileStore.run`) under the store's limiter of
  :data:`CONNECTIONS` threads, which is also the size of the client's connection pool. The
  client is made in the first thread that needs it (making one reads boto3's service
  models: tens of milliseconds that the event loop must not wait for); a low-level boto3
  client may then be shared by threads.
- **Failures** of the service (refused, unreachable, timing out after botocore's retries) are
  raised as :class:`~chatd.files.StoreUnavailable`, which the HTTP routes answer 503
  ``unavailable``.

Credentials are ``s3_access_key`` and ``s3_secret_key`` when set, else boto3's own chain
(``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role).
With ``s3_endpoint`` set (an S3-compatible service: MinIO, Ceph, a cloud's S3 API) requests
use path-style addressing (``endpoint/bucket/key``), which those services all accept, and
send checksums only where the API requires them (newer botocore adds them to every upload by
default, which some of those services refuse).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import boto3.exceptions
import botocore.config
import botocore.exceptions
import trio
from boto3.s3.transfer import TransferConfig

from chatd.files import Aside, FileStore, Reader, Source, StoreUnavailable, check_sha256

log = logging.getLogger(__name__)

__all__ = ["CONNECTIONS", "MULTIPART_BYTES", "S3Object", "S3Store"]

#: Worker threads that may use the bucket at once, and connections the client keeps open.
CONNECTIONS = 16

#: Files up to this size are uploaded in one PUT; larger ones in parts of this size.
MULTIPART_BYTES = 16 * 1024 * 1024

#: Parts of one multipart upload sent at once.
PART_CONCURRENCY = 4

_ASIDE = "aside/"


def _missing(exc: BaseException) -> bool:
    """Whether a boto3 error says that the key (or the bucket) does not exist."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or code in {"404", "NoSuchKey", "NotFound"}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc) or type(exc).__name__


class S3Store(FileStore):
    """A bucket of an S3-compatible service. Cheap to make: the client is made on first use.

    Args:
        tmp_dir: the folder of uploads in progress (``data_dir/files/tmp``).
        bucket: the bucket's name; it must exist.
        prefix: put before every key (``"chatd/"``): the store may share a bucket.
        endpoint: the service's URL; empty for AWS S3.
        region: the region; empty for boto3's default (``AWS_DEFAULT_REGION``, ...).
        access_key, secret_key: both or neither; neither uses boto3's credential chain.
        multipart_bytes: the size from which uploads go in parts (at least 5 MiB: S3's
            smallest part).
    """

    def __init__(self, tmp_dir: Path, *, bucket: str, prefix: str = "", endpoint: str = "",
                 region: str = "", access_key: str = "", secret_key: str = "",
                 multipart_bytes: int = MULTIPART_BYTES) -> None:
        super().__init__(tmp_dir, trio.CapacityLimiter(CONNECTIONS))
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self._region = region
        self._keys = (access_key, secret_key)
        self._transfer = TransferConfig(multipart_threshold=multipart_bytes,
                                        multipart_chunksize=multipart_bytes,
                                        max_concurrency=PART_CONCURRENCY)
        self._lock = threading.Lock()
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3Store({self.describe()})"

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        prefix = f" (keys under {self.prefix!r})" if self.prefix else ""
        return f"the S3 bucket {self.bucket}{prefix}{where}"

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (blocking: call in a worker thread)."""
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        options: dict[str, Any] = {
            "max_pool_connections": CONNECTIONS + PART_CONCURRENCY,
            "connect_timeout": 10, "read_timeout": 60,
            "retries": {"mode": "standard", "max_attempts": 3},
        }
        if self.endpoint:
            options["s3"] = {"addressing_style": "path"}
            if "request_checksum_calculation" in botocore.config.Config.OPTION_DEFAULTS:
                options["request_checksum_calculation"] = "when_required"
                options["response_checksum_validation"] = "when_required"
        access_key, secret_key = self._keys
        credentials = ({"aws_access_key_id": access_key, "aws_secret_access_key": secret_key}
                       if access_key else {})
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=self.endpoint or None,
                              region_name=self._region or None,
                              config=botocore.config.Config(**options), **credentials)

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Turn boto3's failures into :class:`StoreUnavailable`: ``what`` could not be done
        (``"cannot read KEY"``), and why."""
        try:
            yield
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
                boto3.exceptions.Boto3Error) as exc:
            raise StoreUnavailable(f"{what} in {self.describe()}: {_reason(exc)}") from exc

    def key(self, sha256: str) -> str:
        """The key of the bytes with this SHA-256."""
        return self.prefix + check_sha256(sha256)

    def size_of(self, key: str) -> int | None:
        """The size of the object ``key``, or None when there is none."""
        with self._calling(f"cannot look up {key}"):
            try:
                answer = self.client.head_object(Bucket=self.bucket, Key=key)
            except botocore.exceptions.ClientError as exc:
                if _missing(exc):
                    return None
                raise
        return int(answer["ContentLength"])

    def get(self, key: str, start: int, stop: int) -> Any:
        """The body of bytes ``start`` up to ``stop`` (exclusive) of the object ``key``, to
        read a chunk at a time (and close).

        Raises:
            FileNotFoundError: there is no such object (any more).
        """
        with self._calling(f"cannot read {key}"):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key,
                                                Range=f"bytes={start}-{stop - 1}")
            except botocore.exceptions.ClientError as exc:
                if _missing(exc):
                    raise FileNotFoundError(f"{key} is not in {self.describe()}") from None
                raise
        return answer["Body"]

    def _copy(self, source: str, target: str) -> bool:
        """Copy an object inside the bucket; False when ``source`` is not there."""
        with self._calling(f"cannot copy {source} to {target}"):
            try:
                self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target,
                                 Config=self._transfer)
            except botocore.exceptions.ClientError as exc:
                if _missing(exc):
                    return False
                raise
        return True

    def _delete(self, key: str) -> None:
        with self._calling(f"cannot delete {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def check(self) -> None:
        with self._calling("cannot reach the bucket"):
            self.client.head_bucket(Bucket=self.bucket)

    def has(self, sha256: str) -> bool:
        return self.size_of(self.key(sha256)) is not None

    def place(self, path: Path, sha256: str) -> None:
        key = self.key(sha256)
        if self.size_of(key) is not None:
            return
        with self._calling(f"cannot upload {key}"):
            self.client.upload_file(str(path), self.bucket, key, Config=self._transfer)

    def source(self, sha256: str) -> Source:
        return S3Object(self, self.key(sha256))

    def take_away(self, sha256: str) -> Aside | None:
        key = self.key(sha256)
        size = self.size_of(key)
        if size is None:
            return None
        aside = f"{self.prefix}{_ASIDE}{sha256}.{uuid.uuid4().hex}"
        if not self._copy(key, aside):
            return None  # another node took it away meanwhile
        self._delete(key)
        return Aside(sha256, aside, size)

    def put_back(self, aside: Aside) -> None:
        if not self.has(aside.sha256):
            self._copy(aside.where, self.key(aside.sha256))
        self._delete(aside.where)

    def drop(self, aside: Aside) -> None:
        self._delete(aside.where)

    def stale_asides(self, before: float) -> list[Aside]:
        found = []
        with self._calling("cannot list the bytes taken away"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + _ASIDE)
            for page in pages:
                for item in page.get("Contents", []):
                    sha256 = item["Key"][len(self.prefix + _ASIDE):].split(".", 1)[0]
                    if len(sha256) == 64 and item["LastModified"].timestamp() < before:
                        found.append(Aside(sha256, item["Key"], int(item["Size"])))
        return found


class S3Object(Source):
    """An object of an :class:`S3Store`, to send."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.store = store
        self.key = key

    def __repr__(self) -> str:
        return f"S3Object({self.key!r} in {self.store.describe()})"

    async def open(self) -> Reader:
        size = await self.store.run(self.store.size_of, self.key)
        if size is None:
            raise FileNotFoundError(f"{self.key} is not in {self.store.describe()}")
        return _S3Reader(self, size)


class _S3Reader(Reader):
    def __init__(self, source: S3Object, size: int) -> None:
        self._source = source
        self.size = size
        self._body: Any = None

    async def seek(self, start: int, stop: int) -> None:
        await self.aclose()
        if start < stop:
            store = self._source.store
            self._body = await store.run(store.get, self._source.key, start, stop)

    async def read(self, max_bytes: int) -> bytes:
        if self._body is None:
            return b""
        store = self._source.store
        with store._calling(f"cannot read {self._source.key}"):
            data: bytes = await store.run(self._body.read, max_bytes)
        return data

    async def aclose(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            await self._source.store.run(body.close)
