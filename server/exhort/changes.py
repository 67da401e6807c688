"""The lines a change touches, from git: what `exhort check --diff-base REF` reports on.

The change is everything between the merge-base of REF and HEAD and the files on disk now:
commits on the branch, staged and unstaged edits, and untracked files (every line new). A
hunk that only deletes lines marks the lines on both sides of the cut, where a finding can
appear because of what went away (a catch-all clause removed under a `def`).
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
WHOLE_FILE = None  # in ChangedLines.files: every line of the file is new


class GitError(Exception):
    pass


@dataclass
class ChangedLines:
    base: str  # the merge-base commit
    files: dict[str, set[int] | None] = field(default_factory=dict)  # absolute path -> 1-based lines

    def file_changed(self, path: str) -> bool:
        return path in self.files

    def touches(self, path: str, first_line: int, last_line: int) -> bool:
        if path not in self.files:
            return False
        lines = self.files[path]
        return lines is WHOLE_FILE or any(line in lines for line in range(first_line, last_line + 1))


def changed_lines(ref: str, folder: str) -> ChangedLines:
    """The lines changed since the merge-base of `ref` and HEAD, for the checkout at `folder`."""
    top = _git(folder, "rev-parse", "--show-toplevel", error=f"{folder} is not inside a git checkout").strip()
    _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", error=f"unknown revision {ref!r}")
    base = _git(top, "merge-base", ref, "HEAD", error=f"{ref!r} and HEAD have no common ancestor").strip()
    changes = ChangedLines(base)
    diff = _git(top, "-c", "core.quotepath=off", "diff", "--no-color", "--no-ext-diff", "--unified=0",
                "--find-renames", "--diff-filter=d", base, "--", error="git diff failed")
    current: set[int] | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = _unquote(line[4:])
            current = None
            if name != "/dev/null":
                current = changes.files.setdefault(os.path.join(top, name[2:] if name.startswith("b/") else name),
                                                   set())
        elif line.startswith("@@") and current is not None:
            match = _HUNK.match(line)
            if match is None:
                continue
            start, count = int(match.group(1)), int(match.group(2) if match.group(2) is not None else 1)
            if count == 0:  # only deletions: the lines around the cut
                current.update({start, start + 1})
            else:
                current.update(range(start, start + count))
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z", error="git ls-files failed")
    for name in untracked.split("\0"):
        if name:
            changes.files[os.path.join(top, name)] = WHOLE_FILE
    # git names files from the checkout's root as it sees it; compare real paths
    changes.files = {os.path.realpath(path): lines for path, lines in changes.files.items()}
    return changes


def _git(folder: str, *args: str, error: str) -> str:
    try:
        result = subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True,
                                encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise GitError(error + (f" (git: {detail[0]})" if detail else ""))
    return result.stdout


def _unquote(name: str) -> str:
    """git quotes names holding control characters, quotes or backslashes C-style."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        raw = codecs.escape_decode(name[1:-1].encode("utf-8", errors="surrogateescape"))[0]
        return raw.decode("utf-8", errors="surrogateescape")
    return name
