"""Builders of the hostile and broken inputs used as regression fixtures (no opaque binaries)."""
