"""The contract every problem family honours (tests/family_contract.py), run for every
registered family automatically. A new family gets these tests without writing them; its own
test file adds the physics against an independent reference."""

from __future__ import annotations

import pytest

from family_contract import CHECKS, DEVICES, check_precisions_and_device
from invnet.problems import families


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("family", sorted(families()))
def test_family_contract(family: str, check: str) -> None:
    CHECKS[check](families()[family])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", sorted(families()))
def test_family_precisions_and_device(family: str, device: str) -> None:
    check_precisions_and_device(families()[family], device)
