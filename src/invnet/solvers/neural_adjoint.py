"""Neural adjoint (docs/experiments.md §2): learn a surrogate of F from simulations, then invert
the surrogate instead of F.

1. **Samples.** ``samples`` draws x_j from the family's prior (``sample_prior``, stream
   ``neural_adjoint/samples`` of the seed), each paired with the identifiers of a problem of the
   set, γ_(j mod n) (the experiment's own identifiers, cycled; none for families without γ), and
   y_j = F(x_j, γ_(j mod n)): one forward evaluation each, charged to problem j mod n.
2. **Surrogate.** An MLP S(x, γ) ≈ F(x, γ) on the flattened output, trained with full-batch Adam
   on the mean squared error in output space on the first (1 − ``held_out``) of the samples; its
   error on the last ``held_out`` fraction (samples it never saw) is recorded (run provenance
   ``info.surrogate``).
3. **Inversion.** Each x_i is optimised from its start (x0) by Adam on L(S(x_i, γ_i), y*_i) with
   the surrogate frozen, for a fixed ``steps`` at ``lr``, each iterate kept inside the box the
   samples span (where the surrogate has data); then scored once under the true F.

Cost (``evaluations``): the samples charged to each problem plus that final true evaluation;
the loss history (the true loss of the iterates at <= ``HISTORY_POINTS`` log-spaced steps) is a
diagnostic and not counted, as for supervised training. The held-out test set is inverted through the same
surrogate (no new samples): ``test_x``, ``test_loss``.

Shared across n: for a family without identifiers (``ProblemFamily.identifiers`` False) the
samples are the seed's prior draws alone and the surrogate is the same at every n, so the
workflow fits it once per seed (:meth:`NeuralAdjoint.prepare_shared`, rule ``fit_surrogate``)
and each n's run re-creates its samples (for the charging and the box) and loads it
(:func:`load_surrogate`) instead of fitting: the same result, bit for bit. The run still pays
for it: its evaluations are unchanged, and the solve job adds the fit's time to its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..problems.base import ProblemFamily
from ..seeding import numpy_rng, torch_generator
from ..spec import ParamSpec
from .base import Outcome, Solver, SolveStatus, subsample_history
from .driver import SolveContext  # the driver shapes every result: in each solver's code fingerprint
from .networks import ACTIVATIONS, _init_linear

SAMPLES_STREAM = "neural_adjoint/samples"
INIT_STREAM = "neural_adjoint/surrogate-init"
CHUNK = 256  # samples per forward call when making the training set (bounds memory)
HISTORY_POINTS = 32  # at most this many true-loss diagnostics of the iterates (each costs n forwards)


class Surrogate(nn.Module):
    """MLP from (x scaled to [-1, 1] by the bounds, γ standardised) to F(x, γ) flattened:
    ŷ = mean + scale · net(u), with the per-output mean and one overall scale of the training
    outputs, so its training loss is the MSE in output space up to the factor scale²."""

    def __init__(self, x: torch.Tensor, gamma: torch.Tensor | None, y: torch.Tensor, bounds: np.ndarray,
                 hidden: tuple[int, ...], activation: str, generator: torch.Generator):
        super().__init__()
        dtype, device = x.dtype, x.device
        lo = torch.as_tensor(bounds[:, 0], dtype=dtype, device=device)
        hi = torch.as_tensor(bounds[:, 1], dtype=dtype, device=device)
        self.register_buffer("x_mid", (lo + hi) / 2)
        self.register_buffer("x_half", (hi - lo) / 2)
        if gamma is not None:
            g = gamma.reshape(gamma.shape[0], -1)
            std = g.std(dim=0) if g.shape[0] > 1 else torch.ones_like(g[0])
            self.register_buffer("g_mean", g.mean(dim=0))
            self.register_buffer("g_std", torch.where(std > 1e-12, std, torch.ones_like(std)))
        else:
            self.g_mean = self.g_std = None
        flat = y.reshape(y.shape[0], -1)
        self.y_shape = tuple(y.shape[1:])
        self.register_buffer("y_mean", flat.mean(dim=0))
        scale = flat.std(dim=0).square().mean().sqrt() if flat.shape[0] > 1 else flat.new_tensor(1.0)
        self.register_buffer("y_scale", torch.clamp(scale, min=1e-12))
        width = x.shape[1] + (0 if gamma is None else self.g_mean.numel())
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(width, h, dtype=dtype, device=device), ACTIVATIONS[activation]()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, flat.shape[1], dtype=dtype, device=device)
        with torch.no_grad():
            for m in [*self.body, self.head]:
                if isinstance(m, nn.Linear):
                    _init_linear(m, generator)

    def scaled(self, x: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        """The network's output: (F(x, γ) − mean) / scale, flattened."""
        parts = [(x - self.x_mid) / self.x_half]
        if self.g_mean is not None:
            parts.append((gamma.reshape(gamma.shape[0], -1) - self.g_mean) / self.g_std)
        return self.head(self.body(torch.cat(parts, dim=1)))

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        out = self.y_mean + self.y_scale * self.scaled(x, gamma)
        return out.reshape(x.shape[0], *self.y_shape)


