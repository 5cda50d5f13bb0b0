"""JPO and supervised training of one network over the whole problem set (docs/experiments.md §2).

JPO minimises the mean of all n losses through the forward process; ``voting`` replaces each
problem's dL_i/dx_i by its sign or clips its norm before it reaches θ (docs/experiments.md §3). Supervised training
fits the ground-truth parameters in x-space instead. Solutions are the trained predictions on the
same (training) problems; predictions on the held-out test set are stored too.

How long they train (docs/experiments.md §2.6): ``steps`` full-batch Adam steps (the default),
or with ``until: converged`` until the training loss has converged by the window rule of
:mod:`.convergence` (``converge_window``, ``converge_rtol``), at most ``steps``. Every run records
the first step at which the rule held (``info["converged_at"]``, None if never), so a fixed-length
run also says whether its loss had flattened; ``solve_status`` is CONVERGED for a run stopped by
the rule, BUDGET for one that stopped at ``steps``, and ``iterations`` the step it stopped at.
``checkpoints`` records the per-problem solutions and losses at those steps within the one run
(datasets ``checkpoint_*``); with a constant learning rate the state at step s of a longer run is
bit for bit the state of an s-step run, so one run holds a whole training-length sweep.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..spec import ParamSpec
from ..seeding import torch_generator
from .base import Outcome, Solver, SolveStatus
from .convergence import ConvergenceRule
from .driver import SolveContext  # the driver shapes every result: in each solver's code fingerprint
from .networks import ACTIVATIONS, build_network

NETWORK_SETTINGS = {
    "network": ParamSpec(
        "mlp", str, choices=("mlp", "cnn"),
        doc="architecture: mlp (flattened inputs) or cnn (image inputs, e.g. the fluid family)",
    ),
    "channels": ParamSpec(
        [8, 16, 16], int, length=-1, positive=True,
        doc="cnn only: channels of the stride-2 3x3 convolutions (circular padding), before the hidden layers",
    ),
    "hidden": ParamSpec([64, 64], int, length=-1, positive=True, doc="hidden layer widths"),
    "activation": ParamSpec("relu", str, choices=tuple(ACTIVATIONS), doc="hidden activation"),
    "lr": ParamSpec(1e-3, float, positive=True, doc="Adam learning rate"),
    "steps": ParamSpec(2000, int, positive=True, doc="full-batch Adam steps"),
    "adam_eps": ParamSpec(1e-7, float, positive=True, doc="Adam epsilon (PhiML default 1e-7)"),
    "lr_schedule": ParamSpec(
        "constant", str, choices=("constant", "cosine"), doc="learning rate over training: constant or cosine decay to 0"
    ),
    "until": ParamSpec(
        "steps", str, choices=("steps", "converged"),
        doc="stop after `steps` steps, or once the training loss has converged (window rule), at most `steps`",
    ),
    "converge_window": ParamSpec(
        500, int, positive=True, doc="convergence rule: W, the steps of each of the two windows whose mean losses are compared",
    ),
    "converge_rtol": ParamSpec(
        1e-3, float, positive=True,
        doc="convergence rule: converged when the mean loss of the last W steps is within rtol of the W before",
    ),
    "checkpoints": ParamSpec(
        [], int, length=0, positive=True, unique=True,
        doc="steps at which the per-problem solutions and losses are also recorded (constant lr only)",
    ),
}


class _NetworkSolver(Solver):
    cost = 2.0
    network = True
    tuning = {"hidden": [[32, 32], [64, 64], [128, 128]], "lr": [3e-4, 1e-3, 3e-3], "lr_schedule": ["constant", "cosine"]}

    @classmethod
    def check_settings(cls, settings, where: str) -> None:
        late = [c for c in settings.checkpoints if c > settings.steps]
        if late:
            raise ConfigError(f"{where}.checkpoints", f"entries must be <= steps ({settings.steps}), got {late}")
        if settings.checkpoints and settings.lr_schedule != "constant":
            raise ConfigError(
                f"{where}.checkpoints",
                f"need lr_schedule: constant (got {settings.lr_schedule!r}: its learning rate at step s depends on "
                "the total steps, so the state at a checkpoint would be no shorter run's); allowed: constant",
            )

    @classmethod
    def check_family(cls, settings, family, where: str) -> None:
        if settings.network == "cnn" and family.image_shape() is None:
            raise ConfigError(
                f"{where}.network",
                f"got 'cnn', but family '{family.name}' has no image inputs; allowed: mlp",
            )

    def training_loss(self, ctx: SolveContext, x: torch.Tensor, obj) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scalar training loss, per-problem true losses or None if not computed)."""
        raise NotImplementedError

    def run(self, ctx: SolveContext) -> Outcome:
        s = self.settings
        fam = ctx.family
        obj = ctx.objective()
        diag = ctx.diagnostic()  # loss history for methods that do not train through F (not counted)
        feats = fam.features(obj.y_target, obj.gamma)
        net = build_network(feats, fam, s, torch_generator(ctx.seed, "network-init"))
        opt = torch.optim.Adam(net.parameters(), lr=s.lr, eps=s.adam_eps)
        schedule = None
        if s.lr_schedule == "cosine":
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.steps)
        rule = ConvergenceRule(s.converge_window, s.converge_rtol)
        checkpoints = _Checkpoints(s.checkpoints)
        ctx.expect_steps(s.steps)
        stop = s.steps
        for k in range(s.steps):
            opt.zero_grad(set_to_none=True)
            x = net(feats)
            train_loss, true_losses = self.training_loss(ctx, x, obj)
            counted = true_losses is not None  # the losses of this state were counted evaluations
            if ctx.wants(k) or k in checkpoints:
                if true_losses is None:
                    with torch.no_grad():
                        true_losses = diag(x)
                if ctx.wants(k):
                    ctx.record(k, true_losses)
                if k in checkpoints:
                    checkpoints.save(k, x, true_losses, ctx.evaluations() + (0 if counted else 1))
            train_loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            if rule.update(train_loss.item()) and s.until == "converged":
                stop = k + 1  # the state after this update: bit for bit a (k + 1)-step run's
                break
        with torch.no_grad():
            x = net(feats)
            final = obj(x)
            extras = checkpoints.datasets(stop, x, final, ctx.evaluations())
            if ctx.test is not None:
                tobj = ctx.objective("test")
                tx = net(fam.features(tobj.y_target, tobj.gamma))
                extras.update(test_x=tx, test_loss=tobj(tx))
        ctx.record(stop, final)  # kept when step `stop` is among the history's log-spaced steps
        converged = s.until == "converged" and rule.first == stop
        return Outcome(
            x=x, loss=final, iterations=stop, status=SolveStatus.CONVERGED if converged else SolveStatus.BUDGET,
            extras=extras,
            info={"network_parameters": sum(p.numel() for p in net.parameters()), "converged_at": rule.first},
        )


