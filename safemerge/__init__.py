"""safemerge: safe, non-destructive read-merge-write of a Jit integration file.

>>> from safemerge import merge
>>> merge({"aws": []}, {"drata": {"workspace": "production"}}).document
{'aws': [], 'drata': {'workspace': 'production'}}

This module only re-exports; the implementation lives in private modules.
"""

from ._apply import ApplyResult, ApplyWarning, apply
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
from ._file import FileStore
from ._github import GitHubStore
from ._jit import JitStore
from ._memory import MemoryStore
from ._merge import merge
from ._parse import Limits, parse_fragment
from ._policy import ConflictPolicy, ListMode, ListPolicy, Policy
from ._result import Change, Conflict, MergeResult, Op
from ._retry import Retry
from ._schemas import SchemaRegistry
from ._store import OutcomeUnknown, Snapshot, Store, TransientError
from ._validate import Violation, validate
from ._values import DELETE

__version__ = "0.1.0"

__all__ = [
    "DELETE",
    "ApplyResult",
    "ApplyWarning",
    "AuthError",
    "Change",
    "Conflict",
    "ConflictPolicy",
    "FileStore",
    "GitHubStore",
    "JitStore",
    "Limits",
    "ListMode",
    "ListPolicy",
    "MemoryStore",
    "MergeConflict",
    "MergeResult",
    "Op",
    "OutcomeUnknown",
    "PermissionDenied",
    "Policy",
    "PolicyError",
    "RetriesExhausted",
    "Retry",
    "SafeMergeError",
    "SchemaRegistry",
    "ShaConflict",
    "Snapshot",
    "Store",
    "StoreError",
    "TransientError",
    "UnsafeInput",
    "ValidationFailed",
    "Violation",
    "apply",
    "merge",
    "parse_fragment",
    "validate",
]
