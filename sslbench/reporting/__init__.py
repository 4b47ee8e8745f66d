"""Reporting: tables, plots, comparison grids and result exchange, all generated from the store.

``records`` (tidy rows, config keys, filters) -> ``tables`` (pure DataFrame functions) ->
``captions`` (what a table compares) -> ``render`` (markdown / LaTeX / CSV / HTML); ``plots``
(matplotlib figures); ``grid`` (the ``compare`` runner); ``exchange`` (export / import between stores).
"""
