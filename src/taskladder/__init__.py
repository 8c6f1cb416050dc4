"""taskladder: predict a large model's task accuracy from a ladder of small models."""

from .errors import FitWarning, InputWarning, TaskladderError

__version__ = "0.1.0"
__all__ = [
    "ChainConfig", "TaskPredictor", "FitWarning", "InputWarning", "TaskladderError",
    "FlopsLaw", "LogSigmoid", "PowerLaw", "SingleStep", "Sigmoid", "backtest", "compare_ladders", "compute_to_reach", "describe_ladder", "forecast_target", "plan_ladder", "predict", "read_ladder",
]

# (No name here may be a submodule's: importing taskladder.forecast would replace it.)
# The fitting classes are imported on first use (PEP 562), so that `import taskladder.cli`
# and `taskladder --help` do not import pandas and scipy.
_LAZY = {"ChainConfig": "chain", "TaskPredictor": "chain", "FlopsLaw": "laws", "LogSigmoid": "laws",
         "PowerLaw": "laws", "SingleStep": "laws", "Sigmoid": "laws", "predict": "api",
         "forecast_target": "api", "compare_ladders": "api", "read_ladder": "api",
         "backtest": "api", "describe_ladder": "api", "plan_ladder": "api", "compute_to_reach": "api"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'taskladder' has no attribute {name!r}")


def __dir__():  # the lazy names too, for a notebook's completion
    return sorted(set(globals()) | set(__all__))
