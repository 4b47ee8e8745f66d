"""The plugin contract: everything a plugin implements or receives, and how plugins are loaded.

- :mod:`.hookspecs`: every hook a plugin can implement (``register_methods`` ...), on one screen;
- :mod:`.loading`: default and entry-point plugins, ``SSLBENCH_LOAD_PLUGINS``, the filled registries;
- :mod:`.registry`: typed name -> object registries (duplicates raise, unknown names suggest);
- :mod:`.protocol`: ``Protocol`` and ``Metric``; :mod:`.params`: ``NoParams``;
- :mod:`.modality`: what the engine asks of a modality (images, videos), looked up by name;
- :mod:`.errors`: the one-line user errors (``SSLBenchError`` and its kinds).

Everything else in sslbench may import this package, and it imports nothing heavy (no torch,
numpy, pandas or scikit-learn, not even inside functions): ``sslbench list`` and plugin discovery
stay fast. ``pyproject.toml``'s import-linter contracts keep it so (docs/design.md).
"""
