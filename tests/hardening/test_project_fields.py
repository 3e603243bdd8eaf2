"""Project fields that reach git or the file system refuse traversal and option injection with
a 422 naming the field; nothing is stored, so nothing reaches a repair worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.stack import guide_payload
from tests.hardening.conftest import ADMIN_TOKEN
from tests.stack import ApiHarness

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GOOD = {
    "repo_url": "https://gitea.example.com/team/rtc_backend.git",
    "local_path": "/home/dev/projects/rtc_backend",
    "default_branch": "main",
}
BAD = {
    "local_path": [
        "../etc",
        "relative/path",
        "./here",
        "/home/dev/../../etc/passwd",
        "/srv/..",
        "-oProxyCommand=touch /tmp/pwned",
        "--upload-pack=touch /tmp/pwned",
        "/srv/project\x00.git",
        "/srv/project\n/etc",
    ],
    "repo_url": [
        "ext::sh -c touch% /tmp/pwned",
        "ext::sh -c 'touch /tmp/pwned'",
        "file::/etc",
        "fd::17",
        "--upload-pack=touch /tmp/pwned",
        "-oProxyCommand=touch /tmp/pwned",
        "ssh://-oProxyCommand=touch%20/tmp/pwned/repo",
        "git@-oProxyCommand:team/repo.git",
        "/srv/../etc/repo.git",
        "https://example.com/repo.git\n--upload-pack=x",
        "https://example.com/repo.git\x00",
        "relative/repo.git",
        "javascript:alert(1)",
    ],
    "default_branch": ["--orphan", "-b", "../main", "a..b", "main/", "refs//x", "x\x00"],
}
CASES = [(field, value) for field, values in BAD.items() for value in values]


@pytest.fixture
def guarded(make_api: Callable[..., ApiHarness]) -> ApiHarness:
    api = make_api(admin_token=ADMIN_TOKEN)
    reply = api.client.put("/api/v1/projects/rtc_backend", json=GOOD, headers=AUTH)
    assert reply.status_code == 200, reply.text
    return api


@pytest.mark.parametrize(("field", "value"), CASES, ids=[f"{f}={v!r}" for f, v in CASES])
def test_dangerous_value_is_422_and_not_stored(guarded: ApiHarness, field: str, value: str) -> None:
    reply = guarded.client.put(
        "/api/v1/projects/rtc_backend", json={field: value, "name": "x"}, headers=AUTH
    )
    assert reply.status_code == 422, reply.text
    assert field in str(reply.json()["detail"])
    project = guarded.client.get("/api/v1/projects/rtc_backend").json()
    assert {k: project[k] for k in GOOD} == GOOD
    assert project["name"] is None, "a refused edit changes nothing"


@pytest.mark.parametrize(
    "value",
    ["git@gitea.example.com:team/rtc.git", "ssh://git@host:2222/team/rtc.git", "/srv/git/rtc.git"],
)
def test_ordinary_repository_forms_are_accepted(guarded: ApiHarness, value: str) -> None:
    reply = guarded.client.put("/api/v1/projects/p2", json={"repo_url": value}, headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert reply.json()["repo_url"] == value


@pytest.mark.parametrize("value", ["ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /x"])
def test_report_cannot_set_a_dangerous_repo_url(sqlite_api: ApiHarness, value: str) -> None:
    reply = sqlite_api.report(guide_payload(project_id="victim", repo_url=value))
    assert reply.status_code == 200, "the error itself still lands"
    sqlite_api.drain()
    project = sqlite_api.client.get("/api/v1/projects/victim")
    assert project.status_code == 200 and project.json()["repo_url"] is None
    warning = project.json()["repo_url_warning"]
    assert warning.startswith("a report's repo_url was ignored (repo_url")
    assert value not in warning, "the rejected address itself is not stored"


def test_an_ignored_repo_url_is_explained_until_a_repository_is_configured(
    sqlite_api: ApiHarness,
) -> None:
    def project() -> dict[str, object]:
        sqlite_api.drain()
        reply = sqlite_api.client.get("/api/v1/projects/warned")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    forged = {"repo_url_rejected": "forged by the client"}
    sqlite_api.report(guide_payload(project_id="warned", repo_url=None, **forged))
    assert project()["repo_url_warning"] is None, "clients cannot write the warning"
    sqlite_api.report(guide_payload(project_id="warned", repo_url="ftp://host/x.git"))
    assert "must be an http(s)://" in str(project()["repo_url_warning"])
    sqlite_api.report(guide_payload(project_id="warned", repo_url="https://git.example.com/w.git"))
    assert (project()["repo_url"], project()["repo_url_warning"]) == (
        "https://git.example.com/w.git",
        None,
    )
