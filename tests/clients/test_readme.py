"""The README shows the clients of docs/clients/ byte for byte, so what a reader copies from it is
what the other tests here run."""

from __future__ import annotations

import re

from tests.clients.conftest import CLIENTS
from tests.stack import ROOT

SHOWN = re.compile(
    r"<summary><code>(docs/clients/[^<]+)</code>.*?</summary>\n\n```\w+\n(.*?)```\n", re.DOTALL
)


def test_readme_code_blocks_are_the_client_files() -> None:
    shown = SHOWN.findall((ROOT / "README.md").read_text())
    assert shown, "no client code blocks found in the README"
    for path, text in shown:
        assert text == (ROOT / path).read_text(), f"the README's copy of {path} differs"
    shipped = {
        str(path.relative_to(ROOT))
        for path in CLIENTS.rglob("*")
        if path.suffix in (".py", ".ts", ".dart")
    }
    assert sorted(path for path, _ in shown) == sorted(shipped)
