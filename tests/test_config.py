"""Semantic config validation (beyond the JSON schema) names the offending key."""

import pytest

from invnet.config import resolve_config
from invnet.errors import ConfigError


def test_the_tiny_config_is_valid(tiny_config):
    resolve_config(tiny_config)


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c["experiments"]["wavepacket"].__setitem__("n", [-4]), r"experiments\.wavepacket\.n"),
        (lambda c: c["experiments"]["wavepacket"].__setitem__("n", "16"), r"experiments\.wavepacket\.n"),
        (lambda c: c["experiments"]["wavepacket"].__setitem__("seeds", [0, -1]), r"experiments\.wavepacket\.seeds"),
        (lambda c: c["experiments"]["wavepacket"]["solvers"].__setitem__("newton", {}), r"solvers\.newton: unknown key; allowed: .*bfgs"),
        (lambda c: c["experiments"]["wavepacket"]["solvers"].pop("bfgs"), r"experiments\.wavepacket\.solvers"),
        (lambda c: c["experiments"]["wavepacket"]["solvers"].pop("jpo"), r"solvers\.jpo_bfgs.*'jpo'"),
        (lambda c: c["experiments"]["wavepacket"]["solvers"]["gd"].__setitem__("lr", "big"), r"solvers\.gd\.lr"),
        (lambda c: c["experiments"]["wavepacket"]["problem"].__setitem__("noise", -1.0), r"problem\.noise"),
        (lambda c: c["experiments"].__setitem__("pendulum", {"family": "pendulum", "solvers": {"bfgs": {}}}),
         r"unknown family 'pendulum'"),
        (lambda c: c["experiments"]["wavepacket"].pop("family"), r"experiments\.wavepacket\.family: required"),
        (lambda c: c.__setitem__("dtype", "float16"), r"dtype.*allowed: float64, float32"),
        (lambda c: c.__setitem__("threads", 0), r"threads"),
    ],
)
def test_bad_config_names_the_key(tiny_config, mutate, key):
    mutate(tiny_config)
    with pytest.raises(ConfigError, match=key):
        resolve_config(tiny_config)
