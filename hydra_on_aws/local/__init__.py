"""The real Hydra on this machine: PostgreSQL, the migration, `hydra serve all`, the TLS front, the
login/consent app (`make local` and the end-to-end tests).

May import: everything in this repository; it synthesizes the app to run Hydra with the dev task
definition's environment.
"""