class _Checkpoints:
    """The per-problem state at declared steps of one training run (datasets ``checkpoint_*``):
    ``checkpoint_step`` the declared steps, ``checkpoint_at`` the step whose state is stored (the
    run's last step where it stopped earlier, by the convergence rule), ``checkpoint_x`` (C, n, dim),
    ``checkpoint_loss`` (C, n) and ``checkpoint_evaluations`` (C, n): what a run of that many steps
    would record as its solutions, losses and evaluations."""

    def __init__(self, steps):
        self.steps = sorted(int(c) for c in steps)
        self.saved: dict[int, tuple[torch.Tensor, torch.Tensor, object]] = {}

    def __contains__(self, k: int) -> bool:
        return k in self.steps

    def save(self, k: int, x: torch.Tensor, losses: torch.Tensor, evaluations) -> None:
        self.saved[k] = (x.detach().clone(), losses.detach().clone(), evaluations)

    def datasets(self, stop: int, x: torch.Tensor, loss: torch.Tensor, evaluations) -> dict[str, object]:
        """The checkpoint datasets ({} without checkpoints); steps at or after ``stop`` hold the
        final state (``x``, ``loss``, ``evaluations``)."""
        if not self.steps:
            return {}
        states = [self.saved[c] if c < stop else (x, loss, evaluations) for c in self.steps]
        return {
            "checkpoint_step": torch.tensor(self.steps, dtype=torch.int64),
            "checkpoint_at": torch.tensor([min(c, stop) for c in self.steps], dtype=torch.int64),
            "checkpoint_x": torch.stack([st[0] for st in states]),
            "checkpoint_loss": torch.stack([st[1] for st in states]),
            "checkpoint_evaluations": torch.stack([torch.as_tensor(st[2], dtype=torch.int64) for st in states]),
        }


class JPO(_NetworkSolver):
    """Joint parameter optimisation: train N_θ on the mean loss through the forward process."""

    name = "jpo"
    label = "JPO"
    primary = True
    order = 40
    style = {"color": ("colorblind", 0), "marker": "D"}
    settings_spec = {
        **NETWORK_SETTINGS,
        "voting": ParamSpec("none", str, choices=("none", "sign", "clip"), doc="per-problem gradient transform"),
        "clip": ParamSpec(1.0, float, positive=True, doc="per-problem gradient norm cap for voting=clip"),
    }

    def training_loss(self, ctx: SolveContext, x: torch.Tensor, obj):
        losses = obj(x)
        mode = self.settings.voting
        if mode != "none" and x.requires_grad:
            x.register_hook(_voting_hook(mode, self.settings.clip, obj.n))
        return losses.mean(), losses


def _voting_hook(mode: str, clip: float, n: int):
    """Replace each problem's gradient (n·dMean/dx_i = dL_i/dx_i) by its sign or clipped version."""

    def hook(grad: torch.Tensor) -> torch.Tensor:
        g = grad * n
        if mode == "sign":
            g = torch.sign(g)
        else:
            norm = g.norm(dim=1, keepdim=True)
            g = g * torch.clamp(clip / torch.clamp(norm, min=1e-300), max=1.0)
        return g / n

    return hook


class Supervised(_NetworkSolver):
    """Train the same network on MSE against the true parameters (normalised by the bounds)."""

    name = "supervised"
    label = "Supervised"
    order = 60
    style = {"color": ("colorblind", 2), "marker": "^"}
    settings_spec = dict(NETWORK_SETTINGS)

    def training_loss(self, ctx: SolveContext, x: torch.Tensor, obj):
        x_true = torch.as_tensor(ctx.train.x_true, dtype=x.dtype, device=x.device)
        half = torch.as_tensor(
            (ctx.family.bounds[:, 1] - ctx.family.bounds[:, 0]) / 2, dtype=x.dtype, device=x.device
        )
        return (((x - x_true) / half) ** 2).mean(), None
