"""The image input pipeline: torchvision's crop rule, fast JPEG decoding, crops cut in the loader
workers (crop before resize), the evaluation view, and batched GPU decoding.

- :mod:`sslbench.image.readers`: the image datasets' readers (digits, CIFAR, STL-10,
  Tiny-ImageNet, ImageFolder, ImageNet100, ImageNet);
- :mod:`sslbench.image.crops`: the random resized crop box (torchvision's rule) and the crop
  itself, for one decoded image (loader workers) or a batch of tensors (on the device);
- :mod:`sslbench.image.decode`: file bytes to uint8 tensors (libjpeg-turbo through
  ``torchvision.io``, reduced-size JPEG decoding through PIL's draft mode);
- :mod:`sslbench.image.views`: the datasets the engine reads for training and evaluation views;
- :mod:`sslbench.image.gpu`: ``data.decode=cuda``, JPEG bytes decoded in batches on the GPU.
"""

from ..contract.augmentations import CROP_PIPELINE as PIPELINE  # the crop rule's name in pretraining identities

__all__ = ["PIPELINE"]
