"""Built-in protocols: kNN and linear probing."""

from __future__ import annotations

from sslbench import hookimpl
from sslbench.protocols.knn import KNN
from sslbench.protocols.linear import Linear


@hookimpl
def register_protocols(register):
    register(KNN)
    register(Linear)
