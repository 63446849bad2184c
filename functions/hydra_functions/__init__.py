"""Code that runs inside AWS Lambda: standard library and boto3 only.

This folder is the Lambda asset (`functions/`); tests import it as
`hydra_functions` with `functions/` on the path.
"""
