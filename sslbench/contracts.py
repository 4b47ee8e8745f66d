"""Moved to :mod:`sslbench.engine.plugin_checks`: this old path works, with a DeprecationWarning, for one release."""

from .deprecated import moved

moved(__name__, "sslbench.engine.plugin_checks")
