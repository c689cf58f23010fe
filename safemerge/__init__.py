"""safemerge: safe, non-destructive read-merge-write of a Jit integration file.

>>> from safemerge import merge
>>> merge({"aws": []}, {"drata": {"workspace": "production"}}).document
{'aws': [], 'drata': {'workspace': 'production'}}

This module only re-exports; the implementation lives in private modules.
"""

from ._errors import (
    AuthError,
    MergeConflict,
    PermissionDenied,
    PolicyError,
    RetriesExhausted,
    SafeMergeError,
    ShaConflict,
    StoreError,
    UnsafeInput,
    ValidationFailed,
)
from ._merge import merge
from ._policy import ConflictPolicy, ListMode, ListPolicy, Policy
from ._result import Change, Conflict, MergeResult, Op
from ._schemas import SchemaRegistry
from ._validate import Violation, validate
from ._values import DELETE

__version__ = "0.1.0"

__all__ = [
    "DELETE",
    "AuthError",
    "Change",
    "Conflict",
    "ConflictPolicy",
    "ListMode",
    "ListPolicy",
    "MergeConflict",
    "MergeResult",
    "Op",
    "PermissionDenied",
    "Policy",
    "PolicyError",
    "RetriesExhausted",
    "SafeMergeError",
    "SchemaRegistry",
    "ShaConflict",
    "StoreError",
    "UnsafeInput",
    "ValidationFailed",
    "Violation",
    "merge",
    "validate",
]
