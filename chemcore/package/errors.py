"""The one exception a model package raises when it cannot be written, read or trusted."""

from __future__ import annotations


class PackageError(Exception):
    """The package is malformed, tampered with, of an unknown version/flavour/task, or unsafe to open.

    The message names the problem (the field, the file, the member) so an operator can act on it.
    """
