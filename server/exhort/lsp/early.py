"""The answer to `initialize`, given before the server is imported.

Importing the server (pygls, lsprotocol's 570 attrs classes, cattrs, the engine) takes most
of a start: half a second on an idle 2-core machine, over a second on a busy one, and the
editor waits for initialize's answer before it sends anything. That answer depends on two
things only: the position encoding the client prefers and whether it pulls diagnostics. So
the first message is read here, with the standard library, and when it is an initialize
request the server is known to accept, it is answered at once; the server is imported after,
handles the same request as it always does (its own answer is compared with the one sent,
then dropped), and reads on from where this left off.

"Known to accept": the server answers invalid initialize params with an error, and only it
can tell (cattrs and lsprotocol decide). The params of each initialize it accepted are
remembered (a digest, kept in the user's cache folder), leaving out what changes from one
start to the next (process id, folders, initialization options) when it has its usual
shape; an initialize whose params were never accepted before goes to the server unanswered.
A client's capabilities are the same on every start, so from its second start on, it is
answered here. Anything else (another first message, a malformed one, stdin that is not a
pipe) is handed over untouched: the server reads it as if nothing had happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from typing import BinaryIO

from .. import __version__
from .framing import decode, read_body

SERVER_NAME = "exhort"
COMMANDS = ("exhort.debug.document", "exhort.debug.checked", "exhort.debug.index", "exhort.debug.facts")
FIX_ALL_KIND = "source.fixAll.exhort"
ENCODINGS = ("utf-8", "utf-16", "utf-32")  # pygls' order of preference is the client's
TEXT_DOCUMENT_SYNC_INCREMENTAL = 2
HEADER = "Content-Length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
READ_CHUNK_BYTES = 1 << 16
LONGEST_LINE_BYTES = 1 << 20  # the server's reader limit: a longer line is left to it
KNOWN_PARAMS_KEPT = 64


class Handover:
    """What the server takes over: the bytes read from stdin and not consumed (it reads them
    first), and the initialize request answered here with the result sent, if any."""

    def __init__(self, unread: bytes, request: dict | None = None, result: dict | None = None) -> None:
        self.unread = unread
        self.request = request
        self.result = result


def readable_in_loop(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Is stdin a pipe of its own? The loop makes the descriptor non-blocking, which must not
    reach stdout: a terminal or socket used for both directions is left to pygls' reader."""
    try:
        into, out = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(into.st_mode) and (into.st_dev, into.st_ino) != (out.st_dev, out.st_ino)


# -- the answer ---------------------------------------------------------------------------------


def initialize_result(params: dict) -> dict:
    """What the server answers to initialize with these (accepted) params: pygls' capabilities
    for the features server.py registers (tests/lsp/test_early_initialize.py compares them)."""
    capabilities = params.get("capabilities") or {}
    text_document = capabilities.get("textDocument") or {}
    synchronization = text_document.get("synchronization") or {}
    sync: dict = {"openClose": True, "change": TEXT_DOCUMENT_SYNC_INCREMENTAL}
    # pygls says "no" to will-save only to a client that said anything about it.
    for option in ("willSave", "willSaveWaitUntil"):
        if synchronization.get(option) is not None:
            sync[option] = False
    sync["save"] = True
    result: dict = {
        "positionEncoding": position_encoding(capabilities),
        "textDocumentSync": sync,
        "hoverProvider": True,
        "codeActionProvider": {"codeActionKinds": ["quickfix", FIX_ALL_KIND]},
        "executeCommandProvider": {"commands": list(COMMANDS)},
    }
    if text_document.get("diagnostic") is not None:  # the client pulls diagnostics
        result["diagnosticProvider"] = {"interFileDependencies": True, "workspaceDiagnostics": False, "identifier": "exhort"}
    result["workspace"] = {"workspaceFolders": {"supported": True, "changeNotifications": True}, "fileOperations": {}}
    return {"capabilities": result, "serverInfo": {"name": SERVER_NAME, "version": __version__}}


def position_encoding(capabilities: dict) -> str:
    """The first of the client's position encodings the server supports; else utf-16."""
    for encoding in (capabilities.get("general") or {}).get("positionEncodings") or ():
        if encoding in ENCODINGS:
            return encoding
    return "utf-16"


# -- the params the server accepted -------------------------------------------------------------


def _is_folders(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(folder, dict) and folder.keys() == {"uri", "name"} and all(type(v) is str for v in folder.values())
        for folder in value
    )


# Params that differ between starts, and the shape in which they never make the params invalid.
_PER_START = {
    "processId": lambda value: value is None or type(value) is int,
    "rootUri": lambda value: value is None or type(value) is str,
    "rootPath": lambda value: value is None or type(value) is str,
    "workspaceFolders": lambda value: value is None or _is_folders(value),
    "initializationOptions": lambda value: value is None or isinstance(value, dict),
    "workDoneToken": lambda value: type(value) in (int, str),
}


