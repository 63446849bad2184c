"""The settings model: what users type in ``cdk.json`` and ``clients/<env>.json``, validated.

May import: the standard library and ``hydra_functions`` (the client rules the Lambda code shares).
Never ``aws_cdk``, the stacks or the constructs: every other room reads its settings from here.
"""
