"""Ory Hydra on AWS: the project's Python code other than the CDK stacks and constructs.

One subpackage per role; each says what it holds and what it may import:

- ``config``: the settings model (``cdk.json``), the declared OAuth2 clients, the connection budget;
- ``boundary``: the trust-boundary analysis over synthesized templates (guard, exposure report, live check);
- ``ops``: operator commands against a deployed environment;
- ``local``: the real Hydra on this machine (PostgreSQL, TLS front, login/consent app);
- ``tokens``: the library resource servers use to validate Hydra's tokens.

The stacks (``stacks/``) and constructs (``hydra_constructs/``) live beside this package,
Lambda code in ``functions/hydra_functions``, development tooling in ``devtools/``.
"""
