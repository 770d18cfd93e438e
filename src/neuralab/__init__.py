"""neuralab: neural networks for visual recognition, from first principles to fast training."""

from neuralab.errors import NeuralabError

__version__ = "0.1.0"
__all__ = ["NeuralabError", "__version__"]
