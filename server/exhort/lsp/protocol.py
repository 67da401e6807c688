"""pygls protocol tweaks: our own document store, answers to malformed messages, and the
order LSP puts messages in (initialize first, nothing after shutdown but exit)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging

from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .early import Handover, KnownParams

logger = logging.getLogger("exhort.lsp")

# JSON-RPC 2.0 and LSP error codes
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
SERVER_NOT_INITIALIZED = -32002


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

    initialize_received = False
    _initialize: dict | None = None  # the initialize request, until it is answered
    _answered_early: Handover | None = None  # ... when early.answer_initialize answered it

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

    @lsp_method(t.SHUTDOWN)
    def lsp_shutdown(self, *args):
        """pygls' shutdown, over a copy of the requests it cancels: a cancelled request leaves
        that dict at once, so a shutdown sent while a request waited (for a check, say) failed
        with "dictionary changed size during iteration", and exit then ended with 1."""
        if (user_handler := self.fm.features.get(t.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id  # this request's future is not cancelled
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    # -- what comes in: malformed messages and the lifecycle ----------------------------------

    def receive(self, data) -> None:
        """Handle one decoded message. Anything that is no valid JSON-RPC 2.0 message gets the
        error the specification names for it, and so does a request that comes out of turn:
        before initialize (-32002), a second initialize, or after shutdown (-32600).
        Notifications out of turn are dropped, except exit."""
        if not isinstance(data, dict):
            self.send_error(None, INVALID_REQUEST, "Invalid Request: a message is a JSON object")
            return
        has_id = "id" in data
        valid_id = has_id and _is_id(data["id"])
        echo = data["id"] if valid_id else None
        method = data.get("method")
        problem = None
        if data.get("jsonrpc") != "2.0":
            problem = 'Invalid Request: "jsonrpc" must be "2.0"'
        elif has_id and not valid_id:
            problem = "Invalid Request: an id is a string or an integer"
        elif "method" in data and not isinstance(method, str):
            problem = "Invalid Request: a method is a string"
        elif method is None and not (has_id and ("result" in data or "error" in data)):
            problem = "Invalid Request: neither a request, a notification nor a response"
        if problem is not None:
            logger.warning("%s: %.200r", problem, data)
            self.send_error(echo, INVALID_REQUEST, problem)
            return
        if method is not None and not self._in_turn(method, has_id, echo):
            return
        if method == t.INITIALIZE and has_id:
            self._initialize = data
        message = self.structure_message(data)
        if isinstance(message, _Ignored):
            if data is self._initialize:
                self._initialize = None  # answered with an error: invalid params
        else:
            self.handle_message(message)

    def _in_turn(self, method: str, is_request: bool, message_id) -> bool:
        if method == t.INITIALIZE and is_request:
            if self.initialize_received:
                self.send_error(message_id, INVALID_REQUEST, "Invalid Request: initialize was already received")
                return False
            self.initialize_received = True
            return True
        if method == t.EXIT:
            return True
        if not self.initialize_received:
            if is_request:
                self.send_error(message_id, SERVER_NOT_INITIALIZED, f"{method}: the server is not initialized yet")
            else:
                logger.info("dropped %s, sent before initialize", method)
            return False
        if self._shutdown:
            if is_request:
                self.send_error(message_id, INVALID_REQUEST, f"Invalid Request: {method} after shutdown")
            else:
                logger.info("dropped %s, sent after shutdown", method)
            return False
        return True

    # -- the answer to initialize ------------------------------------------------------------

    def take_over(self, handover: Handover) -> None:
        """Handle the initialize request that early.answer_initialize answered: as any other,
        except that its answer was sent already (see _send_response)."""
        logger.info("initialize was answered before the server was imported")
        self._answered_early = handover
        self.receive(handover.request)

    def _send_response(self, msg_id, result=None, error=None):
        initialize = self._initialize
        if initialize is None or msg_id != initialize["id"]:
            super()._send_response(msg_id, result, error)
            return
        self._initialize = None
        early, self._answered_early = self._answered_early, None
        if early is None:
            super()._send_response(msg_id, result, error)
        elif error is not None or self._as_json(result) != early.result:
            logger.error(
                "the answer to initialize sent before the server started differs from the server's: %s, not %s",
                json.dumps(early.result), error if error is not None else json.dumps(self._as_json(result)),
            )
        if error is None and isinstance(initialize.get("params"), dict):
            KnownParams().remember(initialize["params"])  # accepted: the next start answers early

    def _as_json(self, value):
        return json.loads(json.dumps(value, default=self._serialize_message))

    def structure_message(self, data):
        """A request whose params do not fit its method gets an error response (InvalidParams,
        or InternalError if structuring failed otherwise); pygls raises out of the read loop
        instead, so the client would wait forever.
        """
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                logger.warning("invalid params for %s (request %r)", data.get("method"), data.get("id"))
                response = error.to_response_error()
                self.send_error(data["id"], response.code, response.message)
                return _Ignored()
            raise

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

    def send_error(self, message_id, code: int, message: str) -> None:
        self._send_data({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}})


def _is_id(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
