from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.edits import apply_blocks, parse_blocks, replace_once
from agent.errors import EditError, EditOutsideRepo
from tests.agent import replies
from tests.repos import OPS


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "ops.py").write_text(OPS)
    return root


def test_block_with_fences_and_prose_is_parsed() -> None:
    [block] = parse_blocks(replies.REPRODUCTION)
    assert block.path == replies.REPRO_PATH
    assert block.search == ""
    assert "def test_average_of_empty_list_is_zero" in block.replace


def test_exact_block_applies(repo: Path) -> None:
    applied = apply_blocks(repo, parse_blocks(replies.RIGHT_FIX))
    assert [(a.path, a.created) for a in applied] == [("calc/ops.py", False)]
    assert "if not values:\n        return 0.0" in (repo / "calc/ops.py").read_text()


def test_indentation_drift_is_tolerated_and_replacement_reindented(repo: Path) -> None:
    apply_blocks(repo, parse_blocks(replies.RIGHT_FIX_DRIFTED))
    text = (repo / "calc/ops.py").read_text()
    assert "    if not values:\n        return 0.0\n    total = sum(values)\n" in text


def test_trailing_whitespace_and_match_inside_a_line_are_handled() -> None:
    content = "def f(a, b):\n    return a / b\n"
    assert replace_once(content, "  return a / b   \n", "  return a // b\n") == (
        "def f(a, b):\n    return a // b\n"
    )


def test_several_blocks_and_a_new_file(repo: Path) -> None:
    reply = (
        replies.RIGHT_FIX
        + "\ncalc/ops.py\n<<<<<<< SEARCH\n    return max(values) - min(values)\n=======\n"
        "    return max(values) - min(values) if values else 0\n>>>>>>> REPLACE\n"
        + "\nnew/module.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n"
    )
    applied = apply_blocks(repo, parse_blocks(reply))
    assert {(a.path, a.created) for a in applied} == {
        ("calc/ops.py", False),
        ("new/module.py", True),
    }
    assert "if values else 0" in (repo / "calc/ops.py").read_text()
    assert (repo / "new/module.py").read_text() == "X = 1\n"


def test_unmatched_block_reports_the_closest_lines_and_writes_nothing(repo: Path) -> None:
    with pytest.raises(EditError) as info:
        apply_blocks(repo, parse_blocks(replies.NOT_MATCHING))
    message = info.value.reason
    assert message.startswith("edit not applicable: SEARCH block did not match calc/ops.py")
    assert "closest lines 5-6:\n    total = sum(values)\n    return total / len(values)" in message
    with pytest.raises(EditError):
        apply_blocks(repo, parse_blocks(replies.RIGHT_FIX + "\n" + replies.NOT_MATCHING))
    assert (repo / "calc/ops.py").read_text() == OPS  # the first, good block was not applied


def test_malformed_block_is_refused() -> None:
    with pytest.raises(EditError, match="missing `>>>>>>> REPLACE`"):
        parse_blocks(replies.MALFORMED)
    with pytest.raises(EditError, match="no SEARCH/REPLACE block"):
        parse_blocks("I would change the division.")


@pytest.mark.parametrize(
    "path", ["../../outside/pwned.py", "/tmp/pwned.py", "calc/../../x.py", ".git/hooks/pre-commit"]
)
def test_paths_outside_the_repository_are_refused(repo: Path, path: str) -> None:
    reply = replies.OUTSIDE.replace("../../outside/pwned.py", path)
    with pytest.raises(EditOutsideRepo):
        apply_blocks(repo, parse_blocks(reply))
    assert not (repo.parent.parent / "outside").exists()


def test_symlink_out_of_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", repo / "link")
    reply = replies.OUTSIDE.replace("../../outside/pwned.py", "link/pwned.py")
    with pytest.raises(EditOutsideRepo):
        apply_blocks(repo, parse_blocks(reply))
    assert not (tmp_path / "elsewhere" / "pwned.py").exists()


def test_protected_file_may_not_change(repo: Path) -> None:
    with pytest.raises(EditError, match="reproduction test"):
        apply_blocks(repo, parse_blocks(replies.RIGHT_FIX), protected={"calc/ops.py"})


def test_empty_search_on_an_existing_file_is_refused(repo: Path) -> None:
    reply = replies.OUTSIDE.replace("../../outside/pwned.py", "calc/ops.py")
    with pytest.raises(EditError, match="already exists"):
        apply_blocks(repo, parse_blocks(reply))
