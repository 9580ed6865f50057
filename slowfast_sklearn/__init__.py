"""slowfast_sklearn: principal subspaces from coupled slow-fast Hebbian dynamics.

A scikit-learn transformer, :class:`CoupledFlowEmbedding`, after
"Continuous Limits of Coupled Flows in Representation Learning"
(arXiv:2604.16801, 2026).
"""

from ._estimator import CoupledFlowEmbedding

__version__ = "0.1.0"

__all__ = ["CoupledFlowEmbedding", "__version__"]
