from __future__ import annotations

from pathlib import Path

import pytest

from agent.paths import Frame, RepoFiles, inside, normalize, parse_frames, read_inside
from agent.prompt import code_context
from agent.toolchains.checkout import Checkout

FILES = [
    "apps/users/views.py",
    "apps/orders/views.py",
    "src/api/request.ts",
    "lib/main.dart",
    "lib/screens/home.dart",
    "packages/app/lib/main.dart",
    "manage.py",
]


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("/home/dev/projects/rtc_backend/apps/users/views.py", "apps/users/views.py"),
        ("apps/orders/views.py", "apps/orders/views.py"),
        ("http://host:5173/src/api/request.ts?t=17", "src/api/request.ts"),
        ("https://app.example.com/src/api/request.ts#L3", "src/api/request.ts"),
        ("package:airhub_app/main.dart", "lib/main.dart"),
        ("package:airhub_app/screens/home.dart", "lib/screens/home.dart"),
        ("C:\\Users\\dev\\rtc_backend\\manage.py", "manage.py"),
        ("webpack:///./src/api/request.ts", "src/api/request.ts"),
        ("file:///srv/app/apps/users/views.py", "apps/users/views.py"),
    ],
)
def test_reported_paths_resolve_to_repository_files(reported: str, expected: str) -> None:
    assert RepoFiles(FILES).resolve(reported) == expected


def test_longest_suffix_wins_and_ties_go_to_the_shortest_path() -> None:
    files = RepoFiles(FILES)
    assert files.resolve("/elsewhere/views.py") == "apps/orders/views.py"
    assert files.resolve("/x/packages/app/lib/main.dart") == "packages/app/lib/main.dart"


@pytest.mark.parametrize(
    "reported",
    [
        "dart:async/zone.dart",
        "<anonymous>",
        "/usr/lib/python3.11/site-packages/django/views.py",
        "http://host/node_modules/axios/lib/request.ts",
        "unknown",
        "",
    ],
)
def test_unrelated_or_vendored_paths_do_not_resolve(reported: str) -> None:
    assert RepoFiles(FILES).resolve(reported) is None


def test_normalize_strips_scheme_host_query_and_package() -> None:
    assert normalize("http://localhost:5173/@fs/home/u/app/src/x.ts?v=1") == "home/u/app/src/x.ts"
    assert normalize("package:airhub_app/main.dart") == "lib/main.dart"


def test_frames_from_python_javascript_and_dart_traces() -> None:
    trace = [
        "Traceback (most recent call last):",
        '  File "/home/dev/projects/rtc_backend/apps/users/views.py", line 42, in get_user',
        "    at Object.request (http://host:5173/src/api/request.ts?t=17:12:5)",
        "at http://host:5173/src/main.ts:3:9",
        "request@http://host:5173/src/api/request.ts:14:2",
        "#0      main (package:airhub_app/main.dart:12:3)",
        "#1      _rootRun (dart:async/zone.dart:1399:13)",
        "ValueError: invalid literal for int() with base 10: 'abc'",
    ]
    frames = parse_frames(trace)
    assert frames[0] == Frame("/home/dev/projects/rtc_backend/apps/users/views.py", 42)
    assert Frame("http://host:5173/src/api/request.ts?t=17", 12) in frames
    assert Frame("http://host:5173/src/api/request.ts", 14) in frames
    assert Frame("package:airhub_app/main.dart", 12) in frames
    resolved = RepoFiles(FILES).resolve_frames(frames)
    assert resolved == [
        Frame("apps/users/views.py", 42),
        Frame("src/api/request.ts", 12),
        Frame("src/api/request.ts", 14),
        Frame("lib/main.dart", 12),
    ]


def test_a_stack_trace_sent_as_one_string_is_split_into_lines() -> None:
    text = 'File "a/b.py", line 3, in f\n  File "a/c.py", line 9, in g'
    assert parse_frames([text]) == [Frame("a/b.py", 3), Frame("a/c.py", 9)]


def test_files_are_read_only_inside_the_repository(tmp_path: Path) -> None:
    """A link in the repository (committed, or planted by a run) to the worker's own files
    never brings them into a prompt or a toolchain's view of the project."""
    canary = tmp_path / "home" / "id_rsa"
    canary.parent.mkdir()
    canary.write_text("PRIVATE KEY canary\n")
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "views.py").write_text("def view():\n    return 1 / 0\n")
    (repo / "app" / "settings.py").symlink_to(canary)
    (repo / "package.json").symlink_to(canary)
    (repo / "app" / "same.py").symlink_to(repo / "app" / "views.py")
    assert inside(repo, "app/settings.py") is None and inside(repo, "../home/id_rsa") is None
    assert inside(repo, str(canary)) is None
    assert read_inside(repo, "app/same.py") == "def view():\n    return 1 / 0\n"
    assert read_inside(repo, "app/missing.py") is None
    frames = [Frame("app/settings.py", 1), Frame("app/views.py", 2)]
    context = code_context(repo, frames, ["app/settings.py", "app/views.py"])
    assert [label.split(" ")[0] for label, _ in context.snippets] == ["app/views.py"]
    assert "canary" not in repr(context)
    assert Checkout.scan(repo).read("package.json") == ""
