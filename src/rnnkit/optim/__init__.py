"""Optimisers with PyTorch's update rules: SGD, Adagrad, RMSprop, Adam, AdamW."""

from rnnkit.optim.adagrad import Adagrad
from rnnkit.optim.adam import Adam, AdamW
from rnnkit.optim.optimizer import Optimizer
from rnnkit.optim.rmsprop import RMSprop
from rnnkit.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]
