r"""Learning from label proportions by belief propagation (LLP-BP).

Havaldar, Sharma, Sareen, Shanmugam & Raghuveer, "Learning from Label Proportions: Bootstrapping
Supervised Learners via Belief Propagation" (ICLR 2024; code google-deepmind/llp_bp). The
training instances come in bags :math:`B_j` of which only the number :math:`k_j` of positive
labels is known. Each round has two steps:

1. **Pseudo-labelling.** A Gibbs distribution over the binary labels :math:`y \in \{0,1\}^n`,

   .. math::
       P(y) \propto \exp\Bigl(\lambda_s \sum_{(i,i') \in G} \mathbb 1[y_i = y_{i'}]
           - \lambda_b \sum_j \bigl(\textstyle\sum_{i \in B_j} y_i - k_j\bigr)^2\Bigr),

   with G the symmetrised k-nearest-neighbour graph of the covariates, is marginalised by loopy
   sum-product belief propagation: :math:`\mu_i \approx P(y_i = 1)`. A bag factor's message to
   a member needs the distribution of the count of the bag's other members, computed exactly by
   dynamic programming over the Poisson-binomial (leave-one-out for every member at once).
2. **Embedding refinement.** An MLP is trained on :math:`(x_i, \mu_i)` with binary
   cross-entropy; its penultimate-layer features become the covariates of the next round's graph.

The classifier is the last round's MLP. The potentials above are our reconstruction of the
two-step scheme the paper describes (Havaldar et al., ICLR 2024); the paper's exact potentials
may differ. On a factor graph without cycles the messages are exact, which the tests
check against brute-force enumeration.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g)
    >>> y = (x[:, 0] > 0).long()
    >>> bags = torch.arange(200) // 20                        # 10 bags of 20
    >>> counts = torch.zeros(10).index_add_(0, bags, y.float())
    >>> model = LLPBeliefPropagation(rounds=1, epochs=60, seed=0).fit(x, bags, counts)
    >>> accuracy = ((model.predict_proba(x) > 0.5).long() == y).float().mean().item()
    >>> accuracy > 0.9
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_finite, check_inputs, check_int, check_real
from probtheory.errors import InputDataError, NotFittedError
from probtheory.training.loop import fit
from probtheory.training.minibatches import Minibatches

__all__ = ["LLPBeliefPropagation", "bag_marginals", "knn_edges"]


def knn_edges(features: Tensor, k: int) -> Tensor:
    """The undirected k-nearest-neighbour graph (Euclidean), as an `E x 2` tensor with i < j."""
    n = features.shape[0]
    k = min(check_int("k", k, minimum=1), n - 1)
    if k < 1:
        return torch.zeros(0, 2, dtype=torch.long)
    distances = torch.cdist(features, features)
    distances.fill_diagonal_(float("inf"))
    neighbours = distances.topk(k, largest=False).indices
    rows = torch.arange(n).repeat_interleave(k)
    pairs = torch.stack([rows, neighbours.reshape(-1)], dim=1).sort(dim=1).values
    return torch.unique(pairs, dim=0)


def _leave_one_out_counts(q: Tensor) -> Tensor:
    """`m x m` matrix: row i is the distribution of the count of ones among the others (P(y=1) = q)."""
    m = q.shape[0]
    others = q.unsqueeze(0).repeat(m, 1)
    others.fill_diagonal_(0.0)  # member i contributes a certain 0
    dist = torch.zeros(m, m + 1, dtype=q.dtype)
    dist[:, 0] = 1.0
    for j in range(m):
        p = others[:, j : j + 1]
        dist = torch.cat([dist[:, :1] * (1 - p), dist[:, 1:] * (1 - p) + dist[:, :-1] * p], dim=1)
    return dist[:, :m]  # at most m - 1 others


def bag_marginals(
    bags: Tensor,
    counts: Tensor,
    edges: Tensor,
    *,
    lambda_s: float = 1.0,
    lambda_b: float = 1.0,
    iterations: int = 20,
    damping: float = 0.5,
) -> Tensor:
    """Approximate marginals :math:`P(y_i = 1)` of the LLP Gibbs distribution by loopy BP.

    Args:
        bags: `n` bag indices in 0..J-1 (every bag non-empty).
        counts: `J` numbers of positive labels per bag: whole numbers k_j in [0, |B_j|] (not
            proportions).
        edges: `E x 2` undirected similarity edges (from :func:`knn_edges`).
        lambda_s: Weight of label agreement along an edge.
        lambda_b: Weight of the squared deviation of a bag's count from k_j.
        iterations: BP sweeps (parallel updates).
        damping: Fraction of the old log-message kept at each update, in [0, 1).

    Returns:
        An `n` tensor of marginals (float64). Exact when the factor graph has no cycles.
    """
    lambda_s = check_real("lambda_s", lambda_s, nonnegative=True)
    lambda_b = check_real("lambda_b", lambda_b, nonnegative=True)
    iterations = check_int("iterations", iterations, minimum=1)
    damping = check_real("damping", damping, nonnegative=True)
    if damping >= 1:
        raise InputDataError("damping", "a fraction in [0, 1)", damping)
    bags, counts = _check_bags_and_counts(bags, counts, torch.as_tensor(bags).numel())
    n, num_bags = bags.shape[0], counts.shape[0]
    members = [torch.nonzero(bags == j).squeeze(1) for j in range(num_bags)]
    labels = torch.tensor([0.0, 1.0], dtype=torch.float64)
    # directed pairwise messages: message e goes from source[e] to target[e]; reverse[e] is its twin
    source = torch.cat([edges[:, 0], edges[:, 1]]).long()
    target = torch.cat([edges[:, 1], edges[:, 0]]).long()
    num_edges = edges.shape[0]
    reverse = torch.cat([torch.arange(num_edges) + num_edges, torch.arange(num_edges)])
    pair_log = torch.zeros(2 * num_edges, 2, dtype=torch.float64)
    bag_log = torch.zeros(n, 2, dtype=torch.float64)
    agree = lambda_s * torch.eye(2, dtype=torch.float64)  # log psi(y_source, y_target)
    for _ in range(iterations):
        belief = bag_log.clone().index_add_(0, target, pair_log)
        # pairwise factor -> target: sum over the source's label of psi * (source's other messages)
        to_factor = belief[source] - pair_log[reverse]
        new_pair = torch.logsumexp(to_factor.unsqueeze(2) + agree.unsqueeze(0), dim=1)
        new_pair = new_pair - new_pair.logsumexp(dim=1, keepdim=True)
        # bag factor -> member: expectation over the others' count of exp(-lambda_b (y + c - k)^2)
        to_bag = belief - bag_log
        q = torch.softmax(to_bag, dim=1)[:, 1]
        new_bag = torch.empty_like(bag_log)
        for j, index in enumerate(members):
            others = _leave_one_out_counts(q[index])  # m x m: P(count of others = c)
            c = torch.arange(index.numel(), dtype=torch.float64)
            penalty = -lambda_b * (labels.view(1, 2, 1) + c.view(1, 1, -1) - counts[j]).square()
            new_bag[index] = torch.logsumexp(penalty + others.clamp_min(1e-300).log().unsqueeze(1), dim=2)
        new_bag = new_bag - new_bag.logsumexp(dim=1, keepdim=True)
        pair_log = damping * pair_log + (1 - damping) * new_pair
        bag_log = damping * bag_log + (1 - damping) * new_bag
    belief = bag_log.clone().index_add_(0, target, pair_log)
    return torch.softmax(belief, dim=1)[:, 1]


class LLPBeliefPropagation:
    """LLP-BP: belief-propagation pseudo-labels, an MLP trained on them, embeddings refined per round.

    Args:
        k: Neighbours of the similarity graph.
        lambda_s: Edge agreement weight.
        lambda_b: Bag count weight.
        rounds: Pseudo-label / refine rounds (at least 1). The default is one: with these
            (reconstructed) potentials a second round on the learned embeddings degraded the
            pseudo-labels on breast cancer (see the reproduction).
        bp_iterations: BP sweeps per round.
        hidden: Width of the MLP's two hidden layers (the embedding dimension).
        epochs: Training epochs of the MLP per round.
        seed: Seed of the MLP initialisation and minibatches.
        progress: Show progress bars while training.

    Attributes:
        pseudo_labels: After ``fit``, the last round's BP marginals (`n`).
        model: After ``fit``, the MLP mapping `... x d` covariates to logits `...`.
    """

    def __init__(
        self,
        k: int = 10,
        lambda_s: float = 1.0,
        lambda_b: float = 1.0,
        rounds: int = 1,
        bp_iterations: int = 20,
        hidden: int = 64,
        epochs: int = 50,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.k = check_int("k", k, minimum=1)
        self.lambda_s = check_real("lambda_s", lambda_s, nonnegative=True)
        self.lambda_b = check_real("lambda_b", lambda_b, nonnegative=True)
        self.rounds = check_int("rounds", rounds, minimum=1)
        self.bp_iterations = check_int("bp_iterations", bp_iterations, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.progress = progress
        self.model: nn.Module | None = None
        self.pseudo_labels: Tensor | None = None

    def fit(self, x: Tensor, bags: Tensor, counts: Tensor) -> LLPBeliefPropagation:
        """Learn from `n x d` covariates, `n` bag indices 0..J-1 and `J` positive counts per bag.

        Args:
            x: An `n x d` tensor of covariates.
            bags: `n` integer bag indices; every index 0..J-1 is used.
            counts: `J` whole numbers of positive labels, bag j's in [0, size of bag j]. Given
                proportions, multiply them by the bag sizes first.

        Raises:
            InputDataError: If a shape does not match, a bag is empty, or a count is not a whole
                number between 0 and its bag's size (naming ``counts``).
        """
        x, bags, counts = _check_llp_data(x, bags, counts)
        features = x
        for round_ in range(self.rounds):
            edges = knn_edges(_standardised(features), self.k)
            marginals = bag_marginals(
                bags, counts, edges, lambda_s=self.lambda_s, lambda_b=self.lambda_b,
                iterations=self.bp_iterations,
            )  # fmt: skip
            self.pseudo_labels = marginals
            torch.manual_seed(self.seed + round_)
            self.model = nn.Sequential(
                nn.Linear(x.shape[1], self.hidden), nn.ReLU(), nn.Linear(self.hidden, self.hidden), nn.ReLU(),
                nn.Linear(self.hidden, 1),
            )  # fmt: skip
            data = Minibatches(x, marginals.float(), batch_size=64, seed=self.seed + round_)
            fit(self.model, data, epochs=self.epochs, loss=_soft_label_loss, seed=self.seed + round_,
                progress=self.progress)  # fmt: skip
            with torch.no_grad():
                features = self.model[:-1](x)  # penultimate-layer embedding
        return self

    def predict_proba(self, x: Tensor) -> Tensor:
        """P(y = 1) for `n x d` covariates."""
        if self.model is None:
            raise NotFittedError("LLPBeliefPropagation is not fitted: call `.fit(x, bags, counts)` first")
        with torch.no_grad():
            x = check_inputs("x", torch.as_tensor(x), feature_dim=self.model[0].in_features)
            if x.dim() != 2:
                raise InputDataError("x", "an `n x d` tensor", f"shape {tuple(x.shape)}")
            return torch.sigmoid(self.model(x.float())[:, 0])


def _soft_label_loss(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    x, target = batch
    return F.binary_cross_entropy_with_logits(model(x)[:, 0], target)


def _standardised(features: Tensor) -> Tensor:
    return (features - features.mean(0)) / features.std(0).clamp_min(1e-12)


def _check_llp_data(x: Tensor, bags: Tensor, counts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    x = check_finite("x", torch.as_tensor(x)).float()
    if x.dim() != 2:
        raise InputDataError("x", "an `n x d` tensor", tuple(x.shape))
    bags, counts = _check_bags_and_counts(bags, counts, x.shape[0])
    return x, bags, counts


#: Largest distance of a count from an integer still taken as that integer (float rounding of
#: e.g. ``proportion * bag_size``); anything further is not a count.
_COUNT_TOLERANCE = 1e-6


def _check_bags_and_counts(bags: Tensor, counts: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """`n` bag indices using every index 0..J-1, and `J` integer counts in [0, bag size] (as float64)."""
    bags = torch.as_tensor(bags)
    if bags.shape != (n,) or bags.is_floating_point() or bags.dtype == torch.bool or (bags < 0).any():
        raise InputDataError(
            "bags", f"{n} non-negative integer bag indices", f"shape {tuple(bags.shape)}, dtype {bags.dtype}"
        )
    if n == 0:
        raise InputDataError("bags", "at least one instance", "an empty tensor")
    sizes = torch.bincount(bags.long())
    if (sizes == 0).any():
        raise InputDataError(
            "bags", "every index 0..J-1 used", f"empty bags {torch.nonzero(sizes == 0)[:5, 0].tolist()}"
        )
    counts = check_finite("counts", torch.as_tensor(counts, dtype=torch.float64))
    if counts.shape != sizes.shape:
        raise InputDataError("counts", f"one count per bag ({sizes.numel()})", f"shape {tuple(counts.shape)}")
    rounded = counts.round()
    if ((counts - rounded).abs() > _COUNT_TOLERANCE).any():
        looks_like_proportions = bool(((counts >= 0) & (counts <= 1)).all())
        hint = " (proportions? pass counts = proportions * bag sizes)" if looks_like_proportions else ""
        raise InputDataError(
            "counts", "whole numbers of positive labels per bag", f"{counts.tolist()[:8]}{hint}"
        )
    bad = torch.nonzero((rounded < 0) | (rounded > sizes))[:, 0]
    if bad.numel():
        j = int(bad[0])
        raise InputDataError(
            "counts",
            "counts between 0 and the bag's size",
            f"count {rounded[j].item():g} for bag {j} of {int(sizes[j])} instances"
            f"{f' (and {bad.numel() - 1} more bags)' if bad.numel() > 1 else ''}",
        )
    return bags.long(), rounded
