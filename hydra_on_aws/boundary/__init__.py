"""The trust boundary: who can reach which port, and the rules that keep the admin API inside.

Holds the template model (``templates``, ``from_templates``), the rules (``trust_boundary``) and
their three front ends: the synthesis guard (``guard``), the review report (``exposure``) and the
live check against an account (``verify``).

May import: ``config``, ``ops.aws_cli`` (the live check's AWS plumbing), boto3, and, in ``guard``
only, ``aws_cdk`` (it hooks into synthesis). Never the stacks or the constructs: the analysis reads
templates, so it judges what would be deployed, however the constructs were written.
"""
