"""``LCPFN``: a PFN trained on the learning-curve prior, behind the extrapolation API."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from probtheory._checks import check_instance
from probtheory.errors import InputDataError
from probtheory.lcpfn.curves import CurvePrior, observation_range
from probtheory.lcpfn.extrapolator import CurveExtrapolator
from probtheory.pfn.bar_distribution import BarDistribution
from probtheory.pfn.model import PFN, pretrained_names

__all__ = ["LCPFN"]


class LCPFN(CurveExtrapolator):
    """Learning-curve extrapolation in one forward pass (Adriaensen et al., NeurIPS 2023).

    The network sees epoch t as ``t / max_epochs``; every prediction is the marginal posterior
    predictive of one future epoch under the curve prior
    (:class:`~probtheory.lcpfn.curves.CurvePrior`) given the observed prefix.

    Example:
        ```python
        model = LCPFN.from_pretrained()
        epochs = torch.arange(1, 101).unsqueeze(1)
        fan = model.predict_quantiles(epochs[:10], curve[:10], epochs[10:], qs=[0.05, 0.5, 0.95])
        ```
    """

    def __init__(self, pfn: PFN) -> None:
        """Wrap a PFN trained on a curve prior (its metadata must name the prior's max_epochs)."""
        check_instance("pfn", pfn, PFN, "a PFN trained on a CurvePrior")
        try:
            self.max_epochs = int(pfn.metadata["prior"]["max_epochs"])
        except (KeyError, TypeError) as err:
            raise InputDataError(
                "pfn", "a PFN trained on a CurvePrior (metadata prior.max_epochs)", err
            ) from err
        self.pfn = pfn.eval()

    @classmethod
    def from_pretrained(cls, name: str = "lcpfn") -> LCPFN:
        """Load the LC-PFN shipped inside the package (offline)."""
        if name not in pretrained_names():
            raise InputDataError("name", f"one of {pretrained_names()}", repr(name))
        return cls(PFN.from_pretrained(name))

    @classmethod
    def load(cls, path: str | Path) -> LCPFN:
        """Load a checkpoint written by ``train_pfn`` on a curve prior."""
        return cls(PFN.load(path))

    @property
    def observation_range(self) -> tuple[float, float]:
        """Normalised observations accepted: the training prior's [0, 1] widened by its noise.

        From the checkpoint's prior (``log_noise``, ``range_constraint``, ``max_epochs``; the
        reference prior's values where the metadata does not say), see
        :func:`~probtheory.lcpfn.curves.observation_range`.
        """
        prior = self.pfn.metadata.get("prior", {})
        reference = CurvePrior()
        try:
            return observation_range(
                prior.get("log_noise", reference.log_noise),
                self.max_epochs,
                prior.get("range_constraint", reference.range_constraint),
            )
        except InputDataError as err:
            raise InputDataError("pfn", "a PFN whose metadata describes its curve prior", err) from err

    @property
    def metadata(self) -> dict:
        """The checkpoint's description: prior, training command, time, machine."""
        return self.pfn.metadata

    def _predict(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> BarDistribution:
        scale = float(self.max_epochs)
        return self.pfn.predict((x_train / scale).unsqueeze(-1), y_train, (x_test / scale).unsqueeze(-1))
