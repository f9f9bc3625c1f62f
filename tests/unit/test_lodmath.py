# SPDX-License-Identifier: GPL-3.0-or-later
"""The LoD conversions on values worked out by hand (core/lodmath.py)."""

import math

import pytest
from retopo_hub.core import lodmath


def test_pixel_error_at_90_degrees_is_half_the_screen_per_unit_of_distance():
    # At 90 degrees the view is 2 d wide: an error of 1 at distance 1 covers half of 1920 px.
    assert lodmath.pixel_error(1.0, 1.0, 1920, 90.0) == pytest.approx(960.0)
    assert lodmath.distance_for_pixel_error(1.0, 1.0, 1920, 90.0) == pytest.approx(960.0)


def test_one_pixel_distance_at_the_defaults():
    # e W / (2 px tan 30 deg) = 0.01 * 1920 / (2 * 0.57735) = 16.6277
    d = lodmath.distance_for_pixel_error(0.01, 1.0, 1920, 60.0)
    assert d == pytest.approx(16.6277, rel=1e-4)
    assert lodmath.pixel_error(0.01, d, 1920, 60.0) == pytest.approx(1.0)
    assert lodmath.distance_for_pixel_error(0.0, 1.0, 1920, 60.0) == 0.0


def test_vertical_fov_follows_the_aspect():
    assert lodmath.vertical_fov(90.0, 1.0) == pytest.approx(90.0)
    # tan(v/2) = tan(45) * 9/16
    assert lodmath.vertical_fov(90.0) == pytest.approx(math.degrees(2 * math.atan(9 / 16)))


def test_screen_size_of_a_sphere():
    # Square screen, 90 deg: the view is 2 units high at distance 1, a unit sphere fills it.
    assert lodmath.screen_size(1.0, 1.0, 90.0, 1.0) == pytest.approx(1.0)
    assert lodmath.screen_size(1.0, 4.0, 90.0, 1.0) == pytest.approx(0.25)
    # 16:9 at 90 deg horizontal: the view is 2 * 9/16 high, the sphere's diameter 2 covers 16/9 of it.
    assert lodmath.screen_size(1.0, 1.0, 90.0) == pytest.approx(16 / 9)
    assert lodmath.distance_for_screen_size(1.0, 0.25, 90.0, 1.0) == pytest.approx(4.0)
    d = lodmath.distance_for_screen_size(0.7, 0.1, 60.0)
    assert lodmath.screen_size(0.7, d, 60.0) == pytest.approx(0.1)


def test_unity_transition_height():
    # An object 2 units tall at distance 1 with a 90 deg vertical view fills the screen height.
    assert lodmath.transition_height(2.0, 1.0, 90.0, 1.0) == pytest.approx(1.0)
    assert lodmath.transition_height(2.0, 10.0, 90.0, 1.0) == pytest.approx(0.1)
    d = lodmath.distance_for_transition_height(3.0, 0.05, 60.0)
    assert lodmath.transition_height(3.0, d, 60.0) == pytest.approx(0.05)


def test_bounds():
    assert lodmath.bounding_radius((0, 0, 0), (2, 2, 1)) == pytest.approx(1.5)
    assert lodmath.largest_dimension((0, -1, 0), (2, 2, 1)) == pytest.approx(3.0)


def test_switch_distances_rise_with_error_and_never_fall():
    errors = [0.0, 0.01, 0.02, 0.015, 0.05]
    distances = lodmath.switch_distances_from_errors(errors, 1.0, 1920, 60.0)
    assert distances[0] == 0.0
    assert distances[1] == pytest.approx(16.6277, rel=1e-4)
    assert distances[2] == pytest.approx(2 * distances[1])
    assert distances[3] == distances[2]  # a dip in error does not bring a coarser level closer
    assert distances == sorted(distances)
    # Two pixels allowed: every level switches in at half the distance.
    halved = lodmath.switch_distances_from_errors(errors, 2.0, 1920, 60.0)
    assert halved == pytest.approx([d / 2 for d in distances])


def test_coverages_fall_as_distances_rise():
    coverages = lodmath.screen_coverages([0.0, 10.0, 20.0], 1.0, 90.0, 1.0)
    assert coverages == pytest.approx([1.0, 0.1, 0.05])


@pytest.mark.parametrize("fov", [0.0, 180.0, -5.0, float("nan")])
def test_a_meaningless_fov_is_refused(fov):
    with pytest.raises(ValueError, match="field of view"):
        lodmath.pixel_error(1.0, 1.0, 1920, fov)


def test_negative_values_are_refused():
    with pytest.raises(ValueError, match="distance"):
        lodmath.screen_size(1.0, -1.0, 60.0)
    with pytest.raises(ValueError, match="pixels"):
        lodmath.distance_for_pixel_error(1.0, 0.0, 1920, 60.0)
