"""The language server adapter (`exhort serve`): see server.main."""


def serve(argv: list[str]) -> int:
    """Answer initialize, import the server quickly, then run it.

    Wrong options end the process before anything is read. Over stdio, the first message is
    read, and answered when it is an initialize the server accepts, before the server is
    imported (see early): the editor need not wait for the import.

    Start-up is mostly importing lsprotocol (about 570 attrs classes): their generated methods
    come from a cache (see codecache), and the cyclic collector is off meanwhile, as the
    import only creates objects that live as long as the process (10 % of the import).
    """
    import gc
    import sys

    from .arguments import parse_arguments

    handover = None
    if not parse_arguments(argv).tcp:
        from .early import answer_initialize

        handover = answer_initialize(sys.stdin.buffer, sys.stdout.buffer)
    from .codecache import cached_attrs_methods

    gc.disable()
    try:
        with cached_attrs_methods():
            from .server import main
    finally:
        gc.enable()
    return main(argv, handover)