@dataclass
class SampleSet:
    """The surrogate's data: x (m, dim), the problem whose γ each sample uses (m,), γ (m, ...) or
    None, y = F(x, γ) (m, ...), and how many are held out (the last ``held_out`` samples)."""

    x: torch.Tensor
    problem: np.ndarray
    gamma: torch.Tensor | None
    y: torch.Tensor
    held_out: int

    @property
    def train(self) -> slice:
        return slice(0, self.x.shape[0] - self.held_out)

    @property
    def test(self) -> slice:
        return slice(self.x.shape[0] - self.held_out, self.x.shape[0])

    def part(self, which: slice) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        return self.x[which], None if self.gamma is None else self.gamma[which], self.y[which]


def held_out_count(samples: int, fraction: float) -> int:
    """Samples held out of ``samples`` (at least one, and at least one left to train on)."""
    return min(max(1, int(round(samples * fraction))), samples - 1)


def make_samples(family: ProblemFamily, gamma: torch.Tensor | None, n: int, samples: int, held_out: float,
                 seed: int, dtype: torch.dtype, device: torch.device) -> SampleSet:
    """``samples`` prior draws x_j with the identifiers of problem j mod n and y_j = F(x_j, γ)."""
    rng = numpy_rng(seed, SAMPLES_STREAM)
    x = torch.as_tensor(family.sample_prior(samples, rng), dtype=dtype, device=device)
    problem = np.arange(samples) % n
    g = None if gamma is None else gamma[torch.as_tensor(problem, device=device)]
    with torch.no_grad():
        y = torch.cat([family.forward(x[k:k + CHUNK], None if g is None else g[k:k + CHUNK])
                       for k in range(0, samples, CHUNK)])
    return SampleSet(x, problem, g, y, held_out_count(samples, held_out))


def mse(model: Surrogate, x: torch.Tensor, gamma: torch.Tensor | None, y: torch.Tensor) -> float:
    """Mean squared error of the surrogate in output space over every sample and output."""
    with torch.no_grad():
        return float(((model(x, gamma) - y) ** 2).mean())


