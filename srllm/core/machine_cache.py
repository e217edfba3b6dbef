"""Results computed once per machine and kept in the cache folder, with the data files they read.

Some computations depend only on the data files, the settings and the code, never on a run's
training: the judge's validation, the version of the judge's training set. They are computed once and
kept as JSON under ``cache_dir() / <kind> / <key>``; the key is the caller's hash of everything the
result depends on (its code through ``srllm.core.code_hash.closure_hash``). The data files the
computation read are recorded beside it and verified again on every use, so a run's manifest lists
the same files whether the result was computed or read back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .io import atomic_path, read_json, write_json
from .paths import cache_dir

RESULT = "result.json"


class VerifiedData(Protocol):
    """A data directory that verifies each file on first use and records its checksum."""

    verified: dict[str, str]

    def path(self, relpath: str) -> Any: ...


def once_per_machine(kind: str, key: str, compute: Callable[[], Any], data: VerifiedData) -> Any:
    """``compute()``'s JSON result for ``key``, computed on the first call on this machine, read back after;
    the data files it read are verified on every call."""
    folder = cache_dir() / kind / key
    if not (folder / RESULT).is_file():
        earlier, data.verified = data.verified, {}  # record the files this computation reads
        try:
            result = compute()
            used = sorted(data.verified)
        finally:
            data.verified = {**earlier, **data.verified}
        with atomic_path(folder) as tmp:
            tmp.mkdir(parents=True)
            write_json(tmp / RESULT, {"data_files": used, "result": result})
    cached = read_json(folder / RESULT)  # as read back, so a first call and a later one return the same
    for relpath in cached["data_files"]:
        data.path(relpath)
    return cached["result"]
