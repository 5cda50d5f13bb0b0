"""The CNN (network: cnn) used for the fluid family's image inputs, its config checks, and the
helpers of the fluid figure (the landscape against a point-by-point loss, its periodicity)."""

import math

import numpy as np
import pytest
import torch

from invnet.config import resolve_config
from invnet.errors import ConfigError
from invnet.figures.landscape import landscape_along
from invnet.problems.base import Objective
from invnet.problems.fluid import Fluid
from invnet.seeding import numpy_rng, torch_generator
from invnet.solvers import solver_class
from invnet.solvers import SolveProblem, build_solver, solve
from invnet.solvers.networks import ConvParameterNet, build_network


@pytest.fixture(scope="module")
def small():
    fam = Fluid(n_grid=16, horizon=0.5)
    return fam, fam.sample(24, numpy_rng(0, "cnn"))


def features(fam, pset):
    return fam.features(torch.as_tensor(pset.y_target), torch.as_tensor(pset.gamma))


def test_cnn_starts_at_x0_and_reads_the_image(small):
    fam, pset = small
    feats = features(fam, pset)
    settings = {"network": "cnn", "channels": [4, 8], "hidden": [16], "activation": "relu"}
    net = build_network(feats, fam, settings, torch_generator(0, "net"))
    assert isinstance(net, ConvParameterNet)
    with torch.no_grad():
        out = net(feats)
    assert torch.equal(out, torch.as_tensor(fam.x0).expand(24, -1))
    # the convolutions see the two channels as 16x16 images: 16 -> 8 -> 4, 8 channels = 128 inputs
    assert net.body[0].in_features == 8 * 4 * 4
    # standardisation per channel: the normalised inputs have mean 0 and std 1 in each channel
    img = (feats.reshape(24, 2, 16, 16) - net.in_mean) / net.in_std
    torch.testing.assert_close(img.mean(dim=(0, 2, 3)), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(img.std(dim=(0, 2, 3)), torch.ones(2, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.fixture
def one_thread():
    """One torch thread, as in the pipeline's jobs (more oversubscribe the 2-core CI machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_supervised_cnn_fits_the_training_set(small, one_thread):
    """Training moves the network: the normalised MSE to the truth falls well below its start."""
    fam, pset = small
    solver = build_solver("supervised", {"network": "cnn", "channels": [4, 8], "hidden": [32], "steps": 300,
                                         "lr": 3e-3})
    res = solve(solver, SolveProblem(fam, pset, seed=0, history_points=2))
    half = (fam.bounds[:, 1] - fam.bounds[:, 0]) / 2
    start = np.mean(((fam.x0 - pset.x_true) / half) ** 2)
    end = np.mean(((res.x - pset.x_true) / half) ** 2)
    assert end < 0.3 * start, (start, end)


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"network": "cnn"}, r"experiments\.wavepacket\.solvers\.jpo\.network: got 'cnn'.*allowed: mlp"),
        ({"network": "rnn"}, r"solvers\.jpo\.network: got 'rnn'; allowed: mlp, cnn"),
        ({"channels": [8, 0]}, r"solvers\.jpo\.channels"),
    ],
)
def test_bad_network_settings_name_the_key(tiny_config, settings, key):
    tiny_config["experiments"]["wavepacket"]["solvers"]["jpo"].update(settings)
    with pytest.raises(ConfigError, match=key) as err:
        resolve_config(tiny_config)
    assert len(str(err.value).strip().splitlines()) <= 2  # "Invalid configuration:" + one line


def test_cnn_is_accepted_for_the_fluid_family(tiny_config):
    tiny_config["experiments"]["fluid"] = {
        "family": "fluid", "n": [4], "seeds": [0], "problem": {"n_grid": 16, "horizon": 0.5},
        "solvers": {"bfgs": {}, "jpo": {"network": "cnn"}, "supervised": {"network": "cnn"}},
    }
    out = resolve_config(tiny_config)["experiments"]["fluid"]["solvers"]
    assert out["jpo"]["network"] == "cnn" and out["supervised"]["channels"] == [8, 16, 16]


def test_landscape_equals_the_point_by_point_loss_and_is_periodic(small):
    fam, pset = small
    values = np.array([0.0, 1.3, 2.0 * math.pi])
    got = landscape_along(fam, pset.x_true[1], pset.gamma[1], pset.y_target[1], values)
    obj = Objective.from_set(fam, pset)
    for j, a in enumerate(values):
        x = torch.as_tensor(pset.x_true[1:2].copy())
        x[0, 0] = a
        expect = obj(x, torch.tensor([1]))[0].item()
        assert abs(got[j] - expect) <= 1e-12 * expect
    assert abs(got[0] - got[2]) <= 1e-10 * got[0]  # a1 = 0 and a1 = L are the same flow
    clean = Fluid(n_grid=16, horizon=0.5, noise=0.0)
    ps = clean.sample(1, numpy_rng(2, "clean"))
    at = landscape_along(clean, ps.x_true[0], ps.gamma[0], ps.y_target[0], ps.x_true[0, :1])
    assert at[0] < 1e-28
