"""Hypothesis laws of the merge engine (DESIGN.md § Merge semantics)."""
