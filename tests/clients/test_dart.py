"""docs/clients/dart: no Dart SDK here, so the Flutter client is held to what a parser can check:
tree-sitter's Dart grammar finds no syntax error, and the code reads its settings from
--dart-define and hooks both of Flutter's error paths."""

from __future__ import annotations

import re

import pytest
import tree_sitter_dart
from tree_sitter import Language, Node, Parser

from tests.clients.conftest import CLIENTS

DART = CLIENTS / "dart"


def broken(node: Node) -> list[str]:
    """Every ERROR or MISSING node under `node`, with where it is."""
    here = [f"{node.type} at {node.start_point}"] if node.is_error or node.is_missing else []
    return here + [problem for child in node.children for problem in broken(child)]


@pytest.mark.parametrize("name", ["log_center.dart", "main.dart"])
def test_dart_parses_without_errors(name: str) -> None:
    tree = Parser(Language(tree_sitter_dart.language())).parse((DART / name).read_bytes())
    assert tree.root_node.type == "program"
    assert broken(tree.root_node) == []


def test_the_grammar_catches_what_the_compiler_would() -> None:
    """A control: the check is not vacuous (a missing semicolon is found)."""
    source = (DART / "log_center.dart").read_bytes().replace(b"'development');", b"'development')")
    tree = Parser(Language(tree_sitter_dart.language())).parse(source)
    assert broken(tree.root_node)


def test_settings_come_from_dart_define_and_every_error_path_reports() -> None:
    client = (DART / "log_center.dart").read_text()
    for name in ("LOG_CENTER_URL", "ENVIRONMENT", "REPO_URL", "LOG_CENTER_PROJECT_ID"):
        assert re.search(rf"String\.fromEnvironment\(\s*'{name}'", client), name
    assert "import 'dart:convert';" in client
    assert "import 'package:http/http.dart' as http;" in client
    assert re.search(r"'error': \{\s*'type'", client)

    main = (DART / "main.dart").read_text()
    assert "import 'log_center.dart';" in main and "import 'dart:async';" in main
    assert "FlutterError.onError" in main and "runZonedGuarded(" in main
    assert "class MyApp" in main  # runApp(const MyApp()) has what it runs
