"""What the client has been shown, and what it is still owed.

Push clients get a publishDiagnostics after every check whose (version, diagnostics)
differ from the last ones sent for that document: once per version where nothing changed,
and never skipped, whoever asked for the check. Pull clients get a result id that changes
with the diagnostics; when a check changes what a client already pulled for the current
version (the whole-document rules after a pause, new workspace facts), it is asked to pull
again (workspace/diagnostic/refresh) if it can be.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from lsprotocol import types as t

from .documents import OpenDocument

logger = logging.getLogger("exhort.lsp")


class Publisher:
    def __init__(self, send_json_text: Callable[[str], None], send_refresh: Callable[[], None]) -> None:
        self._send_json_text = send_json_text
        self._send_refresh = send_refresh
        self.pull_mode = False
        self.refresh_support = False
        self._sent: dict[str, tuple[int | None, list[str]]] = {}  # uri -> last pushed (version, diagnostics)
        self._pulled: dict[str, tuple[int | None, str]] = {}  # uri -> last pulled (version, result id)
        self._refresh_planned = False

    # -- after each check ---------------------------------------------------------------------

    def checked(self, item: OpenDocument) -> None:
        if not self.pull_mode:
            self.push(item.uri, item.version, item.diagnostic_texts)
            return
        pulled = self._pulled.get(item.uri)
        if pulled is not None and pulled[0] == item.version and pulled[1] != item.result_id:
            self.request_refresh()

    def pulled(self, item: OpenDocument) -> None:
        self._pulled[item.uri] = (item.version, item.result_id)

    def closed(self, uri: str) -> None:
        self._pulled.pop(uri, None)
        if not self.pull_mode:
            self.push(uri, None, [])
        self._sent.pop(uri, None)

    # -- sending ------------------------------------------------------------------------------

    def push(self, uri: str, version: int | None, texts: list[str]) -> None:
        """publishDiagnostics from diagnostics already encoded as JSON (see DiagnosticsCache),
        unless exactly these were the last ones sent for `uri`."""
        if self._sent.get(uri) == (version, texts):
            return
        self._sent[uri] = (version, texts)
        head = {"uri": uri, "version": version} if version is not None else {"uri": uri}
        params = json.dumps(head)[:-1] + ', "diagnostics": [' + ", ".join(texts) + "]}"
        self._send_json_text(
            '{"jsonrpc": "2.0", "method": "' + t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS + '", "params": ' + params + "}"
        )

    def push_dicts(self, uri: str, version: int | None, diagnostics: list[dict]) -> None:
        self.push(uri, version, [json.dumps(item) for item in diagnostics])

    def request_refresh(self) -> None:
        """Ask a pull client to pull again, once for all the checks that end in this turn."""
        if not (self.pull_mode and self.refresh_support) or self._refresh_planned:
            return
        self._refresh_planned = True

        def send() -> None:
            self._refresh_planned = False
            try:
                self._send_refresh()
            except Exception:
                logger.debug("diagnostic refresh failed", exc_info=True)

        asyncio.get_running_loop().call_soon(send)
