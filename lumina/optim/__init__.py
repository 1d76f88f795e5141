"""Optimizers and learning-rate schedulers, PyTorch-style (``lumina.optim.lr_scheduler``)."""
from ..nn import utils as _nn_utils  # noqa: F401  (makes ``lumina.nn.utils`` an attribute of ``lumina.nn``)
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, ParamGroup
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "ParamGroup", "RMSprop", "lr_scheduler"]
