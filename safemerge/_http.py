"""What the HTTP stores share: sending a request, and turning failures into our errors.

Every ``requests`` exception stops here: callers of the public API only ever
see :class:`SafeMergeError` subclasses. Tokens travel in a :class:`Secret`,
whose ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import requests

from ._errors import StoreError, UnsafeInput
from ._store import OutcomeUnknown, TransientError

__all__ = ["Secret", "json_body", "new_session", "parse_retry_after", "send", "transient_for"]

log = logging.getLogger("safemerge")

DEFAULT_TIMEOUT: Final = 30.0
USER_AGENT: Final = "safemerge"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Secret:
    """A credential that will not print itself.

    >>> token = Secret("eyJhbGciOi...")
    >>> token, str(token), f"{token}"
    (Secret('<redacted>'), '<redacted>', '<redacted>')
    >>> token.reveal()
    'eyJhbGciOi...'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that needs it: the Authorization header."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    def __str__(self) -> str:
        return "<redacted>"

    def __format__(self, spec: str) -> str:
        return "<redacted>"

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def new_session() -> requests.Session:
    """A session that verifies TLS and ignores ``~/.netrc`` and proxy credentials from the environment."""
    session = requests.Session()
    # trust_env would let REQUESTS_CA_BUNDLE-less environments pick up .netrc
    # credentials and send them to our host: we authenticate explicitly.
    session.trust_env = False
    session.verify = True
    session.headers["User-Agent"] = USER_AGENT
    return session


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP-date (RFC 9110 §10.2.3).

    >>> parse_retry_after("7")
    7.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0)
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    data: bytes | None = None,
    is_write: bool = False,
) -> requests.Response:
    """Send one request; never follow a redirect on a write; map transport failures.

    A write that failed after the request may have reached the server raises
    :class:`OutcomeUnknown`; one that surely never left raises :class:`TransientError`.
    """
    try:
        response = session.request(
            method,
            url,
            headers=dict(headers or {}),
            json=body,
            data=data,
            timeout=timeout,
            allow_redirects=not is_write,
            # A CA bundle path is honoured; False (or "", which requests also
            # takes as off) is not: verification is never off.
            verify=session.verify if isinstance(session.verify, str) and session.verify else True,
            stream=True,  # so the body can be bounded below, before it is all in memory
        )
        _read_bounded(response, what=what, url=url)
    except requests.exceptions.ConnectTimeout:
        raise TransientError(f"{what}: timed out connecting to {_host(url)}") from None
    except requests.exceptions.SSLError as exc:
        raise StoreError(
            f"{what}: TLS verification failed for {_host(url)}: {type(exc).__name__}",
            hint="fix the server's certificate or the CA bundle; verification is never turned off",
        ) from None
    except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
        sent_maybe = is_write and not _surely_unsent(exc)
        kind = OutcomeUnknown if sent_maybe else TransientError
        raise kind(f"{what}: {_describe(exc)} talking to {_host(url)}") from None
    except requests.exceptions.RequestException as exc:
        raise StoreError(f"{what}: {type(exc).__name__} talking to {_host(url)}") from None
    log.debug("%s %s -> %s", method, _host(url), response.status_code)
    if is_write and response.status_code in _REDIRECTS:
        raise StoreError(
            f"{what}: the server answered {response.status_code} (a redirect to "
            f"{_host(response.headers.get('Location', '?'))}); a write is never redirected",
            hint="point the store at the final URL; nothing was written there by this request",
        )
    return response


MAX_RESPONSE_BYTES: Final = 16 << 20
"""The largest answer read (the bound files and fragments have too)."""


def _read_bounded(response: requests.Response, *, what: str, url: str) -> None:
    """Read the streamed body, refusing (and dropping) one larger than MAX_RESPONSE_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=1 << 16):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                response.close()
                raise UnsafeInput(
                    f"{what}: {_host(url)} answered more than {MAX_RESPONSE_BYTES} bytes; refused unread",
                    hint="check the URL points at the integration-file API",
                )
            chunks.append(chunk)
    except requests.exceptions.RequestException:
        response.close()
        raise
    # requests keeps a read body here; setting it makes .content/.json() work as usual.
    response._content = b"".join(chunks)


def _surely_unsent(exc: BaseException) -> bool:
    # A refused connection never carried the request; anything later might have.
    text = repr(exc)
    return (
        "ConnectionRefusedError" in text
        or "NewConnectionError" in text
        or "NameResolutionError" in text
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    return "the connection failed"


def _host(url: str) -> str:
    # Only scheme://host:port reaches a message: query strings can carry secrets.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.netloc else "?"


def json_body(response: requests.Response, *, what: str) -> Any:
    """The response's JSON, or a :class:`StoreError` saying what came instead."""
    if not response.content:
        raise StoreError(f"{what}: the server answered {response.status_code} with an empty body")
    try:
        # Strict JSON (RFC 8259): NaN and Infinity are refused, not turned into floats;
        # a key given twice is refused, not silently resolved to its last value.
        return json.loads(
            response.content, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
        )
    except _DuplicateKey as exc:
        raise UnsafeInput(
            f"{what}: the answer gives the key {exc.key!r} twice in one object"
        ) from None
    except (ValueError, RecursionError):
        kind = response.headers.get("Content-Type", "no content type")
        raise StoreError(
            f"{what}: the server answered {response.status_code} with something that is not JSON ({kind})"
        ) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def transient_for(
    response: requests.Response, *, what: str, now: Callable[[], float] = time.time
) -> TransientError:
    """The error for a 429 or 5xx answer, carrying its ``Retry-After``."""
    return TransientError(
        f"{what}: the server answered {response.status_code}",
        retry_after=parse_retry_after(response.headers.get("Retry-After"), now),
    )
