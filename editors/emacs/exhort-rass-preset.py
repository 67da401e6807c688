"""A rassumfrassum preset shipped with exhort.el: `rass PRESET -- MAIN-SERVER... -- exhort serve`.

The servers come from the command line; the preset only makes rass wait longer for their
answers to `initialize`. rass answers the editor once every server has replied or after
3 s, and a server whose reply comes later is left out for the whole session: rass never
learns its capabilities, so it never asks it for code actions. A first start on a busy
machine (Exhort importing its rules, the main server reading the project) can take longer.
"""

from rassumfrassum.frassum import LspLogic

INITIALIZE_TIMEOUT_MS = 30_000  # as long as Eglot's own eglot-connect-timeout (30 s)


class ExhortLogic(LspLogic):
    def get_aggregation_timeout_ms(self, method):
        if method == "initialize":
            return INITIALIZE_TIMEOUT_MS
        return super().get_aggregation_timeout_ms(method)


def logic_class():
    return ExhortLogic
