"""The language server adapter (`exhort serve`): see server.main."""


def serve(argv: list[str]) -> int:
    """Import the server with attrs' generated methods cached (start-up time), then run it."""
    from .codecache import cached_attrs_methods

    with cached_attrs_methods():
        from .server import main
    return main(argv)
