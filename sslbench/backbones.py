"""Moved to :mod:`sslbench.image.backbones`: this old path works, with a DeprecationWarning, for one release."""

from .deprecated import moved

moved(__name__, "sslbench.image.backbones")
