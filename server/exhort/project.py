"""Where a file sits inside its Mix project, judged from its path alone.

Path-aware rules ask questions such as "is this under test/?" relative to the nearest Mix
project (the folder holding mix.exs; each umbrella app under apps/* is a project of its own),
so the answers hold wherever the project sits on disk. The adapters find the root on disk
(see exhort.files.find_project_root); this module only interprets the relative path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath


@dataclass(frozen=True)
class ProjectPath:
    """A file's path relative to its Mix project root, with POSIX separators."""

    relative: str

    @classmethod
    def of(cls, path: str, root: str | None) -> "ProjectPath":
        posix = path.replace("\\", "/")
        if root:
            root_posix = root.replace("\\", "/").rstrip("/") + "/"
            if posix.startswith(root_posix):
                return cls(posix[len(root_posix) :])
            return cls(posix)
        return cls(_guess_relative(posix))

    @cached_property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.relative).parts

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def top(self) -> str:
        parts = self.parts
        return parts[0] if len(parts) > 1 else ""

    @property
    def is_test(self) -> bool:
        return self.top == "test"

    @property
    def is_lib(self) -> bool:
        return self.top == "lib"

    @property
    def is_config(self) -> bool:
        return self.top == "config" and self.relative.endswith(".exs")

    @property
    def is_runtime_config(self) -> bool:
        return self.relative == "config/runtime.exs"

    @property
    def is_migration(self) -> bool:
        parts = self.parts
        return (
            len(parts) >= 4
            and parts[0] == "priv"
            and parts[-2] == "migrations"
            and self.relative.endswith(".exs")
        )

    @property
    def is_seeds(self) -> bool:
        return self.parts[:1] == ("priv",) and self.name == "seeds.exs"

    @property
    def is_mix_task(self) -> bool:
        return self.relative.startswith("lib/mix/tasks/")

    @property
    def is_script(self) -> bool:
        """An .exs file that is not configuration (mix.exs, seeds, ad-hoc scripts, tests)."""
        return self.relative.endswith(".exs") and not self.is_config

    @property
    def is_production_code(self) -> bool:
        """Catalog 0.4.4: test/, scripts other than config/*.exs, seeds and Mix tasks are not."""
        return not (self.is_test or self.is_script or self.is_seeds or self.is_mix_task)


_ANCHORS = ("lib", "test", "config", "priv")


def _guess_relative(posix: str) -> str:
    """Without a known root, start the path at its last top-level Mix folder (lib/, test/, ...)."""
    parts = PurePosixPath(posix).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in _ANCHORS:
            return "/".join(parts[index:])
    return posix.lstrip("/")
