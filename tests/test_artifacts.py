"""Artifacts: atomic writes, refusal of incomplete files, bit-identical reruns, provenance."""

import os

import h5py
import numpy as np
import pytest

from helpers import generate_data, run_solver
from invnet.artifacts import read_h5, write_h5
from invnet.errors import ArtifactError


def test_roundtrip_and_json_attributes(tmp_path):
    p = tmp_path / "a" / "x.h5"
    write_h5(p, {"v": np.arange(5.0)}, {"provenance": {"seed": 3}, "n": 5})
    data, attrs = read_h5(p)
    assert np.array_equal(data["v"], np.arange(5.0))
    assert attrs["provenance"] == {"seed": 3} and attrs["n"] == 5 and attrs["complete"]


def test_interrupted_write_leaves_no_file(tmp_path):
    p = tmp_path / "x.h5"

    class Boom:
        def __array__(self, *args, **kwargs):
            raise KeyboardInterrupt("simulated kill during write")

    with pytest.raises(KeyboardInterrupt):
        write_h5(p, {"a": np.zeros(3), "b": Boom()}, {})
    assert not p.exists()
    assert os.listdir(tmp_path) == []


def test_incomplete_or_foreign_files_are_refused(tmp_path):
    p = tmp_path / "half.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.zeros(2))
    with pytest.raises(ArtifactError, match="incomplete"):
        read_h5(p)
    q = tmp_path / "text.h5"
    q.write_text("not hdf5")
    with pytest.raises(ArtifactError, match="not a readable HDF5"):
        read_h5(q)
    with pytest.raises(ArtifactError, match="does not exist"):
        read_h5(tmp_path / "missing.h5")


def _numeric(path):
    data, _ = read_h5(path)
    return data


@pytest.mark.parametrize("solver", ["bfgs", "lbfgsb", "gd", "jpo", "supervised", "neural_adjoint"])
def test_data_and_run_artifacts_are_bit_identical_on_rerun(tmp_path, tiny_config, solver):
    for rep in ("a", "b"):
        d = tmp_path / rep / "data.h5"
        generate_data(tiny_config, "wavepacket", 8, 1, d)
        run_solver(tiny_config, "wavepacket", solver, 8, 1, d, tmp_path / rep / "run.h5")
    for name in ("data.h5", "run.h5"):
        a, b = _numeric(tmp_path / "a" / name), _numeric(tmp_path / "b" / name)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), (name, key)
    # the data file is byte-identical as a whole (no timestamps), apart from nothing
    assert (tmp_path / "a" / "data.h5").read_bytes() == (tmp_path / "b" / "data.h5").read_bytes()


def test_run_artifact_schema_and_provenance(tmp_path, tiny_config):
    d = tmp_path / "data.h5"
    generate_data(tiny_config, "wavepacket", 8, 0, d)
    run_solver(tiny_config, "wavepacket", "jpo", 8, 0, d, tmp_path / "jpo.h5")
    data, attrs = read_h5(tmp_path / "jpo.h5")
    assert data["x"].shape == (8, 2) and data["loss"].shape == (8,)
    assert data["test_x"].shape == (4, 2) and data["test_loss"].shape == (4,)
    assert data["loss_history"].shape == data["history_step"].shape
    assert attrs["solver"] == "jpo" and attrs["n"] == 8 and attrs["seed"] == 0
    prov = attrs["provenance"]
    for key in ("versions", "git_commit", "wall_time_s", "data_sha256", "seed"):
        assert key in prov
    assert prov["versions"]["torch"] and attrs["config"]["solver"]["steps"] == 30
    _, dattrs = read_h5(d)
    assert dattrs["problem"]["sigma"] == 0.1 and dattrs["problem"]["n_samples"] == 256


def test_data_from_other_parameters_is_refused(tmp_path, tiny_config):
    d = tmp_path / "data.h5"
    generate_data(tiny_config, "wavepacket", 8, 0, d)
    tiny_config["experiments"]["wavepacket"]["problem"]["sigma"] = 0.2
    with pytest.raises(ArtifactError, match="other problem parameters"):
        run_solver(tiny_config, "wavepacket", "gd", 8, 0, d, tmp_path / "gd.h5")
    with pytest.raises(ArtifactError, match="n=8, expected 16"):
        tiny_config["experiments"]["wavepacket"]["problem"]["sigma"] = 0.1
        run_solver(tiny_config, "wavepacket", "gd", 16, 0, d, tmp_path / "gd.h5")
