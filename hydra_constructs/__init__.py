"""Reusable CDK constructs for Ory Hydra on AWS.

Named ``hydra_constructs`` rather than ``constructs``: a top-level package
called ``constructs`` would shadow the ``constructs`` library that aws-cdk-lib
itself imports (aws/aws-cdk#19301).
"""
