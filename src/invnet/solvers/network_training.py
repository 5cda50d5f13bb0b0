"""JPO and supervised training of one network over the whole problem set (docs/experiments.md §2).

JPO minimises the mean of all n losses through the forward process; ``voting`` replaces each
problem's dL_i/dx_i by its sign or clips its norm before it reaches θ (docs/experiments.md §3). Supervised training
fits the ground-truth parameters in x-space instead. Solutions are the trained predictions on the
same (training) problems; predictions on the held-out test set are stored too.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..spec import ParamSpec
from ..seeding import torch_generator
from .base import Outcome, Solver, SolveStatus
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
}


class _NetworkSolver(Solver):
    cost = 2.0
    network = True
    tuning = {"hidden": [[32, 32], [64, 64], [128, 128]], "lr": [3e-4, 1e-3, 3e-3], "lr_schedule": ["constant", "cosine"]}

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
        ctx.expect_steps(s.steps)
        for k in range(s.steps):
            opt.zero_grad(set_to_none=True)
            x = net(feats)
            train_loss, true_losses = self.training_loss(ctx, x, obj)
            if ctx.wants(k):
                if true_losses is None:
                    with torch.no_grad():
                        true_losses = diag(x)
                ctx.record(k, true_losses)
            train_loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
        with torch.no_grad():
            x = net(feats)
            final = obj(x)
            extras = {}
            if ctx.test is not None:
                tobj = ctx.objective("test")
                tx = net(fam.features(tobj.y_target, tobj.gamma))
                extras = {"test_x": tx, "test_loss": tobj(tx)}
        ctx.record(s.steps, final)
        return Outcome(
            x=x, loss=final, iterations=s.steps, status=SolveStatus.BUDGET, extras=extras,
            info={"network_parameters": sum(p.numel() for p in net.parameters())},
        )


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
