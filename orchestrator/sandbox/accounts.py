"""Dropping one sandbox account's state from moto (every service), leaving other accounts alone."""

from __future__ import annotations

import functools

from moto.core.base_backend import BackendDict


def drop_account_state(account_id: str) -> None:
    """Forget everything moto holds for one account, in every service, leaving other accounts alone."""
    from moto.core.base_backend import BaseBackend, backend_lock

    with backend_lock:
        for backend_dict in list(BackendDict._instances):
            if account_id in dict.keys(backend_dict):
                account_backend = dict.__getitem__(backend_dict, account_id)
                try:
                    for backend in list(dict.values(account_backend)):
                        # Only a service's own clean-up (S3's temporary files, Batch's job threads) is run:
                        # moto's plain reset builds the backend anew (EC2: 1,300 AMIs, ~0.7 s) to be dropped.
                        if type(backend).reset is not BaseBackend.reset:
                            backend.reset()
                finally:
                    dict.pop(backend_dict, account_id, None)
        # moto's instance registry needs no pruning: the model_new seam keeps it empty (no --admin-api).
        _clear_method_caches()


def _clear_method_caches() -> None:
    """moto memoises some methods with functools caches keyed on `self` (AccountSpecificBackend's
    _generate_regions, Subnet's IP iterator, ...): those entries would keep a dropped account's backends
    and models alive, so every method cache of moto's model and backend classes is emptied."""
    from moto.core.base_backend import AccountSpecificBackend
    from moto.core.model_instances import model_data

    classes: set[type] = {AccountSpecificBackend}
    classes.update(bd.backend for bd in BackendDict._instances)
    for models in model_data.values():
        classes.update(models.values())
    seen: set[int] = set()
    for cls in classes:
        for klass in cls.__mro__:
            for value in vars(klass).values():
                if isinstance(value, functools._lru_cache_wrapper) and id(value) not in seen:
                    seen.add(id(value))
                    value.cache_clear()

