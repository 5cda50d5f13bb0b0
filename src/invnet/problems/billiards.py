"""Billiards (docs/experiments.md §4.2): choose the cue velocity so that an object ball comes to rest at a target.

Zero-gradient regions: if the cue ball misses, the object ball never moves, so the loss is constant
in x and its gradient is exactly zero. A fixed x0 that misses most object balls leaves gradient-based
solvers stuck on most problems.

Physics (closed form, event based, no time stepping). Balls of radius r and equal mass on an
unbounded table; friction dv/dt = -mu v acts on every ball alike, so with
s(t) = (1 - exp(-mu t)) / mu every ball moves on a straight line in s with a constant "s-velocity"
dp/ds = v(t) exp(mu t) between events and rests at s_max = 1/mu (t -> inf). Because the friction
factor exp(-mu t) is shared by all balls, the elastic impulse along the line of centres with
restitution e can be applied to the s-velocities directly:
u = (v_a - v_b).n,  v_a -= (1+e)/2 u n,  v_b += (1+e)/2 u n.
A first contact between a moving ball and a resting one is the smaller root of a quadratic in s.

Only the intended event sequence is modelled: cue -> ball 1 (and, with ``chain = 2``,
ball 1 -> ball 2). Ignored: the cue touching ball 2, and the cue touching ball 1 again after ball 1
hit ball 2. (Without a third ball, cue and ball 1 separate for good after their contact, so in
``chain = 1`` nothing is ignored.) ``sample`` rejects configurations where an ignored contact
would occur for x_true; for other x these contacts are simply not part of the model.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError
from .base import ParamSpec, ProblemFamily, ProblemSet

_MAX_TRIES = 200  # rejection-sampling rounds before giving up
_CLEARANCE = 1.1  # ignored contacts of x_true must keep centres > 1.1 * 2r apart


class Billiards(ProblemFamily):
    """Cue ball at the origin with unknown initial velocity x = (v_x, v_y); y = rest position of
    the target ball (ball 1, or ball 2 for ``chain = 2``); L = |y - y*|^2.

    gamma (identifier) is ball 1's position, shape (n, 2); with ``chain = 2`` it is
    (ball 1 x, ball 1 y, ball 2 x, ball 2 y), shape (n, 4). Ball 1 ~ U(object_x_range x
    object_y_range). Ball 2 sits at distance ``chain_distance`` behind ball 1, in a direction
    within +-``chain_cone`` degrees (uniform) of the ray from the cue (origin) through ball 1.

    x_true: the cue aims at ball 1 with an impact parameter uniform in
    +-impact_fraction * 2r (chain 1), or, for chain 2, the "ghost ball" aim that sends ball 1
    towards ball 2 with an impact parameter uniform in +-impact_fraction * 2r; the speed is
    uniform in ``speed_range``. Draws where the intended contacts do not all happen before the
    balls stop, the cue meets ball 1 at a nearly grazing angle (chain 2: cos < 0.2), or an ignored
    contact would happen, are redrawn.
    """

    name = "billiards"
    label = "Billiards"
    noise_free = {"noise": 0.0}
    param_names = ("v_x", "v_y")
    params_spec = {
        "radius": ParamSpec(0.03, float, positive=True, doc="ball radius r"),
        "friction": ParamSpec(0.5, float, positive=True, doc="mu in dv/dt = -mu v"),
        "restitution": ParamSpec(0.8, float, doc="coefficient of restitution e in [0, 1]"),
        "chain": ParamSpec(1, int, choices=(1, 2), doc="object balls: 1, or 2 (cue -> 1 -> 2)"),
        "object_x_range": ParamSpec([0.4, 0.8], float, length=2, doc="prior of ball 1's x"),
        "object_y_range": ParamSpec([-0.2, 0.2], float, length=2, doc="prior of ball 1's y"),
        "chain_distance": ParamSpec(0.3, float, positive=True, doc="ball 1 to ball 2 distance"),
        "chain_cone": ParamSpec(
            30.0, float, doc="half-angle (degrees) of ball 2's direction around the cue-ball 1 ray"
        ),
        "impact_fraction": ParamSpec(
            0.8, float, positive=True, doc="max |impact parameter| of x_true, in units of 2r"
        ),
        "speed_range": ParamSpec([1.0, 2.0], float, length=2, doc="prior of |x_true| (uniform)"),
        "noise": ParamSpec(0.0, float, doc="std of additive Gaussian noise on y*"),
        "x0": ParamSpec([1.0, 0.0], float, length=2, doc="shared initial guess (v_x, v_y): straight ahead"),
        "bounds": ParamSpec(
            [[0.0, 3.0], [-1.5, 1.5]], float, length=2, doc="box for L-BFGS-B and network scaling"
        ),
    }

    # --- configuration --------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"experiments.{self.name}.problem.{key}"

    def validate(self) -> None:
        p = self.params
        for key in ("object_x_range", "object_y_range", "speed_range"):
            lo, hi = p[key]
            if not lo < hi:
                raise ConfigError(self._key(key), f"need low < high, got {p[key]}")
        if p["speed_range"][0] <= 0:
            raise ConfigError(self._key("speed_range"), "speeds must be > 0")
        if not 0.0 <= p["restitution"] <= 1.0:
            raise ConfigError(self._key("restitution"), f"must be in [0, 1], got {p['restitution']}")
        if p["noise"] < 0:
            raise ConfigError(self._key("noise"), "must be >= 0")
        if not p["impact_fraction"] < 1.0:
            raise ConfigError(self._key("impact_fraction"), "must be in (0, 1): x_true must hit")
        if not 0.0 <= p["chain_cone"] < 90.0:
            raise ConfigError(self._key("chain_cone"), "must be in [0, 90) degrees")
        diameter = 2 * p["radius"]
        ranges = (p["object_x_range"], p["object_y_range"])
        nearest = math.hypot(*(min(max(0.0, lo), hi) for lo, hi in ranges))
        if nearest <= diameter:
            raise ConfigError(
                self._key("object_x_range"), f"ball 1 may overlap the cue ball (needs distance > {diameter})"
            )
        if p["chain_distance"] <= diameter:
            raise ConfigError(self._key("chain_distance"), f"must exceed the diameter {diameter}")
        for i, b in enumerate(p["bounds"]):
            if not (isinstance(b, list) and len(b) == 2 and b[0] < b[1]):
                raise ConfigError(self._key(f"bounds[{i}]"), f"need [low, high], got {b}")

    @property
    def s_max(self) -> float:
        """s at rest (t -> inf): 1 / mu."""
        return 1.0 / self.params["friction"]

    @property
    def gamma_dim(self) -> int:
        return 2 * self.params["chain"]

    # --- physics ------------------------------------------------------------------------------
    def _contact(
        self, d: torch.Tensor, w: torch.Tensor, reach: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """First contact of a ball moving with s-velocity w towards a resting ball at offset d.

        Solves |d - w sigma| = 2r for the smaller root sigma; a hit needs a real root with
        0 <= sigma < reach. Returns (sigma, hit); sigma is finite, with a finite gradient, and
        independent of w where there is no hit (double-where guard of sqrt and division).
        """
        diam2 = (2.0 * self.params["radius"]) ** 2
        b = (w * d).sum(-1)
        c = (d * d).sum(-1) - diam2
        disc = b * b - (w * w).sum(-1) * c
        ok = (disc > 0) & (b > 0) & (c > 0)
        disc_safe = torch.where(ok, disc, torch.ones_like(disc))
        den = torch.where(ok, b + torch.sqrt(disc_safe), torch.ones_like(b))
        sigma = torch.where(ok, c / den, reach)  # stable form of (b - sqrt(disc)) / |w|^2
        hit = ok & (sigma < reach)
        return torch.where(hit, sigma, reach), hit

    def _impulse(
        self, d: torch.Tensor, w: torch.Tensor, sigma: torch.Tensor, hit: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Collision of a mover (s-velocity w) with a resting ball at offset d, at s-offset sigma.

        Returns (mover velocity after, struck ball velocity after, unit normal n at contact);
        unchanged velocities (w, 0) where there is no hit.
        """
        k = 0.5 * (1.0 + self.params["restitution"])
        n = (d - w * sigma[:, None]) / (2.0 * self.params["radius"])
        du = (k * (w * n).sum(-1))[:, None] * n
        h = hit[:, None]
        return torch.where(h, w - du, w), torch.where(h, du, torch.zeros_like(du)), n

    def events(self, x: torch.Tensor, gamma: torch.Tensor) -> dict[str, torch.Tensor]:
        """The intended collisions for each problem, batched: (m, 2) x (m, gamma_dim).

        Keys: ``hit1`` (m,) bool, ``s1`` (m,) s of the cue -> ball 1 contact (s_max if none),
        ``n1`` (m, 2) unit normal cue -> ball 1 at contact, ``cue_after``, ``ball1_after``
        (m, 2) s-velocities after it; for chain 2 also ``hit2``, ``s2`` (absolute s of the
        ball 1 -> ball 2 contact, s_max if none), ``n2``, ``ball1_final``, ``ball2_after``.
        Velocities are s-velocities (dp/ds); the actual velocity at time t is exp(-mu t) times it.
        Collision times follow from t = -log(1 - mu s) / mu.
        """
        gamma = gamma.to(dtype=x.dtype, device=x.device)
        s_max = torch.full_like(x[:, 0], self.s_max)
        g1 = gamma[:, 0:2]
        s1, hit1 = self._contact(g1, x, s_max)
        cue_after, v1, n1 = self._impulse(g1, x, s1, hit1)
        out = {"hit1": hit1, "s1": s1, "n1": n1, "cue_after": cue_after, "ball1_after": v1}
        if self.params["chain"] == 2:
            d12 = gamma[:, 2:4] - g1
            sig2, hit2 = self._contact(d12, v1, s_max - s1)
            hit2 = hit2 & hit1
            v1_final, v2, n2 = self._impulse(d12, v1, sig2, hit2)
            out.update(
                hit2=hit2,
                s2=torch.where(hit2, s1 + sig2, s_max),
                n2=n2,
                ball1_final=v1_final,
                ball2_after=v2,
            )
        return out

    def positions_at_s(self, x: torch.Tensor, gamma: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Positions of all balls at the given s values, shared (T,) or per problem (m, T):
        -> (m, T, 1 + chain, 2), ball order (cue, ball 1[, ball 2]). s is clamped to s_max."""
        gamma = gamma.to(dtype=x.dtype, device=x.device)
        ev = self.events(x, gamma)
        s = torch.as_tensor(s, dtype=x.dtype, device=x.device).clamp(max=self.s_max)
        s = s.expand(x.shape[0], -1)[:, :, None]
        s1 = ev["s1"][:, None, None]
        s2 = ev["s2"][:, None, None] if "s2" in ev else torch.full_like(s1, self.s_max)
        cue = x[:, None] * torch.minimum(s, s1) + ev["cue_after"][:, None] * (s - s1).clamp(min=0)
        ball1 = gamma[:, None, 0:2] + ev["ball1_after"][:, None] * (torch.minimum(s, s2) - s1).clamp(min=0)
        balls = [cue, ball1]
        if "s2" in ev:
            ball1 = ball1 + ev["ball1_final"][:, None] * (s - s2).clamp(min=0)
            ball2 = gamma[:, None, 2:4] + ev["ball2_after"][:, None] * (s - s2).clamp(min=0)
            balls = [cue, ball1, ball2]
        return torch.stack(balls, dim=2)

    def trajectory(self, x: torch.Tensor, gamma: torch.Tensor, t: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Positions of all balls at times t (T,) (inf = rest): (m, T, 1 + chain, 2), for drawing."""
        mu = self.params["friction"]
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        return self.positions_at_s(x, gamma, -torch.expm1(-mu * t) / mu)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        """Rest position of the target ball, (m, 2) -> (m, 2). Exactly gamma's ball position
        (no dependence on x at all) when the intended collisions do not all happen."""
        if gamma is None:
            raise ValueError("billiards needs gamma (object ball positions)")
        gamma = gamma.to(dtype=x.dtype, device=x.device)
        ev = self.events(x, gamma)
        if self.params["chain"] == 1:
            start, hit, v, s_hit = gamma[:, 0:2], ev["hit1"], ev["ball1_after"], ev["s1"]
        else:
            start, hit, v, s_hit = gamma[:, 2:4], ev["hit2"], ev["ball2_after"], ev["s2"]
        rest = start + v * (self.s_max - s_hit)[:, None]
        return torch.where(hit[:, None], rest, start)

    def loss(self, y: torch.Tensor, y_target: torch.Tensor) -> torch.Tensor:
        return ((y - y_target) ** 2).sum(dim=-1)

    # --- sampling -----------------------------------------------------------------------------
    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One unchecked draw of (gamma, x_true)."""
        p = self.params
        diam = 2.0 * p["radius"]
        g1 = np.stack([rng.uniform(*p["object_x_range"], n), rng.uniform(*p["object_y_range"], n)], 1)
        theta1 = np.arctan2(g1[:, 1], g1[:, 0])
        offset = rng.uniform(-1.0, 1.0, n) * p["impact_fraction"] * diam
        speed = rng.uniform(*p["speed_range"], n)
        if p["chain"] == 1:
            aim = theta1 + np.arcsin(offset / np.linalg.norm(g1, axis=1))
            return g1, speed[:, None] * np.stack([np.cos(aim), np.sin(aim)], 1)
        theta2 = theta1 + np.deg2rad(p["chain_cone"]) * rng.uniform(-1.0, 1.0, n)
        g2 = g1 + p["chain_distance"] * np.stack([np.cos(theta2), np.sin(theta2)], 1)
        phi = theta2 + np.arcsin(offset / p["chain_distance"])  # direction ball 1 must take
        normal = np.stack([np.cos(phi), np.sin(phi)], 1)
        ghost = g1 - diam * normal  # cue centre at contact
        direction = ghost / np.linalg.norm(ghost, axis=1, keepdims=True)
        return np.concatenate([g1, g2], 1), speed[:, None] * direction

    def _acceptable(self, gamma: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Intended contacts all happen, none nearly grazing, and no ignored contact occurs."""
        xt, gt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(gamma, dtype=torch.float64)
        ev = {k: v.numpy() for k, v in self.events(xt, gt).items()}
        if self.params["chain"] == 1:
            return ev["hit1"]
        direction = x / np.linalg.norm(x, axis=1, keepdims=True)
        ok = ev["hit1"] & ev["hit2"] & ((direction * ev["n1"]).sum(1) > 0.2)
        # Motion is affine in s between events, so min distances follow from segment endpoints.
        s_knots = np.stack([np.zeros(len(x)), ev["s1"], ev["s2"], np.full(len(x), self.s_max)], 1)
        pos = self.positions_at_s(xt, gt, torch.as_tensor(s_knots)).numpy()  # (n, 4, 3 balls, 2)
        clearance = _CLEARANCE * 2.0 * self.params["radius"]
        cue_ball2 = _min_segment_distance(pos[:, :, 0] - pos[:, :, 2])  # whole run
        cue_ball1 = _min_segment_distance(pos[:, 2:, 0] - pos[:, 2:, 1])  # after ball 1 hit ball 2
        return ok & (cue_ball2 > clearance) & (cue_ball1 > clearance)

    def sample(self, n: int, rng: np.random.Generator) -> ProblemSet:
        gamma, x_true = self._draw(n, rng)
        bad = ~self._acceptable(gamma, x_true)
        for _ in range(_MAX_TRIES):
            if not bad.any():
                break
            idx = np.flatnonzero(bad)
            gamma[idx], x_true[idx] = self._draw(len(idx), rng)
            bad[idx] = ~self._acceptable(gamma[idx], x_true[idx])
        else:
            if bad.any():
                raise RuntimeError(f"billiards: could not sample {int(bad.sum())} hitting problems")
        clean = self.forward(torch.as_tensor(x_true), torch.as_tensor(gamma)).numpy()
        y = clean + self.params["noise"] * rng.standard_normal(clean.shape)
        return ProblemSet(y_target=y, x_true=x_true, gamma=gamma)

    def data_view(self, x: np.ndarray, gamma: np.ndarray | None, y_target: np.ndarray) -> dict:
        """The shots x (m, 2) on one table (its γ): every ball's path through its positions at
        the start, at each intended contact and at rest (exact: straight lines in between),
        the balls' start positions and the target y*."""
        xt = torch.as_tensor(x, dtype=torch.float64)
        g = torch.as_tensor(gamma, dtype=torch.float64).expand(xt.shape[0], -1)
        with torch.no_grad():
            ev = self.events(xt, g)
            s_max = torch.full_like(xt[:, 0], self.s_max)
            knots = [torch.zeros_like(s_max), ev["s1"]] + ([ev["s2"]] if "s2" in ev else []) + [s_max]
            paths = self.positions_at_s(xt, g, torch.stack(knots, dim=1)).numpy()
        balls = np.vstack([np.zeros((1, 2)), np.asarray(gamma, dtype=np.float64).reshape(-1, 2)])
        names = ["cue", *(f"ball {b}" for b in range(1, len(balls)))]
        return {"kind": "paths", "outputs": paths, "target": y_target, "discs": balls,
                "radius": self.params["radius"], "path_names": names, "xlabel": "$x$", "ylabel": "$y$"}


class BilliardsChain(Billiards):
    """The harder variant (config key ``billiards_chain``): cue -> ball 1 -> ball 2, target ball 2."""

    name = "billiards_chain"
    label = "Billiards (chain)"
    params_spec = {
        **Billiards.params_spec,
        "chain": ParamSpec(2, int, choices=(1, 2), doc=Billiards.params_spec["chain"].doc),
    }


def _min_segment_distance(rel: np.ndarray) -> np.ndarray:
    """Min |rel| over the polyline through rel[:, k] (n, K, 2), each piece linear: (n,)."""
    a, b = rel[:, :-1], rel[:, 1:]
    d = b - a
    dd = (d * d).sum(-1)
    tau = np.clip(-(a * d).sum(-1) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    closest = a + tau[..., None] * d
    return np.sqrt((closest * closest).sum(-1)).min(axis=1)
