"""The Hydra this project deploys and tests: one version, pinned here and nowhere else.

The default ``hydra_image`` is ``oryd/hydra:<HYDRA_VERSION>``; `make hydra` builds the same
version from its source (tag ``HYDRA_VERSION``, commit ``HYDRA_COMMIT``), verified by the sha256
of the uncompressed source tar, and stamps it so that ``hydra version`` prints both. Tests fail
when the image, the build and this file disagree.
"""

from __future__ import annotations

HYDRA_VERSION = "v26.2.0"
HYDRA_COMMIT = "0b84568fffccf151dc5e6c7955fdfb738555bf4b"
HYDRA_BUILD_DATE = "2026-03-20T11:01:06Z"
# `git archive --format=tar.gz --prefix=hydra-26.2.0/ v26.2.0`, the layout of GitHub's release archive.
# gzip output differs between tools: the pin is the sha256 of the *uncompressed* tar.
SOURCE_TAR_SHA256 = "3376b989a3679b1f28363a434be1c8326c45ddc4c344a2411682b71a0d8d153f"
SOURCE_ARCHIVE = f"hydra-{HYDRA_VERSION}.tar.gz"
SOURCE_URL = f"https://github.com/ory/hydra/archive/refs/tags/{HYDRA_VERSION}.tar.gz"
SOURCE_PREFIX = f"hydra-{HYDRA_VERSION.removeprefix('v')}"
DEFAULT_IMAGE = f"oryd/hydra:{HYDRA_VERSION}"

# The version before it, for the upgrade rehearsal only: the newest the Go module proxy serves,
# pinned by tools/hydra/go.mod and go.sum.
PREVIOUS_VERSION = "v2.3.0"
