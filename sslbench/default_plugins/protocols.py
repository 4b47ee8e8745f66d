"""Built-in protocols: kNN, linear probing (SGD / L-BFGS), finetuning, retrieval, low-shot SVMs,
detection."""

from __future__ import annotations

from sslbench import hookimpl


@hookimpl
def register_protocols(register):
    # imported here, not with this module: `sslbench --help` loads every plugin module (numpy: 0.3 s)
    from sslbench.protocols.detection import Detection
    from sslbench.protocols.finetune import Finetune
    from sslbench.protocols.knn import KNN
    from sslbench.protocols.linear import Linear
    from sslbench.protocols.lowshot import LowShot
    from sslbench.protocols.retrieval import Retrieval

    register(KNN)
    register(Linear)
    register(Finetune)
    register(Retrieval)
    register(LowShot)
    register(Detection)
