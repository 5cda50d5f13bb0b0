"""The study interface. A study is a computation that is not a problem family: it has no
(experiment, n, seed) problem sets and no solvers, but it still runs as Snakemake jobs over seed
chunks, each writing an HDF5 artifact, followed by one aggregate table. It is one module under
``invnet.studies`` that defines ``STUDY = StudySpec(...)``; the config selects it with a block
``studies.<name>`` (its settings, declared once in ``settings_spec``).

The workflow runs it generically (``workflow/rules/studies.smk``):

- ``study_chunk``: ``results/studies/{study}/{part}/chunk{k}.h5`` for every part the study declares
  (e.g. a figure's panels) and every chunk of ``chunk`` consecutive seeds out of ``seeds``;
- ``study_table``: ``results/tables/{table}.csv`` from all chunks of the study.

A figure reads a study's table by naming the study in ``FigureSpec.studies``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ..spec import ParamSpec

PathLike = str | os.PathLike

STUDY_SPECS: dict[str, ParamSpec] = {
    "seeds": ParamSpec(1000, int, minimum=1, doc="seeds per curve (seeds 0..seeds-1)"),
    "chunk": ParamSpec(125, int, minimum=1, doc="seeds per job"),
}


@dataclass(frozen=True)
class StudySpec:
    """Declaration of one study (see the module docstring).

    ``parts(settings)``: the independent parts, each run over every seed chunk;
    ``run_chunk(settings, part, seeds, out)``: compute one part for the given seeds and write
    ``out`` (HDF5, atomically); ``aggregate(settings, chunk_paths, csv)``: the table from every
    chunk of every part.
    """

    name: str
    doc: str
    table: str  # results/tables/{table}.csv
    parts: Callable[[dict[str, Any]], list[str]]
    run_chunk: Callable[[dict[str, Any], str, list[int], PathLike], None]
    aggregate: Callable[[dict[str, Any], list[PathLike], PathLike], None]
    settings_spec: dict[str, ParamSpec] = field(default_factory=dict)
    validate: Callable[[dict[str, Any], str], None] | None = None  # cross-checks; ConfigError naming the key

    def all_settings(self) -> dict[str, ParamSpec]:
        """The settings of its config block: seeds and chunk size, then its own."""
        return {**STUDY_SPECS, **self.settings_spec}

    def chunks(self, settings: dict[str, Any]) -> list[list[int]]:
        """The seeds of each job: consecutive runs of ``chunk`` seeds out of 0..seeds-1."""
        seeds, size = int(settings["seeds"]), int(settings["chunk"])
        return [list(range(k, min(k + size, seeds))) for k in range(0, seeds, size)]
