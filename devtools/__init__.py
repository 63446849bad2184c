"""Development tooling, never deployed: the synthesis benchmark and the README's generated sections.

May import: everything in this repository.
"""
