r"""The closed-form KL divergence between diagonal Gaussians: the KL term of the PV-RNN's loss.

Ahmadi & Tani, *A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction
and Recognition*, Neural Computation 31(11), 2019; reference code h-idei/pvrnn_sa.
The posterior :math:`q(z^l_t)` and the prior :math:`p(z^l_t \mid d^l_{t-1})` of every stochastic
unit are Gaussians, so the KL of the loss of :class:`probtheory.recurrent.pvrnn.PVRNN` is this
closed form summed over the z units.
"""

from __future__ import annotations

import torch
from torch import Tensor

from probtheory._checks import check_finite
from probtheory.errors import InputDataError

__all__ = ["gaussian_kl"]


def gaussian_kl(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
    r"""Elementwise :math:`\mathrm{KL}(N(\mu_q, \sigma_q^2) \,\|\, N(\mu_p, \sigma_p^2))`.

    :math:`\log\sigma_p - \log\sigma_q - 1/2 + (\sigma_q^2 + (\mu_q - \mu_p)^2) / (2\sigma_p^2)`.

    Args:
        mu_q: Posterior means (any shape, broadcast with the others).
        sigma_q: Posterior standard deviations (> 0).
        mu_p: Prior means.
        sigma_p: Prior standard deviations (> 0).

    Returns:
        The KL per coordinate, in the broadcast shape.

    Raises:
        InputDataError: for non-finite or non-broadcastable tensors, or standard deviations <= 0
            (their logarithm would make the KL NaN).
    """
    tensors = {"mu_q": mu_q, "sigma_q": sigma_q, "mu_p": mu_p, "sigma_p": sigma_p}
    for name, value in tensors.items():
        check_finite(name, value)
    for name in ("sigma_q", "sigma_p"):
        if not (tensors[name] > 0).all():
            raise InputDataError(
                name, "standard deviations > 0", f"a minimum of {float(tensors[name].min()):g}"
            )
    try:
        torch.broadcast_shapes(*(t.shape for t in tensors.values()))
    except RuntimeError as err:
        shapes = {k: tuple(v.shape) for k, v in tensors.items()}
        raise InputDataError("sigma_p", "tensors broadcastable to one shape", shapes) from err
    return _gaussian_kl(mu_q, sigma_q, mu_p, sigma_p)


def _gaussian_kl(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
    return (
        torch.log(sigma_p)
        - torch.log(sigma_q)
        - 0.5
        + (sigma_q.square() + (mu_q - mu_p).square()) / (2 * sigma_p.square())
    )
