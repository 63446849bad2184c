"""Unpacking what the registries give (PostgreSQL, Hydra's source): nothing lands outside its folder.

``extract_tar`` uses Python's "data" filter where the interpreter has it and the same rules by hand
where it does not (Python before 3.11.4, such as Debian 12's 3.11.2, which a clean-clone run as a
non-root user found: ``extractall(filter=...)`` was a TypeError there). Both paths run here when
the interpreter has the filter; the hand-written one always does.
"""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from hydra_on_aws.local.downloads import DownloadFailed, extract_tar

PATHS = (["python's data filter"] if hasattr(tarfile, "data_filter") else []) + ["by hand"]


@pytest.fixture(params=PATHS)
def rules(request, monkeypatch) -> str:
    if request.param == "by hand":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def archive(*members: tuple[str, str, str | bytes | int]) -> tarfile.TarFile:
    """A tar of (kind, name, payload): files (bytes), folders, symlinks, hard links (link name),
    character devices; a file's payload may carry a mode as (bytes, mode)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data, info.mode = payload if isinstance(payload, tuple) else (payload, 0o644)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type, info.mode = {"dir": (tarfile.DIRTYPE, 0o755), "symlink": (tarfile.SYMTYPE, 0o777),
                                    "hardlink": (tarfile.LNKTYPE, 0o644), "device": (tarfile.CHRTYPE, 0o644)}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = payload
            tar.addfile(info)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def test_files_folders_and_inner_links_unpack(rules, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    extract_tar(archive(("dir", "pg/lib", None), ("file", "pg/lib/libpq.so.5.16", b"elf"),
                        ("symlink", "pg/lib/libpq.so.5", "libpq.so.5.16"),
                        ("hardlink", "pg/lib/copy", "pg/lib/libpq.so.5.16"),
                        ("file", "pg/bin/postgres", (b"#!", 0o6775))), dest)
    assert (dest / "pg/lib/libpq.so.5").read_bytes() == b"elf"
    assert (dest / "pg/lib/copy").read_bytes() == b"elf"
    mode = stat.S_IMODE((dest / "pg/bin/postgres").stat().st_mode)
    assert mode == 0o755, f"{oct(mode)}: no set-id bits, no write for group or others"


def test_an_absolute_name_unpacks_inside(rules, tmp_path):
    extract_tar(archive(("file", "/usr/local/pg/README", b"x")), tmp_path)
    assert (tmp_path / "usr/local/pg/README").read_bytes() == b"x"


@pytest.mark.parametrize("members", [
    [("file", "../escaped", b"x")],
    [("symlink", "lib", "/etc")],
    [("symlink", "up", "../../outside")],
    [("hardlink", "copy", "/etc/hostname")],
    [("symlink", "pg", ".."), ("file", "pg/escaped", b"x")],
    [("device", "pg/tty", None)],
], ids=["dot-dot name", "absolute symlink", "escaping symlink", "absolute hard link",
        "file through an escaping link", "device"])
def test_anything_that_would_land_outside_or_is_not_a_file_is_refused(rules, tmp_path, members):
    dest = tmp_path / "a" / "dest"
    dest.mkdir(parents=True)
    with pytest.raises(DownloadFailed, match="refused"):
        extract_tar(archive(*members), dest)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "dest"], "nothing was written anywhere"
