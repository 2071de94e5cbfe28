"""Check a paper's claim on your own network with ``proofs_checks.assert_claim``.

What it shows: you wrote your own quadratic-neuron layer, ``(W_r x + b_r) * (W_g x + b_g) +
W_b x^2 + b_b`` (Fan et al., *On Expressivity and Trainability of Quadratic Networks*, IEEE
TNNLS 2023), and want to know whether it has the properties the paper proves. The library's
claims run on *your* module when you pass it as the subject:

* ``quadratic.degree``: a stack of L quadratic layers is a polynomial of degree exactly 2^L
  (measured on the module by exact finite differences along a line);
* ``quadratic.xor``: one trained quadratic neuron separates XOR.

``assert_claim`` returns the verdict when the claim holds and raises ``ClaimAssertionError``
(an ``AssertionError``, so it fails a pytest test) with the failing instance and the evidence
table when it does not. The script checks a correct layer, then a wrong one (gate and square
term dropped, so the layer is affine), and prints both outcomes.

Run:

    python docs/examples/check_claim_on_my_network.py            # the "thorough" profile
    python docs/examples/check_claim_on_my_network.py --smoke    # a few instances, seconds

In a test suite, call ``assert_claim("quadratic.degree", subject=MyQuadraticLayer)`` inside any
test function.
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor, nn

from proofs_checks import ClaimAssertionError, assert_claim


class MyQuadraticLayer(nn.Module):
    """Your own layer of quadratic neurons: `... x d_in` to `... x d_out`.

    The claims build it as ``MyQuadraticLayer(d_in, d_out)``, may call ``.double()`` on it and
    overwrite its parameters, so the forward pass reads them at call time.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(0.1 * torch.randn(3, out_features, in_features))  # W_r, W_g, W_b
        self.bias = nn.Parameter(
            torch.stack([torch.zeros(out_features), torch.ones(out_features), torch.zeros(out_features)])
        )

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate ``(W_r x + b_r) * (W_g x + b_g) + W_b x^2 + b_b`` on a `... x d_in` tensor."""
        x = x.to(self.weight.dtype)
        r = x @ self.weight[0].T + self.bias[0]
        g = x @ self.weight[1].T + self.bias[1]
        return r * g + (x * x) @ self.weight[2].T + self.bias[2]


class MyBuggyQuadraticLayer(MyQuadraticLayer):
    """The same layer with two bugs: the gate drops ``W_g x`` and the square reads ``x``: an affine layer."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        x = x.to(self.weight.dtype)
        r = x @ self.weight[0].T + self.bias[0]
        return r * self.bias[1] + x @ self.weight[2].T + self.bias[2]  # bugs: b_g alone, x for x * x


def check(claim_id: str, layer: type[nn.Module], profile: str, max_examples: int | None) -> bool:
    """Run one claim on ``layer``, print the outcome, and say whether it held."""
    try:
        verdict = assert_claim(claim_id, subject=layer, profile=profile, max_examples=max_examples)
    except ClaimAssertionError as error:
        print(f"FAIL  {claim_id} on {layer.__name__}:")
        print("      " + "\n      ".join(str(error).splitlines()[:6]))
        return False
    print(f"PASS  {claim_id} on {layer.__name__} ({verdict.examples} instances)")
    return True


def main() -> None:
    """Check the claims on the correct and the buggy layer; exit 1 unless both behave as expected."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few instances: runs in seconds")
    parser.add_argument("--profile", choices=("ci", "thorough"), default="thorough")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    profile, max_examples = ("ci", 3) if args.smoke else (args.profile, None)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)  # the claims derandomise their own draws; this seeds your layer's init
    correct = [
        check(c, MyQuadraticLayer, profile, max_examples) for c in ("quadratic.degree", "quadratic.xor")
    ]
    caught = not check("quadratic.degree", MyBuggyQuadraticLayer, profile, max_examples)
    print(f"correct layer passes every claim: {all(correct)}; buggy layer caught: {caught}")
    if not (all(correct) and caught):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
