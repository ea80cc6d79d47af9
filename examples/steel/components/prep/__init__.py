"""The prep component (see prep.yml)."""
