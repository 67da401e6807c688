"""Which configuration, and so which engine, applies to a file: the nearest .exhort.toml
(the last valid one while the file is broken) with the editor's settings on top."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

from ..baseline import BASELINED_SHOWN, Baseline, BaselineError
from ..config import Config, ConfigError, find_config_file, load_config
from ..engine import Engine
from ..findings import Severity
from ..registry import default_registry
from . import convert

logger = logging.getLogger("exhort.lsp")


class Configurations:
    """Engines per config file. `on_config_loaded(path)` is called (from any thread) after
    a config file was read, so that its errors can be shown."""

    def __init__(self, on_config_loaded: Callable[[str], None]) -> None:
        self.folders: list[Path] = []
        self.settings: dict[str, Any] = {}
        self._on_config_loaded = on_config_loaded
        self._lock = threading.RLock()  # the loop, the warm-up and the background check ask
        self._engines: dict[str | None, Engine] = {}
        self._configs: dict[str, Config] = {}  # config file -> last good config
        self._errors: dict[str, ConfigError] = {}
        self._file_of_dir: dict[str, str | None] = {}
        # The baseline file the settings name: (path, mtime, size) -> loaded baseline or None.
        self._baseline: tuple[tuple[str, float, int] | None, Baseline | None] = (None, None)

    def config_file_for(self, path: str) -> str | None:
        if "://" in path or path.startswith("untitled:"):
            folder = str(self.folders[0]) if self.folders else None
        else:
            folder = str(Path(path).parent)
        if folder is None:
            return None
        with self._lock:
            if folder not in self._file_of_dir:
                found = find_config_file(Path(folder)) if Path(folder).exists() else None
                self._file_of_dir[folder] = str(found) if found else None
            return self._file_of_dir[folder]

    def load(self, config_path: str) -> Config:
        """The config in `config_path`; when broken, the last good one (or the defaults)."""
        with self._lock:
            try:
                config = load_config(Path(config_path), default_registry())
            except ConfigError as error:
                logger.warning("%s", error)
                self._errors[config_path] = error
                return self._configs.get(config_path, Config(root=str(Path(config_path).parent)))
            self._errors.pop(config_path, None)
            self._configs[config_path] = config
            return config

    def engine_for(self, path: str) -> Engine:
        config_path = self.config_file_for(path)
        with self._lock:
            engine = self._engines.get(config_path)
            if engine is not None:
                return engine
            if config_path is None:
                base = Config()
            elif config_path in self._configs:
                base = self._configs[config_path]
            else:
                base = self.load(config_path)
                self._on_config_loaded(config_path)
            engine = Engine(self._with_settings(base), default_registry())
            self._engines[config_path] = engine
            return engine

    def exclusion_config_for(self, folder: Path) -> Config:
        config_path = self.config_file_for(str(folder / "x.ex"))
        if config_path is None:
            return Config(root=str(self.folders[0]) if self.folders else None)
        with self._lock:
            return self._configs.get(config_path) or self.load(config_path)

    def _with_settings(self, config: Config) -> Config:
        settings = self.settings
        severity: dict[str, Severity] = {}
        for code, value in (settings.get("severity") or {}).items():
            try:
                severity[str(code).upper()] = Severity.parse(str(value))
            except ValueError as error:
                logger.warning("editor setting severity.%s: %s", code, error)
        return config.with_overrides(
            select=settings.get("select"),
            ignore=settings.get("ignore"),
            severity=severity or None,
        )

    def baseline(self) -> tuple[Baseline, str, str] | None:
        """(baseline, its folder, how accepted findings show) when the settings name a baseline
        file (`"baseline": "exhort-baseline.json"`, relative to the first workspace folder),
        re-read when the file changes; None without one or when it cannot be read (logged)."""
        name = self.settings.get("baseline")
        if not name:
            return None
        path = Path(name)
        if not path.is_absolute() and self.folders:
            path = self.folders[0] / path
        try:
            stat = path.stat()
        except OSError:
            self._log_baseline_once(path, "not found")
            return None
        key = (str(path), stat.st_mtime, stat.st_size)
        with self._lock:
            if self._baseline[0] != key:
                try:
                    loaded: Baseline | None = Baseline.load(path)
                except (BaselineError, OSError) as error:
                    logger.warning("baseline %s cannot be read: %s", path, error)
                    loaded = None
                self._baseline = (key, loaded)
            baseline = self._baseline[1]
        if baseline is None:
            return None
        return baseline, str(path.resolve().parent), self.settings.get("baselineFindings", "hint")

    def _log_baseline_once(self, path: Path, why: str) -> None:
        if self._baseline[0] != (str(path), 0.0, -1):
            logger.warning("baseline %s: %s; every finding is shown as new", path, why)
            self._baseline = ((str(path), 0.0, -1), None)

    def set_settings(self, raw: Any) -> bool:
        """Take the editor's settings; True if they changed (the engines are then rebuilt)."""
        settings = read_settings(raw)
        if settings == self.settings:
            return False
        self.settings = settings
        self.reset()
        return True

    def reset(self) -> None:
        with self._lock:
            self._engines.clear()

    def file_changed(self, config_path: str) -> None:
        with self._lock:
            self._file_of_dir.clear()  # a file may have appeared or disappeared
            if Path(config_path).is_file():
                self.load(config_path)
            else:
                self._configs.pop(config_path, None)
                self._errors.pop(config_path, None)
            self._engines.clear()

    def diagnostics(self, config_path: str) -> list[dict]:
        error = self._errors.get(config_path)
        if error is None:
            return []
        line = max((error.line or 1) - 1, 0)
        return [
            {
                "range": {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}},
                "severity": int(Severity.ERROR),
                "source": convert.SOURCE,
                "message": f"{error.message} (the last valid configuration stays in force)",
            }
        ]


def read_settings(raw: Any) -> dict[str, Any]:
    """Editor settings: {"select": [...], "ignore": [...], "severity": {...}}, maybe under "exhort"."""
    if not isinstance(raw, dict):
        return {}
    if isinstance(raw.get("exhort"), dict):
        raw = raw["exhort"]
    settings: dict[str, Any] = {}
    for key in ("select", "ignore"):
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            settings[key] = tuple(value)
        else:
            logger.warning("editor setting %r must be a list of rule codes; ignored", key)
    severity = raw.get("severity")
    if isinstance(severity, dict):
        settings["severity"] = {str(k): str(v) for k, v in severity.items()}
    elif severity is not None:
        logger.warning("editor setting 'severity' must map rule codes to severities; ignored")
    baseline = raw.get("baseline")
    if isinstance(baseline, str) and baseline:
        settings["baseline"] = baseline
    elif baseline is not None:
        logger.warning("editor setting 'baseline' must be the path of a baseline file; ignored")
    show = raw.get("baselineFindings")
    if show in BASELINED_SHOWN:
        settings["baselineFindings"] = show
    elif show is not None:
        logger.warning("editor setting 'baselineFindings' must be one of %s; ignored", ", ".join(BASELINED_SHOWN))
    return settings
