"""pygls protocol tweaks: our own document store, and answers to malformed messages."""

from __future__ import annotations

import asyncio
import inspect
import logging

from lsprotocol import types as t
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

logger = logging.getLogger("exhort.lsp")


class _Ignored:
    """Stands in for a message that was already answered with an error: pygls drops it."""

    jsonrpc = "ignored"


class ExhortProtocol(LanguageServerProtocol):
    """LanguageServerProtocol without pygls' own text-document bookkeeping.

    pygls splits lines with str.splitlines() (form feeds and U+2028 misplace edits) and
    applies every change before our handler runs, so the per-change pre-edit state that
    incremental parsing needs is gone. The server keeps its own exhort.document.Document
    per URI instead; these overrides only forward to the registered handlers.
    """

    def _forward(self, method: str, params):
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(t.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: t.DidOpenTextDocumentParams):
        yield from self._forward(t.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(t.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: t.DidChangeTextDocumentParams):
        yield from self._forward(t.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(t.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: t.DidCloseTextDocumentParams):
        yield from self._forward(t.TEXT_DOCUMENT_DID_CLOSE, params)

    # -- malformed input ---------------------------------------------------------------------

    def structure_message(self, data):
        """A request whose params do not fit its method gets an InvalidParams response.

        pygls raises out of the read loop instead, so the client would wait forever.
        """
        try:
            return super().structure_message(data)
        except JsonRpcInvalidParams as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                logger.warning("invalid params for %s (request %r)", data.get("method"), data.get("id"))
                self._send_error(data["id"], error)
                return _Ignored()
            raise

    def handle_message(self, message):
        if isinstance(message, _Ignored):
            return
        if not hasattr(message, "jsonrpc"):  # a JSON value that is no JSON-RPC message at all
            message_id = message.get("id") if isinstance(message, dict) else None
            logger.warning("not a JSON-RPC 2.0 message: %.200r", message)
            self._send_error(message_id, JsonRpcInvalidRequest())
            return
        super().handle_message(message)

    def send_json_text(self, body: str) -> None:
        """Write a message already encoded as (ASCII) JSON, framed as _send_data frames it."""
        if self.writer is None:
            logger.error("no transport to send a message on")
            return
        if self._include_headers:
            body = f"Content-Length: {len(body)}\r\nContent-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n" + body
        try:
            result = self.writer.write(body.encode(self.CHARSET))
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)
        except BrokenPipeError:
            raise
        except Exception:
            logger.exception("sending a message failed")

    def _send_error(self, message_id, error) -> None:
        response = error.to_response_error()
        self._send_data(
            {
                "jsonrpc": "2.0",
                "id": message_id,
                "error": {"code": response.code, "message": response.message},
            }
        )
