"""The language server adapter (`exhort serve`): see server.main."""
