"""The language server adapter (`exhort serve`): see server.main."""


def serve(argv: list[str]) -> int:
    """Import the server quickly, then run it.

    Start-up is mostly importing lsprotocol (about 570 attrs classes): their generated methods
    come from a cache (see codecache), and the cyclic collector is off meanwhile, as the
    import only creates objects that live as long as the process (10 % of the import).
    """
    import gc

    from .codecache import cached_attrs_methods

    gc.disable()
    try:
        with cached_attrs_methods():
            from .server import main
    finally:
        gc.enable()
    return main(argv)
