"""Outputs y = F(x, γ) of one problem for several solutions x, as a family shows them in data
space: what the optional family hook ``ProblemFamily.data_view(x, gamma, y_target)`` returns (a
plain mapping, so a family imports nothing of the figures), checked into a :class:`DataView`,
stored in a panel file and drawn by :func:`draw_view` without torch or the family. Not a figure
(no ``FIGURE``).

Kinds (the keys of the hook's mapping):

- ``curves``: ``outputs`` (m, T) against ``axis`` (T,), e.g. a waveform u(t) or a field u(z, T);
  ``target`` (T,) drawn in grey under them;
- ``paths``: ``outputs`` (m, K, P, 2): for each solution P polylines through K knots in the
  plane (e.g. the paths of the balls of a billiards shot), each ending in a circle of ``radius``;
  ``discs`` (B, 2): start positions drawn as circles; ``path_names`` (P,) for the legend;
  ``target`` (2,) a point;
- ``images``: ``outputs`` (m, H, W) fields on ``axis`` = extent (x_lo, x_hi, y_lo, y_hi), one
  panel per solution, ``target`` (H, W) first; one colour scale per problem.

Every kind takes ``xlabel`` and ``ylabel``. ``outputs[k]`` belongs to ``x[k]`` as given to the hook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("curves", "paths", "images")
_ARRAYS = ("outputs", "target", "axis", "discs")
PATH_LINES = (":", "-", "--", "-.")  # path p of a solution: cue dotted, ball 1 solid, ball 2 dashed
TARGET_COLOR = "0.45"  # y* of curves: a thin darker grey line (the truth is a light grey band)


@dataclass
class DataView:
    """One problem's outputs for several solutions, in one of :data:`KINDS` (module docstring)."""

    kind: str
    outputs: np.ndarray
    target: np.ndarray | None = None
    axis: np.ndarray | None = None
    xlabel: str = ""
    ylabel: str = ""
    discs: np.ndarray | None = None
    radius: float = 0.0
    path_names: tuple[str, ...] = ()

    @classmethod
    def from_hook(cls, view: Mapping[str, Any], m: int, where: str) -> DataView:
        """Check the mapping a family's ``data_view`` returned for ``m`` solutions; ValueError
        naming ``where`` (the family's hook) and what is wrong."""
        if not isinstance(view, Mapping):
            raise ValueError(f"{where} must return a mapping or None, got {type(view).__name__}")
        unknown = set(view) - {"kind", "xlabel", "ylabel", "radius", "path_names", *_ARRAYS}
        if unknown:
            raise ValueError(f"{where} returned unknown keys {sorted(unknown)}")
        kind = view.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        arrays = {k: None if view.get(k) is None else np.asarray(view[k], dtype=np.float64) for k in _ARRAYS}
        out = cls(kind, arrays["outputs"], arrays["target"], arrays["axis"], str(view.get("xlabel", "")),
                  str(view.get("ylabel", "")), arrays["discs"], float(view.get("radius", 0.0)),
                  tuple(str(s) for s in view.get("path_names", ())))
        problem = out.shape_problem(m)
        if problem:
            raise ValueError(f"{where} ({kind}): {problem}")
        return out

    def shape_problem(self, m: int) -> str | None:
        """What is wrong with the array shapes for ``m`` solutions, or None."""
        out, target, axis = self.outputs, self.target, self.axis
        if out is None or out.shape[:1] != (m,):
            return f"outputs must have one entry per solution ({m}), got shape {None if out is None else out.shape}"
        if self.kind == "curves":
            if out.ndim != 2 or axis is None or axis.shape != out.shape[1:]:
                return f"outputs (m, T) need an axis (T,), got {out.shape} and {None if axis is None else axis.shape}"
            if target is not None and target.shape != out.shape[1:]:
                return f"target must have shape {out.shape[1:]}, got {target.shape}"
        elif self.kind == "paths":
            if out.ndim != 4 or out.shape[-1] != 2:
                return f"outputs must be (m, knots, paths, 2), got {out.shape}"
            if target is not None and target.shape != (2,):
                return f"target must be a point (2,), got {target.shape}"
            if self.discs is not None and (self.discs.ndim != 2 or self.discs.shape[1] != 2):
                return f"discs must be (B, 2), got {self.discs.shape}"
        else:
            if out.ndim != 3:
                return f"outputs must be (m, H, W), got {out.shape}"
            if target is not None and target.shape != out.shape[1:]:
                return f"target must have shape {out.shape[1:]}, got {target.shape}"
            if axis is not None and axis.shape != (4,):
                return f"axis must be an extent (x_lo, x_hi, y_lo, y_hi), got {axis.shape}"
        return None

    # --- panel file ---------------------------------------------------------------------------
    def datasets(self, prefix: str) -> dict[str, np.ndarray]:
        """Its arrays as panel-file datasets named ``{prefix}_{name}``."""
        return {f"{prefix}_{k}": getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None}

    def attrs(self) -> dict[str, Any]:
        """Its scalars and labels as JSON-able attributes."""
        return {"kind": self.kind, "xlabel": self.xlabel, "ylabel": self.ylabel, "radius": self.radius,
                "path_names": list(self.path_names)}

    @classmethod
    def read(cls, arrays: Mapping[str, np.ndarray], prefix: str, attrs: Mapping[str, Any]) -> DataView:
        """The view written by :meth:`datasets` and :meth:`attrs`."""
        got = {k: arrays.get(f"{prefix}_{k}") for k in _ARRAYS}
        return cls(attrs["kind"], got["outputs"], got["target"], got["axis"], attrs.get("xlabel", ""),
                   attrs.get("ylabel", ""), got["discs"], float(attrs.get("radius", 0.0)),
                   tuple(attrs.get("path_names", ())))


