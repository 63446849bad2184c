"""`make hydra`: build the Hydra the stacks deploy, from its pinned source, stamped with its version.

The source is the tag's archive (``hydra_on_aws.config.hydra``): ``$HYDRA_SOURCE_ARCHIVE`` if
set, else ``../shared/hydra/<archive>`` beside this repository when it is there, else GitHub's
release archive of the tag (needs internet). Whatever the source, the sha256 of the uncompressed
tar must equal the pin, or nothing is built. Dependencies come from the Go module proxy, as the
source's own go.mod and go.sum pin them.

    python -m devtools.build_hydra --out .cache/bin/hydra
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from hydra_on_aws.config.hydra import (
    HYDRA_BUILD_DATE, HYDRA_COMMIT, HYDRA_VERSION, SOURCE_ARCHIVE, SOURCE_PREFIX, SOURCE_TAR_SHA256, SOURCE_URL,
)
from hydra_on_aws.local.downloads import extract_tar

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"
SHARED = ROOT.parent / "shared" / "hydra" / SOURCE_ARCHIVE


class BuildFailed(RuntimeError):
    pass


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def source_archive() -> Path:
    """The archive to build from: given, shared beside the repository, cached, or downloaded."""
    given = os.environ.get("HYDRA_SOURCE_ARCHIVE")
    if given:
        if not Path(given).is_file():
            raise BuildFailed(f"HYDRA_SOURCE_ARCHIVE={given} is not a file")
        return Path(given)
    for candidate in (SHARED, CACHE / "downloads" / SOURCE_ARCHIVE):
        if candidate.is_file():
            return candidate
    target = CACHE / "downloads" / SOURCE_ARCHIVE
    target.parent.mkdir(parents=True, exist_ok=True)
    say(f"downloading Hydra {HYDRA_VERSION}'s source from {SOURCE_URL}")
    try:
        with urllib.request.urlopen(SOURCE_URL, timeout=60) as response, \
                tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
            shutil.copyfileobj(response, out)
        os.replace(out.name, target)
    except OSError as error:
        raise BuildFailed(f"no source archive: {SHARED} is not there and {SOURCE_URL} could not be fetched "
                          f"({error}); set HYDRA_SOURCE_ARCHIVE to a copy of it") from None
    return target


def verified_tar(archive: Path) -> bytes:
    """The uncompressed tar, if its sha256 is the pinned one."""
    data = gzip.decompress(archive.read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != SOURCE_TAR_SHA256:
        raise BuildFailed(f"{archive}: the uncompressed tar has sha256 {actual}, not the pinned "
                          f"{SOURCE_TAR_SHA256}; refusing to build it")
    return data


def ldflags() -> str:
    package = "github.com/ory/hydra/v2/driver/config"
    return (f"-s -w -X {package}.Version={HYDRA_VERSION} -X {package}.Commit={HYDRA_COMMIT} "
            f"-X {package}.Date={HYDRA_BUILD_DATE}")


def build(out: Path) -> None:
    out = out.resolve()
    archive = source_archive()
    say(f"verifying {archive} (sha256 of the uncompressed tar)")
    data = verified_tar(archive)
    source = CACHE / "src" / f"{SOURCE_PREFIX}-{SOURCE_TAR_SHA256[:12]}"
    if not (source / "go.mod").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".hydra-src-", dir=CACHE))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            extract_tar(tar, staging)
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(source, ignore_errors=True)
        os.replace(staging / SOURCE_PREFIX, source)
        shutil.rmtree(staging, ignore_errors=True)
    if shutil.which("go") is None:
        raise BuildFailed("Go is needed to build Hydra (https://go.dev/dl/, 1.26 or newer)")
    say(f"building Hydra {HYDRA_VERSION} ({HYDRA_COMMIT[:12]}) with Go; dependencies come from the Go module proxy")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    result = subprocess.run(["go", "build", "-trimpath", "-ldflags", ldflags(), "-o", str(partial), "."],
                            cwd=source, env=env)
    if result.returncode != 0:
        raise BuildFailed(f"go build failed with exit code {result.returncode}")
    os.replace(partial, out)
    version = subprocess.run([str(out), "version"], capture_output=True, text=True).stdout
    if HYDRA_VERSION not in version or HYDRA_COMMIT not in version:
        raise BuildFailed(f"the built binary does not say it is {HYDRA_VERSION} {HYDRA_COMMIT}:\n{version}")
    say(f"built {out}: Hydra {HYDRA_VERSION}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CACHE / "bin" / "hydra")
    args = parser.parse_args(argv)
    try:
        build(args.out)
    except BuildFailed as error:
        say(f"make hydra: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
