"""A tiny resource server: answers only requests that carry a valid Hydra access token.

    HYDRA_PUBLIC_API=https://auth.example.com/ RESOURCE_AUDIENCE=https://api.example.com \\
        python -m hydra_on_aws.tokens.resource_server --port 8081

GET /me with ``Authorization: Bearer <access token>`` returns the token's
subject, client and scopes; anything else gets 401 with an RFC 6750
``WWW-Authenticate`` challenge. Validation is :class:`hydra_on_aws.tokens.validator.TokenValidator`:
local, against Hydra's cached JWKS, no call to Hydra per request. With
``HYDRA_INTROSPECTION_URL`` set (the stack's ``IntrospectionUrl`` output, reachable
from security groups granted the introspection door), every token is also checked
at Hydra's introspection endpoint, so a revocation is seen within 5 seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hydra_on_aws.tokens.validator import Introspection, InvalidToken, TokenValidator


def make_server(validator: TokenValidator, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):  # noqa: N802
            if self.path != "/me":
                return self._send(404, {"error": "not_found"})
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return self._send(401, {"error": "invalid_request"}, {"WWW-Authenticate": 'Bearer realm="api"'})
            try:
                claims = validator.validate(token.strip())
            except InvalidToken as error:
                return self._send(401, {"error": "invalid_token"}, {
                    "WWW-Authenticate": f'Bearer realm="api", error="invalid_token", error_description="{error}"'})
            self._send(200, {"sub": claims["sub"], "client_id": claims.get("client_id"),
                             "scope": claims.get("scp") or claims.get("scope")})

        def log_message(self, fmt, *args):  # never log the Authorization header
            pass

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(validator: TokenValidator) -> ThreadingHTTPServer:
    server = make_server(validator)
    threading.Thread(target=server.serve_forever, daemon=True, name="resource-server").start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hydra_on_aws.tokens.resource_server")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    issuer, audience = os.environ.get("HYDRA_PUBLIC_API"), os.environ.get("RESOURCE_AUDIENCE")
    if not issuer or not audience:
        print("set HYDRA_PUBLIC_API (the issuer) and RESOURCE_AUDIENCE (this server's identifier)", file=sys.stderr)
        return 2
    introspection_url = os.environ.get("HYDRA_INTROSPECTION_URL")
    introspection = Introspection(introspection_url) if introspection_url else None
    server = make_server(TokenValidator(issuer=issuer, audience=audience, introspection=introspection),
                         port=args.port)
    print(f"resource server on http://127.0.0.1:{server.server_address[1]}/me for audience {audience}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
