"""Diagnostics that make the theory of recurrent networks visible, one module per concern.

* :mod:`~rnnkit.diagnostics.gradient_flow`: dL/dh_t at every step (recorded inside BPTT).
* :mod:`~rnnkit.diagnostics.jacobians`: the Jacobian products dh_T/dh_k.
* :mod:`~rnnkit.diagnostics.spectrum`: singular values of W_hh and the Pascanu et al. bound.
* :mod:`~rnnkit.diagnostics.gates`: gate means, saturation and the cell-state norm.
* :mod:`~rnnkit.diagnostics.history`: gradient norms during training and clipping.
* :func:`check_gradients`: the numerical gradient checker of :mod:`rnnkit.gradcheck`.
* :mod:`~rnnkit.diagnostics.plots`: the figures (needs matplotlib, imported only there).
"""

from rnnkit.diagnostics.gates import GateStatistics, GateSummary, gate_statistics
from rnnkit.diagnostics.gradient_flow import GradientFlow, gradient_flow, hidden_grad_norms, recording_hidden_grads
from rnnkit.diagnostics.history import GradientNormHistory
from rnnkit.diagnostics.jacobians import JacobianProducts, jacobian_products, step_jacobians
from rnnkit.diagnostics.spectrum import GAMMA, GateSpectrum, recurrent_spectrum, set_spectral_radius
from rnnkit.gradcheck import GradientReport, check_gradients, relative_error

__all__ = [
    "GAMMA",
    "GateSpectrum",
    "GateStatistics",
    "GateSummary",
    "GradientFlow",
    "GradientNormHistory",
    "GradientReport",
    "JacobianProducts",
    "check_gradients",
    "gate_statistics",
    "gradient_flow",
    "hidden_grad_norms",
    "jacobian_products",
    "recording_hidden_grads",
    "recurrent_spectrum",
    "relative_error",
    "set_spectral_radius",
    "step_jacobians",
]