def params_digest(params: dict) -> str:
    """The params with the per-start ones reduced to their names when they have their usual
    shape (any other value stays, and is part of what was accepted)."""
    shaped = {
        key: f"<{key}>" if key in _PER_START and _PER_START[key](value) else value
        for key, value in params.items()
    }
    text = json.dumps(shaped, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _cache_folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "exhort")


def _deciders_stamp() -> str:
    """Exhort's version and the files of the code that decides whether params are accepted
    (lsprotocol's types, cattrs, pygls' and our protocol): an upgrade of any starts afresh."""
    import importlib.util  # already imported by the interpreter's start: no cost

    parts = [__version__, sys.version, os.path.join(os.path.dirname(__file__), "protocol.py")]
    for package, module in (("lsprotocol", "types.py"), ("cattrs", "converters.py"), ("pygls", "protocol/json_rpc.py")):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        parts.append(os.path.join(locations[0], module) if locations else package)
    stamps = []
    for part in parts:
        try:
            info = os.stat(part)
            stamps.append(f"{part}\0{info.st_size}\0{info.st_mtime_ns}")
        except OSError:
            stamps.append(part)
    return hashlib.blake2b("\n".join(stamps).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


class KnownParams:
    """The digests of initialize params the server accepted, in the user's cache folder."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(_cache_folder(), f"initialize-params-{_deciders_stamp()}.json")

    def load(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8") as stream:
                digests = json.load(stream)
        except (OSError, ValueError):
            return []
        return [digest for digest in digests if isinstance(digest, str)] if isinstance(digests, list) else []

    def __contains__(self, params: dict) -> bool:
        return params_digest(params) in self.load()

    def remember(self, params: dict) -> None:
        """Note that the server accepted these params (a start that failed to read or write
        the file only loses the early answer of the next start)."""
        digest = params_digest(params)
        known = self.load()
        if digest in known:
            return
        known = [*known, digest][-KNOWN_PARAMS_KEPT:]
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            temporary = f"{self.path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(known, stream)
            os.replace(temporary, self.path)  # atomic: a concurrent start reads the old or the new list
        except OSError:
            pass


# -- reading the first message -------------------------------------------------------------------


class _GiveUp(Exception):
    """Something the server's own reader handles its own way: leave it to the server."""


class _PipeReader:
    """Blocking reads of stdin's descriptor, kept: what is not consumed goes to the server.
    Its methods are coroutines that never suspend, so that framing.read_body reads with it."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self.data = bytearray()
        self.position = 0
        self._ended = False

    def _fill(self) -> bool:
        if self._ended:
            return False
        try:
            chunk = os.read(self._descriptor, READ_CHUNK_BYTES)
        except InterruptedError:
            return True
        except OSError as error:
            raise _GiveUp from error
        if not chunk:
            self._ended = True
            return False
        self.data += chunk
        return True

    async def readline(self) -> bytes:
        while (end := self.data.find(b"\n", self.position)) < 0:
            if len(self.data) - self.position > LONGEST_LINE_BYTES or not self._fill():
                raise _GiveUp
        line = bytes(self.data[self.position : end + 1])
        self.position = end + 1
        return line

    async def readexactly(self, count: int) -> bytes:
        while len(self.data) - self.position < count:
            if not self._fill():
                raise _GiveUp
        body = bytes(self.data[self.position : self.position + count])
        self.position += count
        return body


def _run(coroutine):
    """The value of a coroutine that never suspends."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise _GiveUp


def _answerable(data, known: KnownParams) -> bool:
    if not (isinstance(data, dict) and data.get("jsonrpc") == "2.0" and data.get("method") == "initialize"):
        return False
    message_id = data.get("id")
    if not (isinstance(message_id, str) or (isinstance(message_id, int) and not isinstance(message_id, bool))):
        return False
    params = data.get("params")
    return isinstance(params, dict) and params in known


def answer_initialize(stdin: BinaryIO, stdout: BinaryIO, known: KnownParams | None = None) -> Handover | None:
    """Read the first message and answer it if it is an initialize the server accepts (see the
    module's docstring). None when stdin is no pipe of its own: nothing was read."""
    if not readable_in_loop(stdin, stdout):
        return None
    reader = _PipeReader(stdin.fileno())
    try:
        body = _run(read_body(reader))
        data = decode(body) if body is not None else None
    except (_GiveUp, ValueError):
        return Handover(bytes(reader.data))
    if not _answerable(data, known or KnownParams()):
        return Handover(bytes(reader.data))
    result = initialize_result(data["params"])
    text = json.dumps({"id": data["id"], "jsonrpc": "2.0", "result": result})
    try:
        stdout.write((HEADER.format(len(text)) + text).encode("utf-8"))
        stdout.flush()
    except OSError:
        return Handover(bytes(reader.data))  # the server meets the same broken pipe, its way
    return Handover(bytes(reader.data[reader.position :]), data, result)
