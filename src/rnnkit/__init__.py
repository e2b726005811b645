"""rnnkit: recurrent neural networks in NumPy with hand-written backpropagation through time.

The layers compute exactly what ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``
compute given the same weights (batch-first), forward and backward; ``MinGRU``, ``MinLSTM``,
``LayerNormLSTM`` and ``LayerNormGRU`` are cells that PyTorch does not ship (rnnkit.registry
lists every kind).

>>> import numpy as np, rnnkit
>>> lstm = rnnkit.LSTM(input_size=8, hidden_size=16, seed=0)
>>> y, (h_n, c_n) = lstm(np.zeros((4, 10, 8)))
>>> y.shape
(4, 10, 16)
"""

from rnnkit import losses, models, optim
from rnnkit.cells import GRUCell, LayerNormGRUCell, LayerNormLSTMCell, LSTMCell, MinGRUCell, MinLSTMCell, RNNCell
from rnnkit.cells.lngru.layer import LayerNormGRU
from rnnkit.cells.lnlstm.layer import LayerNormLSTM
from rnnkit.cells.mingru.layer import MinGRU
from rnnkit.cells.minlstm.layer import MinLSTM
from rnnkit.clip import clip_grad_norm_, clip_grad_value_
from rnnkit.grad_mode import is_grad_enabled, no_grad
from rnnkit.layers import CRF, GRU, CharCNN, CharLSTM, LSTM, RNN, Dropout, Embedding, Linear, RecurrentLayer
from rnnkit.module import Module, Parameter
from rnnkit.serialization import load, save
from rnnkit.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "Module", "Parameter",
    "RNN", "LSTM", "GRU", "RecurrentLayer", "RNNCell", "LSTMCell", "GRUCell",
    "MinGRU", "MinGRUCell", "MinLSTM", "MinLSTMCell",
    "LayerNormLSTM", "LayerNormLSTMCell", "LayerNormGRU", "LayerNormGRUCell",
    "Linear", "Embedding", "Dropout", "CRF", "CharCNN", "CharLSTM",
    "losses", "optim", "models", "clip_grad_norm_", "clip_grad_value_",
    "save", "load", "no_grad", "is_grad_enabled", "set_num_threads", "get_num_threads",
    "__version__",
]
