"""The data directory: where the public data sets are read from, and their checksums.

Resolution order: the ``data_dir`` parameter, then ``$SRLLM_DATA_DIR``, then a download cache filled
once from the public upstream locations (``resources/data_files.tsv`` pins each file's checksum).
Every file the study opens goes through :meth:`DataDir.path`, which verifies its checksum once and
records it for the run's manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.request
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..core.io import atomic_path
from ..core.paths import cache_dir

PACKAGE_FILES = ("resources/data_files.tsv",)  # the registry: path, checksum and upstream of every data file


class DataError(RuntimeError):
    """A data file is missing, corrupt or malformed. The message names the file (and row)."""


@dataclass(frozen=True)
class DataFile:
    relpath: str
    sha256: str
    upstream: str  # github:owner/repo@commit:path  or  pypi:package==version:member

    def url(self) -> str:
        kind, _, rest = self.upstream.partition(":")
        if kind == "github":
            repo_commit, _, path = rest.partition(":")
            repo, _, commit = repo_commit.partition("@")
            return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
        if kind == "pypi":
            return self.upstream
        raise ValueError(f"unknown upstream kind in {self.upstream!r}")


def registry() -> dict[str, DataFile]:
    text = resources.files("srllm").joinpath(PACKAGE_FILES[0]).read_text()
    files = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        relpath, sha, upstream = line.split("\t")
        files[relpath] = DataFile(relpath, sha, upstream)
    return files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class DataDir:
    root: Path
    downloads_allowed: bool = False
    verified: dict[str, str] = field(default_factory=dict)  # relpath -> sha256, for the manifest

    @classmethod
    def resolve(cls, configured: str | None) -> "DataDir":
        """The configured directory, else $SRLLM_DATA_DIR, else the download cache."""
        chosen = configured or os.environ.get("SRLLM_DATA_DIR")
        if chosen:
            root = Path(chosen).expanduser().resolve()
            if not root.is_dir():
                source = "data_dir" if configured else "$SRLLM_DATA_DIR"
                raise DataError(
                    f"data directory {root} (from {source}) does not exist; point it at a copy of the data "
                    "mirror, or unset it to download the files from their public upstream locations"
                )
            return cls(root)
        return cls(cache_dir() / "data", downloads_allowed=True)

    def path(self, relpath: str) -> Path:
        """The verified local path of a registered data file (downloaded first if allowed)."""
        files = registry()
        if relpath not in files:
            raise DataError(f"{relpath} is not a registered data file (see srllm/resources/data_files.tsv)")
        entry = files[relpath]
        local = self.root / relpath
        if not local.is_file():
            if not self.downloads_allowed:
                raise DataError(self._missing_message([relpath]))
            try:
                _download(entry, local)
            except OSError as exc:
                raise DataError(f"could not download {entry.url()}: {exc}\n" + self._missing_message([relpath])) from exc
        if relpath not in self.verified:
            actual = sha256_file(local)
            if actual != entry.sha256:
                raise DataError(
                    f"{local}: checksum mismatch (expected sha256 {entry.sha256}, found {actual}); "
                    "the file was changed or is truncated: restore it from the upstream source"
                )
            self.verified[relpath] = actual
        return local

    def _missing_message(self, missing: list[str]) -> str:
        files = registry()
        lines = [f"missing data files under {self.root}:"]
        lines += [f"  {rel}  (upstream: {files[rel].url()})" for rel in missing]
        lines.append(
            "Provide them by setting data_dir in the parameters or $SRLLM_DATA_DIR to a folder holding "
            "these relative paths, or unset both on a machine with a network to download them."
        )
        return "\n".join(lines)


def _download(entry: DataFile, local: Path) -> None:
    kind, _, rest = entry.upstream.partition(":")
    with atomic_path(local) as tmp:
        if kind == "github":
            with urllib.request.urlopen(entry.url(), timeout=60) as response:
                tmp.write_bytes(response.read())
        else:  # a member of a wheel on PyPI
            spec, _, member = rest.partition(":")
            name, _, version = spec.partition("==")
            meta_url = f"https://pypi.org/pypi/{name}/{version}/json"
            with urllib.request.urlopen(meta_url, timeout=60) as response:
                urls = json.load(response)["urls"]
            wheel_url = next(u["url"] for u in urls if u["filename"].endswith(".whl"))
            with urllib.request.urlopen(wheel_url, timeout=300) as response:
                wheel = zipfile.ZipFile(io.BytesIO(response.read()))
            tmp.write_bytes(wheel.read(member))
        actual = sha256_file(tmp)
        if actual != entry.sha256:
            raise OSError(f"downloaded {entry.relpath} has sha256 {actual}, expected {entry.sha256}")
