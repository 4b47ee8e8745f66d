"""Moved to :mod:`sslbench.contract.protocol`: this old path works, with a DeprecationWarning, for one release."""

from .deprecated import moved

moved(__name__, "sslbench.contract.protocol")