def draw_view(axes: Sequence, view: DataView, styles: Sequence[dict[str, Any]], titles: Sequence[str] = ()) -> None:
    """Draw ``view`` with one style per solution (keys color, ls, lw, label, zorder): kinds
    ``curves`` and ``paths`` on ``axes[0]``; ``images`` one solution per axis after the target
    (``axes[0]``), each titled from ``titles`` (target first)."""
    if view.kind == "curves":
        _draw_curves(axes[0], view, styles)
    elif view.kind == "paths":
        _draw_paths(axes[0], view, styles)
    else:
        _draw_images(axes, view, titles)


def axes_needed(view: DataView) -> int:
    """How many axes one problem takes: one for curves and paths; for images the target (if
    any) and one per solution."""
    if view.kind != "images":
        return 1
    return len(view.outputs) + (view.target is not None)


def _draw_curves(ax, view: DataView, styles: Sequence[dict[str, Any]]) -> None:
    t = view.axis
    if view.target is not None:
        ax.plot(t, view.target, color=TARGET_COLOR, lw=0.5, zorder=2.5)  # above the truth's band
    for y, st in zip(view.outputs, styles):
        ax.plot(t, y, color=st["color"], ls=st.get("ls", "-"), lw=st.get("lw", 1.0), zorder=st.get("zorder", 3))
    ax.set_xlim(float(np.nanmin(t)), float(np.nanmax(t)))
    ax.set_xlabel(view.xlabel)
    ax.set_ylabel(view.ylabel)


def _draw_paths(ax, view: DataView, styles: Sequence[dict[str, Any]]) -> None:
    from matplotlib.patches import Circle

    points = []
    if view.discs is not None:
        for b, centre in enumerate(view.discs):
            ax.add_patch(Circle(centre, max(view.radius, 1e-9), facecolor="white" if b == 0 else "0.3",
                                edgecolor="black", lw=0.5, zorder=6))
        points.append(view.discs)
    for knots, st in zip(view.outputs, styles):  # (K, P, 2)
        for p in range(knots.shape[1]):
            path = knots[:, p]
            if not np.isfinite(path).all() or np.allclose(path, path[0]):
                continue  # never moved (or no finite path)
            ax.plot(path[:, 0], path[:, 1], color=st["color"], lw=st.get("lw", 1.0),
                    ls=PATH_LINES[p % len(PATH_LINES)], zorder=st.get("zorder", 3), solid_capstyle="round")
            if view.radius > 0:
                ax.add_patch(Circle(path[-1], view.radius, facecolor="none", edgecolor=st["color"], lw=0.7,
                                    zorder=st.get("zorder", 3) + 1))
            points.append(path)
    if view.target is not None:
        ax.scatter(*view.target, marker="x", s=26, color="black", lw=1.1, zorder=8)
        points.append(view.target[None])
    pts = np.vstack(points) if points else np.zeros((1, 2))
    pts = pts[np.isfinite(pts).all(axis=1)]
    if pts.size:
        pad = 0.06 * max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 4 * view.radius, 1e-6)
        ax.set_xlim(pts[:, 0].min() - pad, pts[:, 0].max() + pad)
        ax.set_ylim(pts[:, 1].min() - pad, pts[:, 1].max() + pad)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(view.xlabel)
    ax.set_ylabel(view.ylabel)


def _draw_images(axes: Sequence, view: DataView, titles: Sequence[str]) -> None:
    fields = ([view.target] if view.target is not None else []) + list(view.outputs)
    finite = np.concatenate([f[np.isfinite(f)] for f in fields[:2]]) if fields else np.zeros(1)
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    extent = None if view.axis is None else [float(v) for v in view.axis]
    image = None
    for k, (ax, f) in enumerate(zip(axes, fields)):
        image = ax.imshow(f.T, origin="lower", extent=extent, vmin=lo, vmax=hi, cmap="viridis",
                          interpolation="nearest")
        if k < len(titles):
            ax.set_title(titles[k], fontsize=7, loc="center")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(True)
    if axes:
        axes[0].set_xlabel(view.xlabel)
        axes[0].set_ylabel(view.ylabel)
    if image is not None:
        cbar = axes[len(fields) - 1].figure.colorbar(image, ax=axes[len(fields) - 1], fraction=0.08, pad=0.03)
        cbar.ax.tick_params(labelsize=6)
