"""Start-up work of the sandbox done once per process (region lists) or once per machine (endpoint prefixes, the self-test's verdict)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_shared = False

# The files whose behaviour the self-test proves: a change to any of them invalidates a cached verdict.


def share_region_lists() -> None:
    """One region list per (service, partition) for the whole process.

    moto asks a new boto3 Session for the regions of a service at import time and per backend, and each
    new Session parses that service's whole model to find its endpoint prefix: EC2's 4 MB model four
    times while moto is imported (~0.6 s of CPU). The answer only depends on botocore's data files.
    """
    global _shared
    with _LOCK:
        if _shared:
            return
        from botocore.exceptions import DataNotFoundError, UnknownServiceError
        from botocore.session import Session

        original = Session.get_available_regions
        prefixes = _known_prefixes()
        cache: dict[tuple[Any, ...], list[str]] = {}
        resolvers: dict[str, Any] = {}

        @functools.wraps(original)
        def get_available_regions(self: Any, service_name: str, partition_name: str = "aws",
                                  allow_non_regional: bool = False) -> list[str]:
            # botocore's own steps, with the endpoint prefix (the only thing read from the service's
            # model, and the same in every partition) looked up once per service.
            key = (service_name, partition_name, allow_non_regional)
            if key not in cache:
                try:
                    if service_name not in prefixes:
                        metadata = self.get_service_data(service_name)["metadata"]
                        prefixes[service_name] = metadata.get("endpointPrefix", service_name)
                        _remember_prefixes(prefixes)
                    # One resolver for every Session: each new one would parse endpoints.json again.
                    if "shared" not in resolvers:
                        resolvers["shared"] = self._get_internal_component("endpoint_resolver")
                    resolver = resolvers["shared"]
                    cache[key] = resolver.get_available_endpoints(prefixes[service_name], partition_name,
                                                                  allow_non_regional)
                except (UnknownServiceError, DataNotFoundError):
                    return original(self, service_name, partition_name, allow_non_regional)
            return list(cache[key])

        Session.get_available_regions = get_available_regions  # type: ignore[method-assign]
        _shared = True


def _prefix_file() -> Path:
    import botocore

    return cache_dir() / f"endpoint-prefixes-botocore-{botocore.__version__}.json"


def _known_prefixes() -> dict[str, str]:
    """Endpoint prefixes learnt by earlier processes with this botocore: a service's model (EC2's is 4 MB of
    JSON, ~0.2 s) is then not parsed just to read one field of its metadata."""
    try:
        known = json.loads(_prefix_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in known.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(known, dict) else {}


def _remember_prefixes(prefixes: dict[str, str]) -> None:
    _write_atomically(_prefix_file(), json.dumps(prefixes, sort_keys=True))


def _write_atomically(path: Path, text: str) -> None:
    """A cache that cannot be written only costs the next start the work it would have saved."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------- self-test verdict


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/cfn-autofix, else ~/.cache/cfn-autofix."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfn-autofix"


def self_test_key(moto_version: str, seams: list[str]) -> str:
    """moto's version, our seam table and the source of every module of the sandbox (the self-test's stack
    goes through the engine, its rules, the glue models and the seams), this interpreter and machine: the
    self-test's verdict holds while none of them changes."""
    digest = hashlib.sha256()
    for part in (moto_version, sys.version, platform.machine(), platform.node(), *seams):
        digest.update(part.encode() + b"\0")
    package = resources.files("orchestrator.sandbox")
    for source in sorted((entry for entry in package.iterdir() if entry.name.endswith(".py")), key=lambda e: e.name):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(resources.files("orchestrator.data").joinpath("sandbox_self_test.json").read_bytes())
    return digest.hexdigest()


def _cache_file() -> Path:
    return cache_dir() / "sandbox-self-test.json"


# Verdicts kept per machine: several installs (virtualenvs, checkouts of different versions) share the cache
# folder, and with one verdict each start of one install evicted the others' (a 0.6 s self-test each time).
_VERDICTS_KEPT = 16


def _passed_keys() -> list[str]:
    try:
        passed = json.loads(_cache_file().read_text(encoding="utf-8")).get("passed")
    except (OSError, ValueError, AttributeError):
        return []
    if isinstance(passed, str):  # the single-verdict format of earlier versions
        return [passed]
    return [key for key in passed if isinstance(key, str)] if isinstance(passed, list) else []


def self_test_passed_before(key: str) -> bool:
    return key in _passed_keys()


def remember_self_test(key: str) -> None:
    """Record a passed self-test (the most recent verdicts of this machine's installs are kept)."""
    keys = [key, *(other for other in _passed_keys() if other != key)][:_VERDICTS_KEPT]
    _write_atomically(_cache_file(), json.dumps({"passed": keys}))
