"""Optimizers and learning-rate schedulers, PyTorch-style (``lumina.optim.lr_scheduler``)."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, ParamGroup
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "ParamGroup", "RMSprop", "lr_scheduler"]
