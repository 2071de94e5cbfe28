"""Dense Hebbian networks: Glauber sweep time with O(K) incremental flips vs explicit P-index sums.

Run:  python benchmarks/energy_hebbian.py            (writes benchmarks/results/energy_hebbian.json)
      python benchmarks/energy_hebbian.py --quick    (small sizes, a smoke test; writes to /tmp)

(a) ``scaling``: seconds per heat-bath sweep (N single-spin updates, beta = 2, P = 4, supervised,
r = 0.5, M = 5) of :meth:`DenseHebbian.retrieve` against N and K. The incremental method keeps the
K overlaps and costs O(K) per flip, O(NK) per sweep.

(b) ``side_by_side``: at small N, the same sweeps (same visiting orders and acceptance draws) with
the energy difference of each flip from the kept overlaps (``HebbianChain.sweep``) and from two
explicit contractions of the N^P coupling tensor (O(N^P) per flip, O(N^(P+1)) per sweep). Both run
in the same process, one after the other within each repeat; set-up (chain, tensor) is not timed.
Both runs must end in the same state (the accept decisions agree). Reported: median seconds per
sweep of each and their ratio.

Medians over repeats, since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from probtheory.energy.hebbian import DenseHebbian

ROOT = Path(__file__).resolve().parent.parent
BETA, P, R, M = 2.0, 4, 0.5, 5


def _explicit_energy(couplings: torch.Tensor, sigma: torch.Tensor, N: int) -> float:
    contracted = couplings
    for _ in range(P):
        contracted = contracted @ sigma
    return float(-0.5 * contracted / N ** (P - 1))


def _brute_force_sweep(net: DenseHebbian, couplings, state: torch.Tensor, order, uniforms) -> torch.Tensor:
    """Heat-bath sweep with dH = H(flipped) - H(state), both explicit N^P sums."""
    sigma = state.to(torch.float64).clone()
    energy = _explicit_energy(couplings, sigma, net.N)
    for i, u in zip(order.tolist(), uniforms.tolist(), strict=True):
        sigma[i] = -sigma[i]
        flipped = _explicit_energy(couplings, sigma, net.N)
        delta = flipped - energy
        if u < 0.5 * (1.0 - math.tanh(0.5 * BETA * delta)):
            energy = flipped
        else:
            sigma[i] = -sigma[i]
    return sigma.to(torch.int8)


def side_by_side(N: int, K: int, repeats: int, sweeps: int) -> dict:
    net = DenseHebbian.synthetic(K, N, R, M, P=P, seed=N + K)
    couplings = net.coupling_tensor()  # set-up of either method is not timed
    g = torch.Generator().manual_seed(0)
    times = {"incremental": [], "brute_force": []}
    agree = True
    for _ in range(repeats):
        draws = [
            (torch.randperm(N, generator=g).numpy(), torch.rand(N, generator=g, dtype=torch.float64).numpy())
            for _ in range(sweeps)
        ]
        chain = net.chain(net.examples[0, 0])
        t0 = time.perf_counter()
        for order, uniforms in draws:
            chain.sweep(BETA, order, uniforms)
        times["incremental"].append((time.perf_counter() - t0) / sweeps)
        state = net.examples[0, 0]
        t0 = time.perf_counter()
        for order, uniforms in draws:
            state = _brute_force_sweep(net, couplings, state, order, uniforms)
        times["brute_force"].append((time.perf_counter() - t0) / sweeps)
        agree &= bool(torch.equal(state, chain.state))
    inc, brute = statistics.median(times["incremental"]), statistics.median(times["brute_force"])
    return {
        "N": N, "K": K, "P": P, "coupling_entries": N**P,
        "incremental_s_per_sweep": inc, "brute_force_s_per_sweep": brute,
        "ratio_brute_over_incremental": brute / inc, "same_final_state": agree, "repeats": repeats,
    }  # fmt: skip


def scaling(N: int, K: int, repeats: int, sweeps: int) -> dict:
    net = DenseHebbian.synthetic(K, N, R, M, P=P, seed=N + K)
    times = []
    for rep in range(repeats):
        t0 = time.perf_counter()
        net.retrieve(net.examples[0, 0], beta=BETA, sweeps=sweeps, seed=rep, progress=False)
        times.append((time.perf_counter() - t0) / sweeps)
    med = statistics.median(times)
    return {"N": N, "K": K, "s_per_sweep": med, "us_per_flip": 1e6 * med / N, "repeats": repeats}


def _slope(rows: list[dict], x: str, y: str) -> float:
    xs, ys = np.log([r[x] for r in rows]), np.log([r[y] for r in rows])
    return float(np.polyfit(xs, ys, 1)[0])


def run(quick: bool = False) -> dict:
    """Run both parts; return JSON-able results (medians and ratios)."""
    if quick:
        grid_n, grid_k, small_n, small_k, repeats = [250, 500, 1000], [2, 8], [6, 8, 10], [2], 3
    else:
        grid_n, grid_k = [500, 1000, 2000, 4000, 8000], [2, 8, 32, 128]
        small_n, small_k, repeats = [6, 8, 12, 16, 24, 32, 48], [2, 8], 5
    scaling_rows = [scaling(n, k, repeats, sweeps=2) for k in grid_k for n in grid_n]
    side_rows = [side_by_side(n, k, 2 * repeats - 1, sweeps=3) for k in small_k for n in small_n]
    slopes_n = {str(k): _slope([r for r in scaling_rows if r["K"] == k], "N", "s_per_sweep") for k in grid_k}
    slopes_k = {str(n): _slope([r for r in scaling_rows if r["N"] == n], "K", "s_per_sweep") for n in grid_n}
    brute_slopes = {
        str(k): _slope([r for r in side_rows if r["K"] == k], "N", "brute_force_s_per_sweep") for k in small_k
    }
    return {
        "benchmark": "energy_hebbian",
        "quick": quick,
        "settings": {"beta": BETA, "P": P, "r": R, "M": M, "rule": "supervised"},
        "scaling": scaling_rows,
        "scaling_loglog_slope_in_N": slopes_n,
        "scaling_loglog_slope_in_K": slopes_k,
        "side_by_side": side_rows,
        "brute_force_loglog_slope_in_N": brute_slopes,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; writes to /tmp")
    args = parser.parse_args()
    result = run(quick=args.quick)
    path = (
        Path("/tmp/energy_hebbian_quick.json")
        if args.quick
        else ROOT / "benchmarks/results/energy_hebbian.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
