"""Token validation for resource servers: JWT access tokens checked against Hydra's public JWKS.

May import: the standard library and PyJWT only, nothing of this app: it could be published alone.
"""
