# SPDX-License-Identifier: GPL-3.0-or-later
"""LoD schedules: ratio curve and switch thresholds."""

import itertools

import pytest
from retopo_hub.engines import EngineInputError
from retopo_hub.engines.lod import lod_ratios, switch_thresholds


@pytest.mark.parametrize("levels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("final", [0.0011, 0.15, 0.5, 1.0])
def test_ratio_formula_is_exact(levels, final):
    ratios = lod_ratios(levels, final)
    assert len(ratios) == levels + 1
    assert ratios[0] == 1.0
    assert ratios[-1] == final
    for i, ratio in enumerate(ratios):
        assert ratio == final ** ((i / levels) ** 1.7)
    assert all(a >= b for a, b in itertools.pairwise(ratios))


def test_zero_levels_is_just_lod0():
    assert lod_ratios(0, 0.15) == [1.0]
    assert switch_thresholds(0, 50.0) == [0.0]


@pytest.mark.parametrize("final", [0.0009, 0.0, -0.5, 1.0001, float("nan"), float("inf")])
def test_ratio_range_is_enforced(final):
    with pytest.raises(EngineInputError, match=r"from 0\.001 to 1\.0"):
        lod_ratios(3, final)


def test_the_documented_smallest_ratio_is_accepted():
    """sboxcool documents 0.001 as a valid final ratio, and so does the option catalogue."""
    assert lod_ratios(3, 0.001)[-1] == 0.001


@pytest.mark.parametrize("levels", [-1, 6, 2.5, True])
def test_level_range_is_enforced(levels):
    with pytest.raises(EngineInputError, match="0 to 5"):
        lod_ratios(levels, 0.5)
    with pytest.raises(EngineInputError, match="0 to 5"):
        switch_thresholds(levels, 50.0)


@pytest.mark.parametrize("levels", [1, 3, 5])
@pytest.mark.parametrize("top", [1.0, 50.0, 500.0])
def test_thresholds_are_linear(levels, top):
    values = switch_thresholds(levels, top)
    assert values == [top * i / levels for i in range(levels + 1)]
    assert values[0] == 0.0 and values[-1] == top


@pytest.mark.parametrize("top", [0.5, 500.5, float("nan")])
def test_threshold_range_is_enforced(top):
    with pytest.raises(EngineInputError, match="from 1 to 500"):
        switch_thresholds(2, top)
