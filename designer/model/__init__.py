"""The design and everything computed from it. Pure Python: imports neither Qt nor torch."""

from .analysis import Report, analyze
from .layers import CATALOGUE, Issue, LayerType, fmt_shape
from .network import Network, NetworkError, Node

__all__ = ["CATALOGUE", "Issue", "LayerType", "Network", "NetworkError", "Node", "Report",
           "analyze", "fmt_shape"]
