"""rnnkit: recurrent neural networks in NumPy with hand-written backpropagation through time."""

from rnnkit.module import Module, Parameter

__version__ = "0.1.0"

__all__ = ["Module", "Parameter", "__version__"]
