"""``bfgs_multistart``: the compute-matched classical baseline (ours, not the paper's).

BFGS per problem from the shared x0 and from K − 1 further starts drawn from the family's prior
(a stream seeded by the run's seed), all K·n runs advanced together by the vectorised BFGS; the
best final loss per problem is kept. Because the starts are a fixed sequence (x0 first), the run
also holds every smaller multi-start: best-of-the-first-k for each k ≤ K, with the evaluations the
first k starts spent. The aggregate turns that into a budget curve (``budget`` settings) next to
JPO's evaluation count. With K = 1 the result is ``bfgs``'s, bit for bit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..seeding import numpy_rng
from ..spec import ParamSpec
from .base import SolveContext, SolveResult, subsample_history
from .bfgs import BFGS


class BFGSMultistart(BFGS):
    """SciPy BFGS from x0 and K − 1 prior draws per problem, best final loss kept."""

    name = "bfgs_multistart"
    label = "BFGS multi-start"
    order = 5
    style = {"color": (0.45, 0.45, 0.45), "marker": "o", "linestyle": (0, (1, 1))}
    cost = 5.0
    settings_spec = {
        **BFGS.settings_spec,
        "starts": ParamSpec(20, int, minimum=1, doc="K: BFGS runs per problem (x0 + K-1 prior draws)"),
        "budget": ParamSpec(
            [1, 2, 5, 20], int, length=-1, minimum=1, unique=True,
            doc="multi-start sizes k <= K reported as a budget curve (best of the first k starts)",
        ),
    }

    @classmethod
    def check_settings(cls, settings: dict[str, Any], where: str) -> None:
        too_big = [k for k in settings["budget"] if k > settings["starts"]]
        if too_big:
            raise ConfigError(f"{where}.budget", f"entries must be <= starts ({settings['starts']}), got {too_big}")

    @staticmethod
    def start_points(ctx: SolveContext, starts: int) -> torch.Tensor:
        """(K, n, dim): the shared start (x0, or ``init``) first, then K − 1 seeded prior draws."""
        first = ctx.start()
        n, dim = first.shape
        rng = numpy_rng(ctx.seed, f"bfgs_multistart/starts/n{n}")
        draws = ctx.family.sample_prior(n * (starts - 1), rng).reshape(starts - 1, n, dim)
        rest = torch.as_tensor(draws, dtype=first.dtype, device=first.device)
        return torch.cat([first[None], rest], dim=0)

    def solve(self, ctx: SolveContext) -> SolveResult:
        from .batched_bfgs import bfgs_batched

        s = ctx.settings
        k_max = s["starts"]
        starts = self.start_points(ctx, k_max)
        _, n, dim = starts.shape
        obj = ctx.objective()
        row_evals = torch.zeros(k_max * n, dtype=torch.int64, device=starts.device)
        problem_of_row = torch.arange(k_max * n, device=starts.device) % n

        def fun_and_grad(x: torch.Tensor, idx: torch.Tensor):
            row_evals.index_add_(0, idx, torch.ones_like(idx))
            return obj.value_and_grad(x, problem_of_row[idx])

        means: list[float] = []  # mean over problems of the best loss over starts, per round
        last = [time.perf_counter()]

        def callback(k: int, fun: torch.Tensor) -> None:
            means.append(float(fun.reshape(k_max, n).min(dim=0).values.mean()))
            if time.perf_counter() - last[0] > 10:
                last[0] = time.perf_counter()
                ctx.progress(f"{self.name}: round {k}, mean best loss {means[-1]:.4e}")

        res = bfgs_batched(fun_and_grad, starts.reshape(k_max * n, dim), gtol=s["gtol"],
                           maxiter=s["maxiter"], callback=callback)
        fun = res.fun.reshape(k_max, n).cpu().numpy()
        best = _first_argmin(fun)
        pick = (best, np.arange(n))
        keep = subsample_history(len(means) - 1, s["history_points"])
        x_all = res.x.reshape(k_max, n, dim).cpu().numpy()
        return SolveResult(
            x=x_all[pick].copy(),
            loss=fun[pick].copy(),
            iterations=res.nit.reshape(k_max, n).cpu().numpy().astype(np.int64)[pick].copy(),
            evaluations=obj.evaluations.cpu().numpy().copy(),
            loss_history=np.asarray(means)[keep],
            history_step=keep.astype(np.int64),
            extras={
                "status": res.status.reshape(k_max, n).cpu().numpy().astype(np.int64)[pick].copy(),
                "best_start": best.astype(np.int64),
                "start_x": np.ascontiguousarray(x_all.transpose(1, 0, 2)),
                "start_loss": np.ascontiguousarray(fun.T),
                "start_evaluations": np.ascontiguousarray(row_evals.reshape(k_max, n).cpu().numpy().T),
            },
            info={"settings": s, "batched_rounds": int(res.rounds)},
        )


def _first_argmin(values: np.ndarray) -> np.ndarray:
    """Per column, the first row with the smallest value; NaN only where every row is NaN."""
    filled = np.where(np.isnan(values), np.inf, values)
    return np.argmin(filled, axis=0)


def best_of_first(start_loss: np.ndarray, start_evaluations: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best loss and evaluations spent per problem by a k-start run: the first k starts of a
    recorded multi-start run (``start_loss``, ``start_evaluations``: (n, K))."""
    loss = start_loss[:, :k]
    best = np.take_along_axis(loss, _first_argmin(loss.T)[:, None], axis=1)[:, 0]
    return best, start_evaluations[:, :k].sum(axis=1)
