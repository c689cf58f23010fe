"""Credentials stay secret, redirects do not carry them elsewhere, TLS cannot be switched off.

- The bearer token and the client secret never appear in a log record at any
  level (``safemerge``, ``urllib3``, ``requests``; message, arguments and
  formatted traceback), in an exception (``str``, ``repr``, hint, the whole
  cause/context chain, the formatted traceback) or in a repr, across success
  and a range of failures, for the Jit store and the GitHub store; nor in the
  real CLI's output (``apply --verbose``, ``-vv``, ``--output json``).
- ``Authorization`` does not follow a redirect to another host (``127.0.0.2``,
  ``localhost``, another port), not even with a ``~/.netrc`` naming that host;
  a login or a write is never redirected at all.
- A ``requests.Session`` with ``verify=False`` handed to a store still verifies
  TLS, and so do ``CURL_CA_BUNDLE=""``/``REQUESTS_CA_BUNDLE=""``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from safemerge import GitHubStore, JitStore, Retry, SafeMergeError, StoreError, apply
from safemerge._server import JitServer
from tests.support.fault_proxy import Fault
from tests.support.github_server import GitHubContentsServer
from tests.support.recording_proxy import RecordingProxy, recording_proxy
from tests.support.servers import jit_server_thread
from tests.support.set_workload import INITIAL_FILE
from tests.support.sinks import loopback_alias_available, self_signed, sink_server, tls_server

TOKEN = "eyJ.SERVER-TOKEN.4f9c2b7d1e"  # what safemerge serve requires
SECRET = "client-SECRET-8d21a6f0c3"  # a client secret, exchanged for TOKEN at login
GH_TOKEN = "ghp_GITHUBsecretTOKEN000111222333444"
SECRETS = (TOKEN, SECRET, GH_TOKEN)
ADD = {"aws": [{"account_id": "210987654321", "regions": ["us-east-1"], "type": "account"}]}
LOGIN = json.dumps({"accessToken": TOKEN, "expiresIn": 86400})


def no_sleep(seconds: float) -> None:
    del seconds


FAST = Retry(sleep=no_sleep, random=lambda: 0.5, transient=2)


def texts_of_error(error: BaseException) -> list[str]:
    """Everything an error could show: str, repr, hint, formatted traceback, the whole chain."""
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), str(getattr(current, "hint", ""))]
        texts += [repr(a) for a in current.args]
        current = current.__cause__ or current.__context__
    return texts


def texts_of_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = []
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), formatter.format(record)]
    return texts


def assert_clean(texts: list[str], secrets: tuple[str, ...] = SECRETS) -> None:
    """No credential in any text; ``secrets`` are those the code under test holds."""
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a credential leaked: ...{text[:300]}..."


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("safemerge", "urllib3", "requests", "safemerge.server"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def served(tmp_path: Path) -> Iterator[JitServer]:
    path = tmp_path / "jit-integration.yml"
    path.write_text(INITIAL_FILE)
    with jit_server_thread(path, token=TOKEN) as server:
        yield server


@pytest.fixture
def proxy(served: JitServer) -> Iterator[RecordingProxy]:
    with recording_proxy(served.url) as p:
        yield p


def echo(status: int, code: str = "BAD_REQUEST") -> Fault:
    """An error answer that echoes every credential back, as a careless server might."""
    message = f"bad request from Bearer {TOKEN} with secret {SECRET} and {GH_TOKEN}"
    return Fault.reply(status, json.dumps({"error": code, "message": message, "Message": message}))


# -- logs, errors and reprs -------------------------------------------------------------------

JIT_FAILURES: list[tuple[str, str, Fault]] = [
    ("400 echoing the credentials", "PUT", echo(400)),
    ("401 echoing the credentials", "GET", echo(401, "UNAUTHORIZED")),
    ("403 echoing the credentials", "PUT", echo(403, "FORBIDDEN")),
    ("409 INVALID_FILE echoing", "PUT", echo(409, "INVALID_FILE")),
    ("500 echoing, on read", "GET", echo(500, "INTERNAL_SERVER_ERROR")),
    (
        "HTML echoing the token",
        "GET",
        Fault.reply(200, f"<html>{TOKEN} {SECRET}</html>", {"Content-Type": "text/html"}),
    ),
    ("connection dropped on read", "GET", Fault.drop()),
    ("connection dropped on write", "PUT", Fault.drop()),
    ("redirect on write", "PUT", Fault.redirect(f"http://127.0.0.2:9/?token={TOKEN}")),
]


@pytest.mark.parametrize(
    ("name", "method", "fault"), JIT_FAILURES, ids=[f[0] for f in JIT_FAILURES]
)
@pytest.mark.parametrize("auth", ["token", "client credentials"])
def test_jit_credentials_never_show_in_logs_errors_or_reprs(
    proxy: RecordingProxy,
    logs: pytest.LogCaptureFixture,
    name: str,
    method: str,
    fault: Fault,
    auth: str,
) -> None:
    del name
    if auth == "token":
        store = JitStore(proxy.url, token=TOKEN, timeout=5)
    else:
        proxy.inject("POST", "login", Fault.reply(200, LOGIN))
        proxy.inject("POST", "login again", Fault.reply(200, LOGIN))
        store = JitStore(proxy.url, client_id="id-1", client_secret=SECRET, timeout=5)
    proxy.inject(method, "fault", fault)
    errors: list[BaseException] = []
    with store:
        try:
            apply(store, ADD, retry=FAST)
        except SafeMergeError as exc:
            errors.append(exc)
        texts = [repr(store), str(store), repr(vars(store)), repr(store._session.headers)]
    for error in errors:
        texts += texts_of_error(error)
    # A store can only hide what it holds: the token, and the client secret when it has one.
    assert_clean(texts + texts_of_logs(logs), (TOKEN,) if auth == "token" else (TOKEN, SECRET))
    assert all(isinstance(e, SafeMergeError) for e in errors)


def test_jit_credentials_never_show_on_success_with_a_relogin(
    proxy: RecordingProxy, logs: pytest.LogCaptureFixture
) -> None:
    proxy.inject("POST", "login", Fault.reply(200, LOGIN))
    proxy.inject("POST", "login again", Fault.reply(200, LOGIN))
    proxy.inject("GET", "expired", Fault.reply(401, json.dumps({"Message": "Unauthorized"})))
    with JitStore(proxy.url, client_id="id-1", client_secret=SECRET, timeout=5) as store:
        result = apply(store, ADD, retry=FAST)
        texts = [repr(store), repr(vars(store)), repr(result)]
    assert result.written
    assert_clean(texts + texts_of_logs(logs))


GITHUB_FAILURES: list[tuple[str, int, dict[str, str], Any, str | None]] = [
    ("401 echoing", 401, {}, {"message": f"Bad credentials {GH_TOKEN}"}, None),
    ("403 echoing", 403, {}, {"message": f"no access for {GH_TOKEN}"}, "PUT"),
    ("422 echoing", 422, {}, {"message": f"invalid {GH_TOKEN}"}, "PUT"),
    ("409 echoing", 409, {}, {"message": f"{GH_TOKEN} does not match"}, "PUT"),
    ("502 HTML echoing", 502, {}, f"<html>{GH_TOKEN}</html>".encode(), None),
    ("rate limited", 429, {"Retry-After": "1"}, {"message": f"slow down {GH_TOKEN}"}, None),
    ("redirect on write", 307, {"Location": f"http://127.0.0.2:9/{GH_TOKEN}"}, b"", "PUT"),
]


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "method"),
    GITHUB_FAILURES,
    ids=[f[0] for f in GITHUB_FAILURES],
)
def test_github_token_never_shows_in_logs_errors_or_reprs(
    logs: pytest.LogCaptureFixture,
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    method: str | None,
) -> None:
    del name
    errors: list[BaseException] = []
    with GitHubContentsServer(token=GH_TOKEN) as server:
        server.put(".jit/jit-integration.yml", INITIAL_FILE.encode())
        server.fail_next(status, headers=headers, body=body, method=method)
        with GitHubStore("owner/name", token=GH_TOKEN, api_url=server.url, timeout=5) as store:
            try:
                apply(store, ADD, retry=FAST)
            except SafeMergeError as exc:
                errors.append(exc)
            texts = [repr(store), repr(vars(store)), repr(store._session.headers)]
    for error in errors:
        texts += texts_of_error(error)
    assert_clean(texts + texts_of_logs(logs), (GH_TOKEN,))


# -- the real CLI ---------------------------------------------------------------------------


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {
        k: v for k, v in os.environ.items() if not k.startswith(("JIT_", "GITHUB_", "SAFEMERGE_"))
    }
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "safemerge._cli", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _cli_has_apply() -> bool:
    from safemerge import _cli

    return "apply" in (_cli.__doc__ or "")


needs_cli_apply = pytest.mark.skipif(
    not _cli_has_apply(), reason="the CLI has no apply command yet"
)


@needs_cli_apply
@pytest.mark.parametrize(
    "flags",
    [["-vv"], ["--verbose", "--output", "json"]],
    ids=["vv", "verbose-json"],
)
@pytest.mark.parametrize(
    "scenario", ["token", "client credentials", "server echoes credentials", "wrong token"]
)
def test_cli_output_never_shows_credentials(
    proxy: RecordingProxy, tmp_path: Path, flags: list[str], scenario: str
) -> None:
    fragment = tmp_path / "fragment.yml"
    fragment.write_text(json.dumps(ADD))
    env = {"JIT_API_TOKEN": TOKEN}
    if scenario == "client credentials":
        env = {"JIT_CLIENT_ID": "id-1", "JIT_CLIENT_SECRET": SECRET}
        proxy.inject("POST", "login", Fault.reply(200, LOGIN))
    elif scenario == "server echoes credentials":
        env = {"JIT_API_TOKEN": TOKEN, "JIT_CLIENT_SECRET": SECRET}
        proxy.inject("PUT", "echo", echo(400))
    elif scenario == "wrong token":
        env = {"JIT_API_TOKEN": SECRET}  # refused by the server: the refusal must not show it
    done = cli(["apply", str(fragment), "--target", proxy.url, *flags], env, tmp_path)
    output = done.stdout + done.stderr
    assert output.strip(), "the CLI printed nothing"
    assert_clean([output], (TOKEN, SECRET))
    if scenario in ("token", "client credentials"):
        assert done.returncode == 0, output
    else:
        assert done.returncode != 0, output
    if "json" in flags:
        json.loads(done.stdout)  # exactly one JSON object, whatever happened


# -- redirects --------------------------------------------------------------------------------

needs_127_0_0_2 = pytest.mark.skipif(
    not loopback_alias_available(), reason="this machine cannot listen on 127.0.0.2"
)


@pytest.mark.parametrize(
    ("host", "url_host"),
    [
        pytest.param("127.0.0.2", None, marks=needs_127_0_0_2, id="another address"),
        pytest.param("127.0.0.1", "localhost", id="localhost"),
        pytest.param("127.0.0.1", None, id="another port"),
    ],
)
def test_a_redirected_read_does_not_carry_the_token_to_another_host(
    proxy: RecordingProxy, host: str, url_host: str | None
) -> None:
    with sink_server(host, url_host) as sink:
        proxy.inject("GET", "redirect", Fault.redirect(sink.url + "/plans/integration-file", 302))
        with JitStore(proxy.url, token=TOKEN, timeout=5) as store:
            store.read()
    assert [r.method for r in sink.received] == ["GET"], "the redirect was not followed"
    assert not sink.saw_authorization()
    assert proxy.exchanges[0].authorization  # the first host did get the token


@needs_127_0_0_2
def test_a_netrc_for_the_other_host_is_not_used(
    proxy: RecordingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.2 login someone password NETRC-PASSWORD\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with sink_server("127.0.0.2") as sink:
        proxy.inject("GET", "redirect", Fault.redirect(sink.url + "/plans/integration-file"))
        with JitStore(proxy.url, token=TOKEN, timeout=5) as store:
            store.read()
    assert sink.received
    assert not sink.saw_authorization()


@needs_127_0_0_2
def test_a_github_read_redirected_elsewhere_does_not_carry_the_token() -> None:
    with GitHubContentsServer(token=GH_TOKEN) as server, sink_server("127.0.0.2") as sink:
        location = f"{sink.url}/repos/owner/name/contents/.jit/jit-integration.yml"
        server.fail_next(301, headers={"Location": location}, body=b"", method="GET")
        with (
            GitHubStore("owner/name", token=GH_TOKEN, api_url=server.url, timeout=5) as store,
            pytest.raises(SafeMergeError),  # the sink's answer is not a GitHub file object
        ):
            store.read()
    assert sink.received, "the redirect was not followed"
    assert not sink.saw_authorization()


@needs_127_0_0_2
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_login_is_never_redirected_so_the_secret_stays(
    proxy: RecordingProxy, status: int
) -> None:
    with sink_server("127.0.0.2") as sink:
        proxy.inject("POST", "redirect", Fault.redirect(sink.url + "/authentication/login", status))
        with (
            JitStore(proxy.url, client_id="id-1", client_secret=SECRET, timeout=5) as store,
            pytest.raises(StoreError, match="never redirected"),
        ):
            store.read()
    assert sink.received == []


@needs_127_0_0_2
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_write_is_never_redirected(proxy: RecordingProxy, served: JitServer, status: int) -> None:
    with sink_server("127.0.0.2") as sink:
        proxy.inject(
            "PUT", "redirect", Fault.redirect(sink.url + "/plans/integration-file", status)
        )
        with (
            JitStore(proxy.url, token=TOKEN, timeout=5) as store,
            pytest.raises(StoreError, match="never redirected"),
        ):
            apply(store, ADD, retry=FAST)
    assert sink.received == []
    assert served.writes == 0


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not installed: no self-signed certificate to test TLS with")
    return made


def session_with(verify: Any) -> requests.Session:
    session = requests.Session()
    session.verify = verify
    return session


StoreMaker = Callable[[str, requests.Session], Any]
STORES: dict[str, StoreMaker] = {
    "JitStore": lambda url, s: JitStore(url, token=TOKEN, session=s, timeout=5),
    "GitHubStore": lambda url, s: GitHubStore(
        "owner/name", token=GH_TOKEN, api_url=url, session=s, timeout=5
    ),
}


@pytest.mark.parametrize("kind", list(STORES))
@pytest.mark.parametrize("verify", [False, None, 0, True], ids=repr)
def test_tls_verification_cannot_be_turned_off_by_the_session(
    certificate: tuple[Path, Path], kind: str, verify: Any
) -> None:
    with tls_server(*certificate) as server:
        store = STORES[kind](server.url, session_with(verify))
        with pytest.raises(StoreError, match="TLS verification failed"):
            store.read()
        store._session.close()
    assert server.received == [], "a request (and its token) reached an unverified server"


@pytest.mark.parametrize("kind", list(STORES))
def test_the_ca_bundle_environment_cannot_turn_verification_off(
    certificate: tuple[Path, Path], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    with tls_server(*certificate) as server:
        store = STORES[kind](server.url, session_with(False))
        with pytest.raises(StoreError, match="TLS verification failed"):
            store.read()
        store._session.close()
    assert server.received == []


@pytest.mark.parametrize("kind", list(STORES))
def test_a_ca_bundle_path_is_honoured(certificate: tuple[Path, Path], kind: str) -> None:
    # The control: the server is reachable, and trusted when its certificate is the CA.
    cert, _ = certificate
    with tls_server(*certificate) as server:
        store = STORES[kind](server.url, session_with(str(cert)))
        # The sink's answer is not a GitHub file object; reaching the sink is the point.
        with contextlib.suppress(SafeMergeError):
            store.read()
        store._session.close()
    assert [r.method for r in server.received][:1] == ["GET"]


@pytest.mark.parametrize("kind", list(STORES))
def test_an_empty_ca_bundle_path_does_not_turn_verification_off(
    certificate: tuple[Path, Path], kind: str
) -> None:
    # requests takes verify="" as off (it is falsy). This once sent the token to an
    # unverified server; the warning urllib3 would raise is silenced so that only the
    # server's log can tell.
    with tls_server(*certificate) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRequestWarning)
        store = STORES[kind](server.url, session_with(""))
        with pytest.raises(StoreError, match="TLS verification failed"):
            store.read()
        store._session.close()
    assert server.received == [], "the token reached a server whose certificate was not verified"
