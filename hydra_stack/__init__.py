"""Compatibility names for the commands and the token library of the first layout.

The code moved to ``hydra_on_aws`` (by role) and ``devtools``; each module here only forwards,
so `python -m hydra_stack.<command>` and `from hydra_stack.tokens import TokenValidator` keep
working. May import: the module it forwards to, nothing else.
"""
