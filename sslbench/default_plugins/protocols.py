"""Built-in protocols: kNN, linear probing (SGD / L-BFGS), finetuning, retrieval, low-shot SVMs,
detection."""

from __future__ import annotations

from sslbench import hookimpl
from sslbench.protocols.detection import Detection
from sslbench.protocols.finetune import Finetune
from sslbench.protocols.knn import KNN
from sslbench.protocols.linear import Linear
from sslbench.protocols.lowshot import LowShot
from sslbench.protocols.retrieval import Retrieval


@hookimpl
def register_protocols(register):
    register(KNN)
    register(Linear)
    register(Finetune)
    register(Retrieval)
    register(LowShot)
    register(Detection)
