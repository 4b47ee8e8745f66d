"""sslbench: benchmark self-supervised visual representation learning methods through plugins.

The plugin API in one import: ``from sslbench import hookimpl, MomentumMethod, DatasetSpec,
Protocol, Metric, ConfigError``. Names other than ``hookimpl`` load on first use, so importing
sslbench stays light (no torch).
"""

from __future__ import annotations

from .contract.hookspecs import hookimpl
from .lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    **dict.fromkeys(("Method", "load_presets"), "sslbench.method"),
    "MomentumMethod": "sslbench.engine.momentum_method",  # beside its learner; torch loads when it is built
    "SiameseMethod": "sslbench.engine.siamese_method",
    "NoParams": "sslbench.contract.params",
    **dict.fromkeys(("Protocol", "Metric"), "sslbench.contract.protocol"),
    "DatasetSpec": "sslbench.contract.dataset",
    **dict.fromkeys(("Range", "Check"), "sslbench.config"),  # declared field rules of Params dataclasses
    "registries": "sslbench.contract.loading",
    **dict.fromkeys(("SSLBenchError", "ConfigError", "DatasetError", "PluginError", "UnknownNameError",
                     "DuplicateNameError", "TrainingError", "StoreError"), "sslbench.contract.errors"),
}

__all__ = ["hookimpl", "__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
