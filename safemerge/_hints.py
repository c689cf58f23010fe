"""Default list rules: how lists of mappings in known integrations merge.

Until the schemas carry these as ``x-merge-key`` annotations, this is the one
place they live.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from ._policy import ListPolicy

__all__ = ["default_hints"]


@lru_cache(maxsize=1)
def default_hints() -> Mapping[str, ListPolicy]:
    """The list rules every :class:`Policy` falls back on (``schema_hints=True``)."""
    return MappingProxyType({"/aws": ListPolicy.by_key("account_id")})
