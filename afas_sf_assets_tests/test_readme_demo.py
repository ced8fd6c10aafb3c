"""README's demo output is copied from a real run: every line it shows (run ids aside, abridged lines
marked with …) appears, in that order, in what `afas-sf demo` prints on a fresh machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_ID = re.compile(r"\(Dagster run [0-9a-f-]+…?\)")


def readme_demo_lines() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## What `make demo` shows", 1)[1]
    block = section.split("```", 2)[1]
    lines = [RUN_ID.sub("(Dagster run)", line) for line in block.strip("\n").splitlines()]
    return [line for line in lines if "…" not in line]


def test_readme_shows_what_the_demo_prints(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "afas-sf"), "demo", "--dir", str(tmp_path / "sandbox")],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    printed = [RUN_ID.sub("(Dagster run)", line) for line in done.stdout.splitlines()]
    position = 0
    for line in readme_demo_lines():
        assert line in printed[position:], f"README shows a line the demo does not print:\n{line}\n\n{done.stdout}"
        position = printed.index(line, position) + 1
