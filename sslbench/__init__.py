"""sslbench: benchmark self-supervised visual representation learning methods through plugins."""

from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["hookimpl", "__version__"]
