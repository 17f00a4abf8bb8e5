"""Deep learning from the user's own annotations: U-Net, SegNet and DeepLab, trained and applied
inside napari or from the command line.

* :mod:`.models`: the networks and their :class:`NetConfig`;
* :mod:`.targets`: label images -> training targets, and network outputs -> label images;
* :mod:`.data`: normalisation, random patches with augmentation, the validation split;
* :mod:`.train`: the training loop (Dice + cross-entropy, early stopping, cancel);
* :mod:`.predict`: tiled inference with overlap blending;
* :mod:`.store`: save / load (state_dict + JSON, SHA-256 checked, ``weights_only=True``);
* :mod:`.technique`: trained models as catalog techniques.
"""

from .._no_triton import import_torch_dynamo

# torch's optimisers and torchvision load torch._dynamo, which loads Triton; after napari's OpenGL
# canvas exists that crashes the process (see napari_segsuite/_no_triton.py): load it without Triton
import_torch_dynamo()
