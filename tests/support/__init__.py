"""Test helpers that are not part of the package: local stand-ins for remote services."""
