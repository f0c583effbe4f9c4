"""Object storage from one URL: a local folder, or `s3://bucket/prefix` (django-storages + boto3)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def storage_backend(url: str, *, name: str = "STORAGE_URL") -> dict:
    """A Django `STORAGES` entry for the object store named by `url`."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ImproperlyConfigured(f"{name}={url!r} names no bucket: use s3://bucket/prefix")
        options = {
            "bucket_name": parts.netloc,
            "location": parts.path.strip("/"),
            "file_overwrite": True,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 3600,
        }
        endpoint = os.environ.get("AWS_S3_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if region:
            options["region_name"] = region
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    if parts.scheme in {"", "file"}:
        folder = Path(parts.path if parts.scheme == "file" else url).expanduser()
        if not folder.is_absolute():
            raise ImproperlyConfigured(f"{name}={url!r} must be an absolute folder path or s3://bucket/prefix")
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": None},
        }
    raise ImproperlyConfigured(f"{name}={url!r}: use an absolute folder path or s3://bucket/prefix")
