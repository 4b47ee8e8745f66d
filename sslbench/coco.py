"""Moved to :mod:`sslbench.image.coco`: this old path works, with a DeprecationWarning, for one release."""

from .deprecated import moved

moved(__name__, "sslbench.image.coco")
