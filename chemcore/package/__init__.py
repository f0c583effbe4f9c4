"""Model packages: a directory (or .tar.gz) holding `manifest.json` and checksummed weights files.

    manifest = save_package(out_dir, model_object=model, flavour="sklearn", task="regression", ...)
    loaded = load_package(out_dir)          # verifies every checksum before deserialising anything
    pack(out_dir, "model.tar.gz"); unpack("model.tar.gz", other_dir, max_bytes=...)
    directory = verified_local_copy(opener, sha256=..., cache_dir=...)   # fetched and checked once per machine

See PACKAGE_FORMAT.md. Flavour libraries (skops, torch, TensorFlow) are imported only when used.
"""

from .archive import pack, unpack
from .errors import PackageError
from .fingerprint import canonical_smiles, data_fingerprint
from .local_copy import PackageIntegrityError, PackageSizeError, copy_with_digest, receive_archive, verified_local_copy
from .manifest import FLAVOURS, FORMAT_VERSION, MANIFEST_NAME, SUPPORTED_FORMAT_VERSIONS, TASKS, Manifest, read_manifest
from .storage import LoadedModel, load_package, read_verified_files, save_package

__all__ = [
    "FLAVOURS",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "SUPPORTED_FORMAT_VERSIONS",
    "TASKS",
    "LoadedModel",
    "Manifest",
    "PackageError",
    "PackageIntegrityError",
    "PackageSizeError",
    "canonical_smiles",
    "copy_with_digest",
    "data_fingerprint",
    "load_package",
    "pack",
    "read_manifest",
    "read_verified_files",
    "receive_archive",
    "save_package",
    "unpack",
    "verified_local_copy",
]
