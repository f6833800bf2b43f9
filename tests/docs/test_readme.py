"""The README's commands, run for real so that the README cannot rot.

Marking a block: a fenced ``bash``/``sh`` or ``python`` block whose previous non-blank line is the
HTML comment ``<!-- runnable -->`` (invisible when the Markdown is rendered) is run by this test.
Options follow a colon, separated by commas: ``<!-- runnable: timeout=180, slow -->``.
``timeout=SECONDS`` (default 120) bounds the whole block; ``slow`` marks it ``@pytest.mark.slow``
(run by ``make test-all``, not by ``make test``). Only mark commands that finish in well under a
minute on 2 CPU cores; for a slow command, add a small variant after it ("the same on 3 frames:")
and mark that.

How a block runs: bash blocks with ``bash -euo pipefail`` (any failing line fails the block);
python blocks with the interpreter that runs the tests. The working directory is a fresh temporary
folder holding symlinks to the repository's source folders (``tga_keras``, ``training``,
``export``, ``saved_models``, ``tests``) and ``.venv`` -> the environment running the tests, whose
``bin/`` also comes first on ``PATH``. So the commands read the repository as they would from its
root (``.venv/bin/tga``, ``saved_models/...``, ``python -m export``), while everything they write
(``demo_output/``, ``exported/``, ``out.mp4``) lands in the temporary folder and goes with it. A
marked block must therefore write only to new top-level paths, never inside a linked folder.

No silent zero: a block must reach its last line (a sentinel printed after it is checked), and
:func:`test_readme_marks_runnable_blocks` fails if the README has no marked block, if a marker is
not followed by a fenced block, or if a marker has an unknown option.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import subprocess
import sys

import pytest

from tests.helpers.paths import REPO

README = REPO / "README.md"
LINKED = ("tga_keras", "training", "export", "saved_models", "tests")
MARKER = re.compile(r"^\s*<!--\s*runnable(?::(?P<options>[^>]*?))?\s*-->\s*$")
FENCE = re.compile(r"^```\s*(?P<lang>[A-Za-z]*)\s*$")
LANGS = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
SENTINEL = "__README_BLOCK_RAN_TO_THE_END__"
DEFAULT_TIMEOUT = 120


@dataclasses.dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str  # "bash" or "python"
    code: str
    timeout: int = DEFAULT_TIMEOUT
    slow: bool = False

    @property
    def id(self) -> str:
        first = next(
            (ln.strip() for ln in self.code.splitlines() if ln.strip() and not ln.strip().startswith("#")), self.lang
        )
        words = re.sub(r"^\.venv/bin/", "", first).split()
        return f"L{self.line}-" + "-".join(w for w in words[:3] if re.fullmatch(r"[\w.:-]+", w))


def parse(text: str) -> tuple[list[Block], list[str]]:
    """The marked blocks of a Markdown text, and the problems found (a marker without a block, a bad option)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        marker_line = i + 1
        timeout, slow = DEFAULT_TIMEOUT, False
        for option in filter(None, (o.strip() for o in (m.group("options") or "").split(","))):
            key, _, value = option.partition("=")
            if key == "timeout" and value.isdigit() and int(value) > 0:
                timeout = int(value)
            elif option == "slow":
                slow = True
            else:
                problems.append(f"README.md:{marker_line}: unknown runnable option {option!r}")
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = FENCE.match(lines[j]) if j < len(lines) else None
        if fence is None or fence.group("lang").lower() not in LANGS:
            problems.append(f"README.md:{marker_line}: runnable marker not followed by a ```bash or ```python block")
            i = j
            continue
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        if k == len(lines):
            problems.append(f"README.md:{j + 1}: runnable block never closed")
            break
        code = "\n".join(lines[j + 1 : k])
        if not code.strip():
            problems.append(f"README.md:{j + 1}: empty runnable block")
        blocks.append(Block(j + 1, LANGS[fence.group("lang").lower()], code, timeout, slow))
        i = k + 1
    return blocks, problems


BLOCKS, PROBLEMS = parse(README.read_text(encoding="utf-8"))


def test_readme_marks_runnable_blocks():
    assert not PROBLEMS, "\n".join(PROBLEMS)
    assert len(BLOCKS) >= 3, f"README.md marks only {len(BLOCKS)} block(s) runnable"
    assert not [b for b in BLOCKS if b.timeout > 300], "a runnable block may take at most 300 s"


def test_parse_finds_markers_and_rejects_orphans():
    text = "\n".join(
        [
            "<!-- runnable -->",
            "```bash",
            "tga --help",
            "```",
            "<!-- runnable: timeout=30, slow -->",
            "",
            "```python",
            "print(1)",
            "```",
            "<!-- runnable -->",
            "plain text",
            "<!-- runnable: fast -->",
            "```bash",
            "true",
            "```",
            "```bash",
            "not marked",
            "```",
        ]
    )
    blocks, problems = parse(text)
    assert [(b.line, b.lang, b.code, b.timeout, b.slow) for b in blocks] == [
        (2, "bash", "tga --help", DEFAULT_TIMEOUT, False),
        (7, "python", "print(1)", 30, True),
        (13, "bash", "true", DEFAULT_TIMEOUT, False),
    ]
    assert len(problems) == 2
    assert "README.md:10: runnable marker not followed" in problems[0]
    assert "unknown runnable option 'fast'" in problems[1]


def _workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    env_root = pathlib.Path(sys.prefix)
    if not (env_root / "bin" / "tga").exists():
        pytest.skip(f"the README's commands need the `tga` script in {env_root}/bin: install the project (make setup)")
    work = tmp_path / "repo"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(REPO / name, target_is_directory=True)
    (work / ".venv").symlink_to(env_root, target_is_directory=True)
    return work


@pytest.mark.parametrize(
    "block", [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.slow else []) for b in BLOCKS]
)
def test_readme_block_runs(block: Block, tmp_path):
    work = _workdir(tmp_path)
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    if block.lang == "bash":
        cmd = ["bash", "-euo", "pipefail", "-c", f"{block.code}\necho {SENTINEL}"]
    else:
        script = tmp_path / "readme_block.py"
        script.write_text(f"{block.code}\nprint({SENTINEL!r})\n", encoding="utf-8")
        cmd = [sys.executable, str(script)]
    try:
        r = subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, timeout=block.timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        pytest.fail(
            f"README.md:{block.line}: block still running after {block.timeout} s "
            f"(raise its timeout=, or mark a smaller variant)\n{block.code}\n--- stderr\n{err[-3000:]}"
        )
    report = (
        f"README.md:{block.line}: exit {r.returncode}\n{block.code}\n"
        f"--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    )
    assert r.returncode == 0, report
    assert r.stdout.rstrip().endswith(SENTINEL), report