def fit_surrogate(data: SampleSet, family: ProblemFamily, settings: Any, seed: int) -> Surrogate:
    """The surrogate trained on the training part of ``data`` (full-batch Adam, seeded init)."""
    x, gamma, y = data.part(data.train)
    model = Surrogate(x, gamma, y, family.bounds, tuple(settings.hidden), settings.activation,
                      torch_generator(seed, INIT_STREAM))
    target = ((y.reshape(y.shape[0], -1) - model.y_mean) / model.y_scale).detach()
    opt = torch.optim.Adam(model.parameters(), lr=settings.surrogate_lr, eps=1e-7)
    schedule = None
    if settings.surrogate_schedule == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings.surrogate_steps)
    for _ in range(settings.surrogate_steps):
        opt.zero_grad(set_to_none=True)
        loss = ((model.scaled(x, gamma) - target) ** 2).mean()
        loss.backward()
        opt.step()
        if schedule is not None:
            schedule.step()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_surrogate(arrays: Mapping[str, np.ndarray], data: SampleSet, family: ProblemFamily, settings: Any,
                   seed: int) -> Surrogate:
    """The surrogate fitted once per seed (:meth:`NeuralAdjoint.prepare_shared`: its parameters
    and buffers in ``arrays``), rebuilt around the run's own samples ``data``. The buffers the
    constructor computes from the samples (input box, output mean and scale) must equal the stored
    ones bit for bit, else it was fitted to other samples (ValueError)."""
    if data.gamma is not None:
        raise ValueError("a surrogate shared across n is for a family without identifiers; these samples carry γ")
    x, gamma, y = data.part(data.train)
    model = Surrogate(x, gamma, y, family.bounds, tuple(settings.hidden), settings.activation,
                      torch_generator(seed, INIT_STREAM))
    state = model.state_dict()
    if set(arrays) != set(state):
        raise ValueError(f"the shared surrogate holds {sorted(arrays)}, this one has {sorted(state)}")
    loaded = {}
    for name, own in state.items():
        value = torch.as_tensor(np.asarray(arrays[name]), device=own.device).to(own.dtype)
        if value.shape != own.shape:
            raise ValueError(f"the shared surrogate's {name} has shape {tuple(value.shape)}, "
                             f"expected {tuple(own.shape)}")
        loaded[name] = value
    for name, own in model.named_buffers():
        if not torch.equal(loaded[name], own):
            raise ValueError(f"the shared surrogate's {name} is not this run's samples' (fitted to other samples)")
    model.load_state_dict(loaded)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def invert(model: Surrogate, family: ProblemFamily, start: torch.Tensor, gamma: torch.Tensor | None,
           y_target: torch.Tensor, box: tuple[torch.Tensor, torch.Tensor], steps: int, lr: float,
           record=None) -> torch.Tensor:
    """Adam on each x_i through the frozen surrogate, every iterate clipped into ``box``;
    ``record(k, x)`` after iteration k (k = 0 at the start). Problems stay independent."""
    x = torch.clamp(start.detach().clone(), *box).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr, eps=1e-7)
    for k in range(steps + 1):
        if record is not None:
            record(k, x)
        if k == steps:
            break
        opt.zero_grad(set_to_none=True)
        family.loss(model(x, gamma), y_target).sum().backward()
        opt.step()
        with torch.no_grad():
            x.copy_(torch.clamp(x, *box))
    return x.detach()


