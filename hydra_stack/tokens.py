"""Moved to ``hydra_on_aws.tokens.validator``; resource servers importing it from here keep working."""

from hydra_on_aws.tokens.validator import InvalidToken, TokenValidator, fetch_json

__all__ = ["InvalidToken", "TokenValidator", "fetch_json"]
