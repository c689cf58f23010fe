"""`safemerge` against `safemerge serve` (the Jit API on loopback) and a GitHub stand-in.

Every exit code that only a remote can produce is here: 3 (write conflicts
exhausted), 4 (credentials), 5 (network and store failures).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

from safemerge._server import JitServer
from safemerge._store import git_blob_sha
from tests.cli.runner import EXAMPLES, child_env, command, run
from tests.conftest import BASIC, TOKEN
from tests.support.fault_proxy import Fault, fault_proxy
from tests.support.github_server import GitHubContentsServer
from tests.support.servers import jit_server_process

ADD_ACCOUNT = EXAMPLES / "add-aws-account.yml"
AUTH = {"JIT_API_TOKEN": TOKEN}


def test_get_plan_apply_through_the_jit_api(jit_server: JitServer, integration_file: Path) -> None:
    url = jit_server.url

    got = run("get", "--target", url, env=AUTH)
    assert got.code == 0, got.err
    assert got.out == BASIC  # the raw_content the API sends: comments and all

    plan = run("plan", ADD_ACCOUNT, "--target", url, "-v", env=AUTH)
    assert plan.code == 0, plan.err
    assert "+ /aws/1: {'account_id': '000123456789'" in plan.out
    assert "dry run: nothing written" in plan.out
    assert f"read {url}: sha {git_blob_sha(BASIC.encode())}" in plan.err  # -v logs
    assert jit_server.writes == 0
    assert integration_file.read_text() == BASIC

    applied = run("apply", ADD_ACCOUNT, "--output", "json", env={**AUTH, "SAFEMERGE_TARGET": url})
    assert applied.code == 0, applied.err
    report = applied.json
    assert report["target"] == url
    assert (report["written"], report["guarded"], report["attempts"]) == (True, True, 1)
    assert report["sha_before"] == git_blob_sha(BASIC.encode())
    assert report["sha_after"] == git_blob_sha(integration_file.read_bytes())
    assert [c["path"] for c in report["changes"]] == ["/aws/1"]
    assert jit_server.writes == 1
    assert "'000123456789'" in integration_file.read_text()

    again = run("apply", ADD_ACCOUNT, "--target", url, "-v", env=AUTH)
    assert again.code == 0
    assert f"nothing to do: {url} already holds everything in the fragment" in again.out
    assert jit_server.writes == 1

    for result in (got, plan, applied, again):
        assert TOKEN not in result.text


def test_credentials_missing_or_refused_exit_4(jit_server: JitServer) -> None:
    wrong = run("apply", ADD_ACCOUNT, "--target", jit_server.url, "--output", "json", env={"JIT_API_TOKEN": "not-the-token"})  # fmt: skip
    assert wrong.code == 4
    error = wrong.json["errors"][0]
    assert error["type"] == "AuthError"
    assert "401" in error["message"]
    assert "JIT_API_TOKEN" in error["hint"]
    assert "not-the-token" not in wrong.text

    # No credentials for an https URL: refused before any request (a request to
    # this closed port would fail with a network error, exit 5, after retries).
    https = run("get", "--target", "https://127.0.0.1:9")
    assert https.code == 4
    assert https.err == (
        "safemerge: error: no Jit credentials for https://127.0.0.1:9: "
        "set JIT_API_TOKEN, or JIT_CLIENT_ID and JIT_CLIENT_SECRET\n"
    )
    half = run("get", "--target", "https://api.jit.io", env={"JIT_CLIENT_ID": "abc"})
    assert half.code == 4
    assert "set JIT_CLIENT_SECRET too" in half.err
    github = run("get", "--target", "github:acme/jit-config")
    assert github.code == 4
    assert "set GITHUB_TOKEN" in github.err

    in_url = run("get", "--target", "https://me:pa55word@api.jit.io")
    assert in_url.code == 2
    assert "pa55word" not in in_url.text
    assert jit_server.writes == 0


def test_write_conflicts_exhausted_exit_3(jit_server: JitServer, integration_file: Path) -> None:
    stale = Fault.reply(
        409,
        json.dumps({"error": "FILE_SHA_CONFLICT", "message": "file_sha does not match"}),
        {"Content-Type": "application/json"},
    )
    with fault_proxy(jit_server.url) as proxy:
        proxy.inject("PUT", stale, stale, stale)
        as_json = run("apply", ADD_ACCOUNT, "--target", proxy.url, "--max-conflicts", "2", "--output", "json", env=AUTH)  # fmt: skip
        text = run("apply", ADD_ACCOUNT, "--target", proxy.url, "--max-conflicts", "1", env=AUTH)
    assert (as_json.code, text.code) == (3, 3)
    error = as_json.json["errors"][0]
    assert error["type"] == "RetriesExhausted"
    assert error["attempts"] == 2
    assert error["last_error"]["type"] == "ShaConflict"
    assert as_json.json["written"] is False
    assert "error: gave up after 1 write attempts" in text.err
    assert "--max-conflicts" in text.err
    assert "nothing was written" in text.err
    assert jit_server.writes == 0
    assert integration_file.read_text() == BASIC


def test_network_and_store_failures_exit_5(jit_server: JitServer, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = run("apply", ADD_ACCOUNT, "--target", closed, "--max-transient", "0", "--output", "json")
    assert down.code == 5
    error = down.json["errors"][0]
    assert error["type"] == "RetriesExhausted"
    assert error["last_error"]["type"] == "TransientError"
    get = run("get", "--target", closed, "--max-transient", "1")  # one retry, after a backoff
    assert get.code == 5
    assert "gave up after 2 transient failures" in get.err
    assert "--max-transient" in get.err

    # The server refuses content that breaks its schemas (409 INVALID_FILE): a store error.
    bad = tmp_path / "bad.yml"
    bad.write_text("aws:\n- {account_id: '000000000001', regions: [moon-1], type: account}\n")
    refused = run("apply", bad, "--target", jit_server.url, "--no-validate", env=AUTH)
    assert refused.code == 5
    assert "409 INVALID_FILE" in refused.err
    assert jit_server.writes == 0


def test_serve_answers_the_cli_and_writes_its_port(tmp_path: Path) -> None:
    served = tmp_path / "jit-integration.yml"
    served.write_text((EXAMPLES / "jit-integration.yml").read_text())
    port_file = tmp_path / "port"
    server = subprocess.Popen(
        command("serve", "--file", str(served), "--port-file", str(port_file), "--output", "json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env({"SAFEMERGE_SERVE_TOKEN": TOKEN}),
    )
    try:
        assert server.stdout is not None
        started = json.loads(server.stdout.readline())
        port = int(port_file.read_text())
        assert started == {
            "command": "serve",
            "file": str(served),
            "url": f"http://127.0.0.1:{port}",
            "port": port,
        }
        region = run("apply", EXAMPLES / "add-region.yml", "--target", started["url"], env=AUTH)
        assert region.code == 0, region.err
        assert "+ /aws/1/regions/1: 'eu-central-1'" in region.out
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(10)
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()
    assert code == 0
    assert "eu-central-1" in served.read_text()

    # The helper the other suites use starts the same command and reads its first line.
    with jit_server_process(served, token=TOKEN) as url:
        removed = run("apply", EXAMPLES / "remove-account.yml", "--target", url, "--output", "json", env=AUTH)  # fmt: skip
    assert removed.code == 0, removed.err
    assert [(c["op"], c["path"]) for c in removed.json["changes"]] == [("remove", "/aws/2")]
    assert "210987654321" not in served.read_text()


def test_github_target(tmp_path: Path) -> None:
    with GitHubContentsServer(token="gh-t0ken-for-cli-tests") as github:
        github.put(".jit/jit-integration.yml", BASIC.encode())
        github.put("config/jit.yml", BASIC.encode(), branch="infra")
        env = {"GITHUB_TOKEN": "gh-t0ken-for-cli-tests", "GITHUB_API_URL": github.url}

        default = run("apply", ADD_ACCOUNT, "--target", "github:owner/name", env=env)
        assert default.code == 0, default.err
        assert "'000123456789'" in (github.get(".jit/jit-integration.yml") or b"").decode()

        spelled_out = "github:owner/name/config/jit.yml@infra"
        report = run(
            "apply", ADD_ACCOUNT, "--target", spelled_out, "--output", "json", env=env
        ).json
        assert report["target"] == spelled_out
        assert report["written"] is True
        assert report["sha_after"] == git_blob_sha(
            github.get("config/jit.yml", branch="infra") or b""
        )
        assert github.get("config/jit.yml") is None  # not on the default branch

        refused = run("get", "--target", "github:owner/name", env={**env, "GITHUB_TOKEN": "wrong"})
        assert refused.code == 4
        for result in (default, refused):
            assert "gh-t0ken-for-cli-tests" not in result.text
