"""taskladder: predict a large model's task accuracy from a ladder of small models."""

from .chain import ChainConfig, TaskPredictor
from .errors import FitWarning, TaskladderError
from .laws import FlopsLaw, LogSigmoid, PowerLaw, Sigmoid, SingleStep

__version__ = "0.1.0"
__all__ = [
    "ChainConfig", "TaskPredictor", "FitWarning", "TaskladderError",
    "FlopsLaw", "LogSigmoid", "PowerLaw", "SingleStep", "Sigmoid",
]
