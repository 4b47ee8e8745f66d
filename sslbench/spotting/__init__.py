"""Action spotting (SoccerNet-v2): the t-AmAP evaluator and synthetic label/prediction files.

:func:`evaluate_spotting` (parsed JSON) and :func:`evaluate_folders` (a labels and a predictions
folder) give the numbers of the official SoccerNet evaluator; see :mod:`sslbench.spotting.tamap`.
"""

from .tamap import CLASSES, TOLERANCES, evaluate_folders, evaluate_spotting

__all__ = ["CLASSES", "TOLERANCES", "evaluate_folders", "evaluate_spotting"]
