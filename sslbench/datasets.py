"""Moved to :mod:`sslbench.image.readers` (the folder helpers it shared with video readers to
:mod:`sslbench.folders`, re-exported there): this old path works, with a DeprecationWarning, for one release."""

from .deprecated import moved

moved(__name__, "sslbench.image.readers")
