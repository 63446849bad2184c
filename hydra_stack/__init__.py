"""Configuration, analysis and operator tooling for the Hydra-on-AWS app (no CDK constructs)."""
