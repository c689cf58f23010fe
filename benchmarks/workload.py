"""Deterministic workloads for the merge benchmarks: an integration document and a fragment.

Everything is drawn from a seeded :class:`random.Random` passed down explicitly
(never the global generator), so a given ``(size, seed)`` always yields the same
document and fragment, byte for byte, on every machine and Python version.

>>> doc = make_document(3, cloud_entries=2, seed=0)
>>> sorted(doc), len(doc["aws"]), len(doc["gcp"]), len(doc["azure"])
(['aws', 'azure', 'drata', 'gcp'], 3, 2, 2)
>>> frag = make_fragment(doc, new_accounts=2, new_regions=1)
>>> len(frag["aws"]), sorted(frag)
(3, ['aws', 'jira'])
>>> make_document(3, cloud_entries=2, seed=0) == doc
True
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

__all__ = [
    "AWS_REGIONS",
    "INTEGRATIONS",
    "Workload",
    "account_id",
    "make_account",
    "make_azure_entries",
    "make_document",
    "make_fragment",
    "make_gcp_entries",
    "make_workload",
]

AWS_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
)
"""Public AWS commercial regions; accounts draw their regions from these."""

REGIONS_PER_ACCOUNT = 3
ACCOUNT_ID_SPACE = 10**12  # 12 decimal digits

_TEAMS = ("payments", "search", "data", "platform", "identity", "billing", "mobile", "web")
_STAGES = ("prod", "staging", "dev", "sandbox", "qa")

INTEGRATIONS: Mapping[str, Mapping[str, Any]] = {
    "jira": {  # the deprecated as-code form, valid against schemas/jira.schema.json
        "Security": {
            "auth": {
                "api_token": "${{ jit_secrets.jira_api_token }}",
                "email": "security-bot@example.com",
                "domain": "example",
            },
            "preferences": {"project_id": 10200, "issue_type_id": 10001},
        }
    },
    "newrelic": {
        "account_id": "4242424",
        "region": "US",
        "api_key": "${{ jit_secrets.newrelic_api_key }}",
    },
}
"""Integrations a fragment can add whole (a new top-level key)."""


class Workload(NamedTuple):
    """A base document and the fragment to merge into it."""

    document: dict[str, Any]
    fragment: dict[str, Any]


def account_id(number: int) -> str:
    """An AWS account id: ``number`` as a 12-digit zero-padded string.

    >>> account_id(42)
    '000000000042'
    """
    if not 0 <= number < ACCOUNT_ID_SPACE:
        raise ValueError(f"an AWS account number has 12 digits, not {number}")
    return f"{number:012d}"


def make_account(rng: random.Random, number: int) -> dict[str, Any]:
    """One full AWS account item, in the key order a Jit file uses."""
    return {
        "account_id": account_id(number),
        "account_name": f"{rng.choice(_TEAMS)}-{rng.choice(_STAGES)}-{number % 10_000:04d}",
        "regions": rng.sample(AWS_REGIONS, REGIONS_PER_ACCOUNT),
        "type": "account",
    }


def make_gcp_entries(rng: random.Random, count: int) -> dict[str, Any]:
    """``count`` GCP-like entries: project id -> a small mapping."""
    entries: dict[str, Any] = {}
    while len(entries) < count:
        number = rng.randrange(100_000, 1_000_000)
        project = f"{rng.choice(_TEAMS)}-{rng.choice(_STAGES)}-{number}"
        if project in entries:
            continue
        index = len(entries)
        entries[project] = {
            "type": "gcp_project",
            "project_number": str(rng.randrange(10**11, 10**12)),
            "service_account": f"${{{{ jit_secrets.gcp_sa_{index:04d} }}}}",
        }
    return entries


def make_azure_entries(rng: random.Random, count: int) -> dict[str, Any]:
    """``count`` Azure-like entries: id -> an ``azure_account`` mapping with secret references."""
    entries: dict[str, Any] = {}
    for index in range(count):
        entries[f"azure-{index:04d}"] = {
            "type": "azure_account",
            "name": f"{rng.choice(_TEAMS)}-{rng.choice(_STAGES)}-{index:04d}",
            "auth": {
                "client_id": f"${{{{ jit_secrets.azure_client_id_{index:04d} }}}}",
                "client_secret": f"${{{{ jit_secrets.azure_client_secret_{index:04d} }}}}",
            },
            "tenant_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "subscription_id": f"${{{{ jit_secrets.azure_subscription_{index:04d} }}}}",
        }
    return entries


def make_document(accounts: int, *, cloud_entries: int = 1_000, seed: int = 0) -> dict[str, Any]:
    """An integration document: ``accounts`` AWS accounts, GCP and Azure entries, a drata block.

    Account ids are distinct and in random (not sorted) order, each account has
    3 distinct regions; ``cloud_entries`` is the number of GCP and of Azure
    entries (1,000 each by default, independent of ``accounts``).
    """
    if accounts < 0 or cloud_entries < 0:
        raise ValueError("sizes are non-negative")
    rng = random.Random(seed)
    numbers = rng.sample(range(ACCOUNT_ID_SPACE), accounts)
    return {
        "aws": [make_account(rng, n) for n in numbers],
        "gcp": make_gcp_entries(rng, cloud_entries),
        "azure": make_azure_entries(rng, cloud_entries),
        "drata": {"user_email": "compliance@example.com", "workspace": "production"},
    }


def _new_account_numbers(rng: random.Random, taken: set[str], count: int) -> list[int]:
    numbers: list[int] = []
    while len(numbers) < count:
        number = rng.randrange(ACCOUNT_ID_SPACE)
        ident = account_id(number)
        if ident not in taken:
            taken.add(ident)
            numbers.append(number)
    return numbers


def make_fragment(
    document: Mapping[str, Any],
    *,
    new_accounts: int = 100,
    new_regions: int = 50,
    integration: str | None = "jira",
    seed: int = 1,
) -> dict[str, Any]:
    """The standard fragment for ``document``: new accounts, new regions, one new integration.

    - ``new_accounts`` full account items whose ids are not in ``document``;
    - ``new_regions`` items for distinct existing accounts carrying only
      ``account_id`` and ``regions: [one region the account does not have]``;
    - ``integration`` (a key of :data:`INTEGRATIONS`, or ``None`` for none) added whole.

    The ``aws`` items are shuffled together. The fragment shares no object with
    ``document`` or with :data:`INTEGRATIONS`.
    """
    existing: Sequence[Mapping[str, Any]] = document.get("aws", [])
    if not 0 <= new_regions <= len(existing):
        raise ValueError(f"cannot add regions to {new_regions} of {len(existing)} accounts")
    if new_accounts < 0:
        raise ValueError("new_accounts is non-negative")
    if integration is not None and integration not in INTEGRATIONS:
        raise ValueError(f"unknown integration {integration!r}; one of {sorted(INTEGRATIONS)}")
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for account in rng.sample(list(existing), new_regions):
        have = set(account["regions"])
        region = rng.choice([r for r in AWS_REGIONS if r not in have])
        items.append({"account_id": account["account_id"], "regions": [region]})
    taken = {account["account_id"] for account in existing}
    items.extend(make_account(rng, n) for n in _new_account_numbers(rng, taken, new_accounts))
    rng.shuffle(items)
    fragment: dict[str, Any] = {"aws": items}
    if integration is not None:
        template = INTEGRATIONS[integration]
        fragment[integration] = copy.deepcopy(dict(template))
    return fragment


def make_workload(
    accounts: int,
    *,
    new_accounts: int = 100,
    new_regions: int = 50,
    cloud_entries: int = 1_000,
    seed: int = 0,
) -> Workload:
    """A document of ``accounts`` accounts and its standard fragment (seeded from ``seed``)."""
    document = make_document(accounts, cloud_entries=cloud_entries, seed=seed)
    fragment = make_fragment(
        document, new_accounts=new_accounts, new_regions=new_regions, seed=seed + 1
    )
    return Workload(document, fragment)
