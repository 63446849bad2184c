"""`make loadtest`: what one Hydra task serves, measured on the real Hydra and a real PostgreSQL."""
