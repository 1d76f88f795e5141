"""Optimizers and learning-rate schedulers, PyTorch-style (``lumina.optim.lr_scheduler``)."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .adaptive import Adadelta, Adagrad, Adamax, NAdam, RAdam
from .optimizer import Optimizer, ParamGroup
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "ParamGroup",
           "RAdam", "RMSprop", "lr_scheduler"]