class NeuralAdjoint(Solver):
    """A surrogate of F learnt from prior samples, inverted per problem from x0 (see the module)."""

    name = "neural_adjoint"
    label = "Neural adjoint"
    order = 70
    style = {"color": ("colorblind", 5), "marker": "X"}
    cost = 2.0
    network = True  # one network over the problem set: no refinement or multi-start of it
    tuning = {"lr": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]}
    settings_spec = {
        "samples": ParamSpec(512, int, minimum=2, doc="forward evaluations of F that make the surrogate's data"),
        "held_out": ParamSpec(0.2, float, minimum=0.01, maximum=0.9,
                              doc="fraction of the samples held out to measure the surrogate's error"),
        "hidden": ParamSpec([128, 128], int, length=-1, positive=True, doc="surrogate hidden layer widths"),
        "activation": ParamSpec("tanh", str, choices=tuple(ACTIVATIONS),
                                doc="surrogate activation (smooth: the inversion follows its gradient)"),
        "surrogate_steps": ParamSpec(2000, int, positive=True, doc="full-batch Adam steps training the surrogate"),
        "surrogate_lr": ParamSpec(3e-2, float, positive=True, doc="Adam learning rate of the surrogate"),
        "surrogate_schedule": ParamSpec("cosine", str, choices=("constant", "cosine"),
                                        doc="surrogate learning rate over training: constant or cosine decay to 0"),
        "steps": ParamSpec(1000, int, positive=True, doc="Adam steps per problem through the surrogate"),
        "lr": ParamSpec(1e-2, float, positive=True, doc="Adam learning rate of the inversion"),
    }

    def shares_across_n(self, family: ProblemFamily) -> bool:
        """Without identifiers the samples are the seed's prior draws alone (only their charging
        to problems depends on n), so the surrogate fitted to them is the same at every n."""
        return not family.identifiers

    def prepare_shared(self, family: ProblemFamily, seed: int, dtype: torch.dtype,
                       device: torch.device) -> dict[str, np.ndarray]:
        """The surrogate of a family without identifiers, fitted to the seed's samples as a run
        fits it: every parameter and buffer (its ``state_dict``), as float64 arrays."""
        if not self.shares_across_n(family):
            raise ValueError(f"{family.name} has identifiers γ: its surrogate depends on n and is fitted in each run")
        s = self.settings
        data = make_samples(family, None, 1, s.samples, s.held_out, seed, dtype, device)
        model = fit_surrogate(data, family, s, seed)
        return {name: t.detach().to("cpu", torch.float64).numpy().copy() for name, t in model.state_dict().items()}

    def run(self, ctx: SolveContext) -> Outcome:
        s, fam = self.settings, ctx.family
        obj = ctx.objective()
        data = make_samples(fam, obj.gamma, ctx.n, s.samples, s.held_out, ctx.seed, ctx.dtype, ctx.device)
        if ctx.shared is not None:  # fitted once for every n of this seed (prepare_shared)
            model = load_surrogate(ctx.shared, data, fam, s, ctx.seed)
        else:
            model = fit_surrogate(data, fam, s, ctx.seed)
        x_train, g_train, y_train = data.part(data.train)
        y_mean = y_train.reshape(y_train.shape[0], -1).mean(dim=0)
        x_ho, g_ho, y_ho = data.part(data.test)
        held_out_mse = mse(model, x_ho, g_ho, y_ho)
        spread = float(((y_ho.reshape(y_ho.shape[0], -1) - y_mean) ** 2).mean())
        box = (data.x.min(dim=0).values, data.x.max(dim=0).values)

        diag = ctx.diagnostic()  # the true loss of the iterates, for the history only (not counted)
        ctx.expect_steps(s.steps)
        kept = set(subsample_history(s.steps, HISTORY_POINTS).tolist())

        def record(k: int, xk: torch.Tensor) -> None:
            if k in kept:
                ctx.record(k, lambda: diag(xk.detach()))

        x = invert(model, fam, ctx.start(), obj.gamma, obj.y_target, box, s.steps, s.lr, record)
        with torch.no_grad():
            loss = obj(x)  # the one counted true evaluation per problem
            # the samples were forward evaluations too: each is charged to the problem whose γ it used
            obj.evaluations += torch.as_tensor(np.bincount(data.problem, minlength=ctx.n), device=obj.evaluations.device)
        extras: dict[str, Any] = {}
        if ctx.test is not None:
            tobj = ctx.objective("test")
            tx = invert(model, fam, torch.as_tensor(np.broadcast_to(fam.x0, (tobj.n, fam.dim)).copy(),
                                                    dtype=ctx.dtype, device=ctx.device),
                        tobj.gamma, tobj.y_target, box, s.steps, s.lr)
            with torch.no_grad():
                extras = {"test_x": tx, "test_loss": tobj(tx)}
        info = {
            "surrogate": {
                "samples": s.samples,
                "train_samples": int(x_train.shape[0]),
                "held_out_samples": data.held_out,
                "train_mse": mse(model, x_train, g_train, y_train),
                "held_out_mse": held_out_mse,
                "held_out_relative_mse": held_out_mse / spread if spread > 0 else float("nan"),
                "parameters": sum(p.numel() for p in model.parameters()),
            },
            "inference_passes": s.steps,  # surrogate passes per new problem (JPO: one network pass)
        }
        return Outcome(x=x, loss=loss, iterations=s.steps, status=SolveStatus.BUDGET, extras=extras, info=info)
