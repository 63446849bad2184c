"""A minimal PostgreSQL client in the standard library (protocol 3.0).

Lambda code here is stdlib + boto3 only (no Docker bundling, no native
drivers), yet some functions must log in to the database: to prove a freshly
composed DSN works and to manage roles. This client does exactly that and no
more: TLS (``sslmode=require`` encrypts without verifying, as Hydra's DSN
does), SCRAM-SHA-256 / md5 / cleartext authentication, and the simple query
protocol with text results.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import stringprep
import struct
import unicodedata
from dataclasses import dataclass


class PgError(Exception):
    """An ErrorResponse from the server, or a protocol failure."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.pg_message = message


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[str | None, ...]]
    command: str


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A standard-conforming string literal ('...' with quotes doubled)."""
    if "\x00" in value:
        raise ValueError("NUL cannot appear in a PostgreSQL string")
    return "'" + value.replace("'", "''") + "'"


def saslprep(password: str) -> bytes:
    """The password bytes SCRAM hashes, as PostgreSQL prepares them (RFC 4013).

    PostgreSQL applies SASLprep and, where the result would be invalid (a
    prohibited character, broken bidi rules), falls back to the raw bytes;
    this does the same so any password logs in.
    """
    if password.isascii():  # PostgreSQL's fast path: ASCII is used as it is
        return password.encode()
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch
                     for ch in password if not stringprep.in_table_b1(ch))
    prepared = unicodedata.normalize("NFKC", mapped)
    prohibited = (stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3,
                  stringprep.in_table_c4, stringprep.in_table_c5, stringprep.in_table_c6,
                  stringprep.in_table_c7, stringprep.in_table_c8, stringprep.in_table_c9,
                  stringprep.in_table_a1)
    if not prepared or any(test(ch) for ch in prepared for test in prohibited):
        return password.encode()
    rand_al = [stringprep.in_table_d1(ch) for ch in prepared]
    if any(rand_al):
        if any(stringprep.in_table_d2(ch) for ch in prepared) or not (rand_al[0] and rand_al[-1]):
            return password.encode()
    return prepared.encode()


def scram_sha_256_verifier(password: str, *, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password``.

    ``CREATE/ALTER ROLE ... PASSWORD '<verifier>'`` sets the password without
    the plaintext ever reaching the server, so no statement log can hold it.
    """
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.parameters: dict[str, str] = {}

    # -- framing
    def _send(self, kind: bytes, payload: bytes) -> None:
        self._sock.sendall(kind + struct.pack("!I", len(payload) + 4) + payload)

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise PgError("server closed the connection")
            buf += chunk
        return bytes(buf)

    def _recv(self) -> tuple[bytes, bytes]:
        header = self._recv_exact(5)
        kind, length = header[:1], struct.unpack("!I", header[1:])[0]
        return kind, self._recv_exact(length - 4)

    @staticmethod
    def _error(payload: bytes) -> PgError:
        fields = {}
        for part in payload.split(b"\x00"):
            if part:
                fields[part[:1]] = part[1:].decode("utf-8", "replace")
        return PgError(fields.get(b"M", "unknown error"), fields.get(b"C"))

    # -- start-up
    def _authenticate(self, user: str, password: str) -> None:
        while True:
            kind, payload = self._recv()
            if kind == b"E":
                raise self._error(payload)
            if kind != b"R":
                raise PgError(f"unexpected message {kind!r} during authentication")
            code = struct.unpack("!I", payload[:4])[0]
            if code == 0:  # AuthenticationOk
                return
            if code == 3:  # cleartext
                self._send(b"p", password.encode() + b"\x00")
            elif code == 5:  # md5
                salt = payload[4:8]
                inner = hashlib.md5(password.encode() + user.encode()).hexdigest().encode()
                self._send(b"p", b"md5" + hashlib.md5(inner + salt).hexdigest().encode() + b"\x00")
            elif code == 10:  # SASL
                mechanisms = [m.decode() for m in payload[4:].split(b"\x00") if m]
                if "SCRAM-SHA-256" not in mechanisms:
                    raise PgError(f"no supported SASL mechanism in {mechanisms}")
                self._scram_sha_256(password)
            else:
                raise PgError(f"unsupported authentication request {code}")

    def _scram_sha_256(self, password: str) -> None:
        client_nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={client_nonce}"
        first = ("n,," + first_bare).encode()
        self._send(b"p", b"SCRAM-SHA-256\x00" + struct.pack("!I", len(first)) + first)

        kind, payload = self._recv()
        if kind == b"E":
            raise self._error(payload)
        if struct.unpack("!I", payload[:4])[0] != 11:
            raise PgError("expected SASLContinue")
        server_first = payload[4:].decode()
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not nonce.startswith(client_nonce):
            raise PgError("server nonce does not extend the client nonce")

        salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_without_proof = f"c=biws,r={nonce}"
        auth_message = f"{first_bare},{server_first},{final_without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._send(b"p", f"{final_without_proof},p={base64.b64encode(proof).decode()}".encode())

        kind, payload = self._recv()
        if kind == b"E":
            raise self._error(payload)
        if struct.unpack("!I", payload[:4])[0] != 12:
            raise PgError("expected SASLFinal")
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        expected = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
        if dict(i.split("=", 1) for i in payload[4:].decode().split(",")).get("v") != expected:
            raise PgError("server signature mismatch: the server does not know the password")

    def _wait_ready(self) -> None:
        while True:
            kind, payload = self._recv()
            if kind == b"Z":
                return
            if kind == b"E":
                raise self._error(payload)
            if kind == b"S":
                name, value = payload.rstrip(b"\x00").split(b"\x00", 1)
                self.parameters[name.decode()] = value.decode()

    # -- queries
    def query(self, sql: str) -> Result:
        """Run one statement (simple query protocol); raises PgError on failure."""
        self._send(b"Q", sql.encode() + b"\x00")
        columns: list[str] = []
        rows: list[tuple[str | None, ...]] = []
        command, error = "", None
        while True:
            kind, payload = self._recv()
            if kind == b"T":
                count = struct.unpack("!H", payload[:2])[0]
                pos, columns = 2, []
                for _ in range(count):
                    end = payload.index(b"\x00", pos)
                    columns.append(payload[pos:end].decode())
                    pos = end + 1 + 18
            elif kind == b"D":
                count = struct.unpack("!H", payload[:2])[0]
                pos, row = 2, []
                for _ in range(count):
                    size = struct.unpack("!i", payload[pos:pos + 4])[0]
                    pos += 4
                    if size < 0:
                        row.append(None)
                    else:
                        row.append(payload[pos:pos + size].decode())
                        pos += size
                rows.append(tuple(row))
            elif kind == b"C":
                command = payload.rstrip(b"\x00").decode()
            elif kind == b"E":
                error = self._error(payload)
            elif kind == b"Z":
                if error:
                    raise error
                return Result(columns, rows, command)

    def close(self) -> None:
        try:
            self._send(b"X", b"")
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(*, host: str, port: int, user: str, password: str, database: str,
            sslmode: str = "require", timeout: float = 10.0,
            cafile: str | None = None) -> Connection:
    """Open an authenticated connection.

    ``sslmode``: ``disable`` (plain), ``require`` (TLS, server not verified,
    like Hydra's DSN) or ``verify-full`` (TLS verified against ``cafile``).
    """
    if sslmode not in ("disable", "require", "verify-full"):
        raise ValueError(f"sslmode {sslmode!r} is not one of disable, require, verify-full")
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        if sslmode != "disable":
            sock.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
            if sock.recv(1) != b"S":
                raise PgError("server refused TLS, and sslmode requires it")
            context = ssl.create_default_context(cafile=cafile)
            if sslmode == "require":
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
        conn = Connection(sock)
        params = b"".join(k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in (
            ("user", user), ("database", database), ("application_name", "hydra-functions"),
            ("client_encoding", "UTF8"))) + b"\x00"
        startup = struct.pack("!I", 196608) + params
        sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
        conn._authenticate(user, password)
        conn._wait_ready()
        return conn
    except BaseException:
        sock.close()
        raise
