"""Where the engine's default list rules come from: the bundled schemas' ``x-merge-key``."""

from __future__ import annotations

from collections.abc import Mapping

from ._policy import ListPolicy

__all__ = ["default_hints"]


def default_hints() -> Mapping[str, ListPolicy]:
    """The list rules of the bundled schemas (``/aws`` by ``account_id``), read once.

    Imported late: the schema registry depends on jsonschema, and a merge that
    never needs a hint should not pay for loading it.
    """
    from ._schemas import SchemaRegistry

    return SchemaRegistry.bundled().hints()
