"""Operator commands against a deployed environment: clients, SECRETS_SYSTEM rotation, .envrc.

May import: ``config``, ``hydra_functions`` (the same client and key-set code the deployed functions
run), boto3. Never the stacks or the constructs: they read stack outputs, not the app.
"""
