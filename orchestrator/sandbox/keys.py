"""KMS key pairs of the sandbox made on first use instead of one RSA-2048 pair per key."""

from __future__ import annotations

import threading
from typing import Any

from moto.kms.utils import generate_private_key as _real_private_key


class _LazyPrivateKey:
    """A KMS key's asymmetric key pair, generated on its first use (Sign, Verify, GetPublicKey).

    moto generates an RSA-2048 pair for every key, symmetric ones included (~60 ms of CPU each: a template
    with hundreds of keys spent most of its CreateStack there); almost no key is ever used that way.
    """

    __slots__ = ("_key_spec", "_key", "_lock")

    def __init__(self, key_spec: str):
        self._key_spec = key_spec
        self._key: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._key is None:
                self._key = _real_private_key(self._key_spec)
        return getattr(self._key, name)


def lazy_private_key(key_spec: str) -> Any:
    """The replacement of moto's kms generate_private_key (installed by patches.py's seam table)."""
    return _LazyPrivateKey(key_spec)
