"""Where a package archive comes from: a local path (or file:// URL), `s3://bucket/key` (boto3,
`AWS_S3_ENDPOINT_URL` honoured) or an http(s) URL. Each gives an opener for
`chemcore.package.verified_local_copy`, which streams the bytes, checks their SHA-256 and unpacks."""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

from chemcore.package.local_copy import ArchiveOpener

DOWNLOAD_TIMEOUT_SECONDS = 60


class SourceError(Exception):
    """The archive cannot be read from where the configuration says it is (the message says why)."""


def archive_opener(uri: str) -> ArchiveOpener:
    """An opener of the archive at `uri`; it raises SourceError when the archive cannot be read."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc or not parsed.path.strip("/"):
            raise SourceError(f"{uri} is not an s3://bucket/key URL")
        return lambda: _open_s3(parsed.netloc, parsed.path.lstrip("/"), uri)
    if parsed.scheme in {"http", "https"}:
        return lambda: _open_url(uri)
    if parsed.scheme == "file":
        return lambda: _open_file(Path(unquote(parsed.path)))
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise SourceError(f"{uri}: unsupported scheme {parsed.scheme!r} (use a path, s3:// or https://)")
    return lambda: _open_file(Path(uri))


def _open_file(path: Path) -> contextlib.AbstractContextManager[IO[bytes]]:
    if path.is_dir():
        raise SourceError(f"{path} is a directory; give the package archive (.tar.gz) written by chemcore's pack")
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise SourceError(f"{path} not found") from None
    except OSError as exc:
        raise SourceError(f"{path} cannot be read: {exc.strerror}") from None


def s3_client():
    """A boto3 S3 client (credentials from the usual AWS variables or role; `AWS_S3_ENDPOINT_URL`
    for S3-compatible stores)."""
    import boto3

    return boto3.session.Session().client("s3", endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None)


@contextlib.contextmanager
def _open_s3(bucket: str, key: str, uri: str) -> Iterator[IO[bytes]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        if code in {"NoSuchKey", "NoSuchBucket", "404"}:
            raise SourceError(f"{uri} not found ({code})") from None
        raise SourceError(f"{uri} cannot be read: {code}: {exc}") from None
    except BotoCoreError as exc:
        raise SourceError(f"{uri} cannot be read: {exc}") from None
    with contextlib.closing(body):
        yield body


@contextlib.contextmanager
def _open_url(uri: str) -> Iterator[IO[bytes]]:
    request = urllib.request.Request(uri, headers={"User-Agent": "chemcore-inference"})  # noqa: S310 - http(s) only
    try:
        response = urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS)  # noqa: S310
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{uri} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SourceError(f"{uri} cannot be read: {getattr(exc, 'reason', exc)}") from None
    with response:
        yield response
