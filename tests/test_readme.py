"""The README's examples run as they stand, so they cannot rot."""

from __future__ import annotations

import os
import re
import shlex

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTION = README.split("<!-- examples:begin -->")[1].split("<!-- examples:end -->")[0]
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", SECTION, flags=re.S)
COMMANDS = [
    line
    for lang, body in BLOCKS
    if lang == "sh"
    for line in body.splitlines()
    if line.startswith(("rebalance ", "mkdir "))
]


def test_the_examples_section_has_commands():
    assert sum(c.startswith("rebalance ") for c in COMMANDS) >= 12


def test_the_config_shown_is_the_config_shipped():
    shown = [body for lang, body in BLOCKS if lang == "toml"]
    assert shown == [(REPO / "sample_data" / "rebalance.example.toml").read_text()]


def test_readme_examples_run(tmp_path, cli, monkeypatch):
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data")
    monkeypatch.chdir(tmp_path)
    for line in COMMANDS:
        words = shlex.split(line)
        if words[0] == "mkdir":
            for folder in words[2:]:
                os.makedirs(folder, exist_ok=True)
            continue
        res = cli(*words[1:])
        assert res.code == 0, f"{line}\n{res.stderr}"
        for flag in ("-o", "--report", "--test-output"):
            if flag in words and "{bag}" not in words[words.index(flag) + 1]:
                assert (tmp_path / words[words.index(flag) + 1]).exists(), line
    assert sorted(p.name for p in (tmp_path / "out" / "bags").iterdir()) == [
        f"train-{b}.csv" for b in range(1, 6)
    ]
