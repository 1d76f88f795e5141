"""Optimizers and learning-rate schedulers, PyTorch-style (``lumina.optim.lr_scheduler``)."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .adaptive import Adadelta, Adagrad, Adamax, NAdam, RAdam
from .asgd import ASGD
from .lbfgs import LBFGS
from .optimizer import Optimizer, ParamGroup
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["ASGD", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer", "ParamGroup",
           "RAdam", "RMSprop", "Rprop", "lr_scheduler"]
