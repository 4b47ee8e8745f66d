"""Moved to :mod:`sslbench.contract.augmentations`: this old path works, with a DeprecationWarning, for one release."""

from .deprecated import moved

moved(__name__, "sslbench.contract.augmentations")
