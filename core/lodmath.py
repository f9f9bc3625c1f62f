# SPDX-License-Identifier: GPL-3.0-or-later
"""The LoD conversions: distance <-> projected pixel error <-> screen size / coverage <-> transition height.

Contract: plain floats in, plain floats out; every function is pure and raises ValueError on a value that has
no meaning (a negative distance, a field of view outside (0, 180) degrees). Angles are in degrees, lengths in
object units, screens in pixels. The field of view is the camera's HORIZONTAL one (what the user sets); the
vertical one follows from the screen's aspect ratio (width / height, 16:9 unless given), since every
"screen size" below is measured against the screen's height. Pure Python (stdlib only), never imports bpy.

The formulas and where they come from:

- Projected pixel error (the screen-space error of CesiumGS/3d-tiles, specification/README "Geometric
  error", written there with the vertical FOV and screen height; the same with the horizontal pair): at
  distance ``d`` the view is ``2 d tan(fov_h / 2)`` units wide across ``W`` pixels, so a geometric error
  ``e`` covers ``px = e W / (2 d tan(fov_h / 2))`` pixels, and the distance from which it covers at most
  ``px`` pixels is ``d = e W / (2 px tan(fov_h / 2))``.
- Screen size (Unreal Engine, ``ComputeBoundsScreenSize`` in Engine/Private/SceneManagement.cpp, documented
  as "the projected diameter of the bounding sphere of the model; 0.5 means half the screen's maximum
  dimension"): ``max(P[0][0], P[1][1]) * r / d`` with ``P`` the projection matrix. For a horizontal FOV and
  a wide screen, ``P[1][1] = aspect / tan(fov_h / 2) = 1 / tan(fov_v / 2)`` is the larger, so the screen
  size is ``r / (d tan(fov_v / 2))``: the sphere's diameter over the view's height at that distance.
- Screen coverage (glTF ``MSFT_lod`` with ``MSFT_screencoverage``: the extension's README in the
  KhronosGroup/glTF repository, folder extensions/2.0/Vendor/MSFT_lod): a list in ``extras`` with one
  value per level; level i is rendered while the coverage is between value i-1 (1.0 for LOD0) and value
  i, and nothing below the last. The extension does not define coverage more precisely; we use Unreal's
  screen size above, the fraction of the screen height the bounding sphere covers, so both engines get
  the same numbers.
- Transition height (Unity, ``LOD.screenRelativeTransitionHeight`` and the LOD Group manual: "the ratio of
  the object's screen space height to screen height"; Unity's editor computes it as
  ``size * 0.5 / (d * tan(fov_v / 2))`` with ``size`` the LODGroup's size, the largest dimension of its
  bounds): ``size / (2 d tan(fov_v / 2))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_ASPECT = 16.0 / 9.0
# Below this a distance is the camera inside the object: every measure saturates instead of dividing by 0.
MIN_DISTANCE = 1e-9


def _tan_half(fov_deg: float) -> float:
    fov = float(fov_deg)
    if not (math.isfinite(fov) and 0.0 < fov < 180.0):
        raise ValueError(f"field of view must be between 0 and 180 degrees (got {fov_deg!r})")
    return math.tan(math.radians(fov) / 2.0)


def _positive(name: str, value: float, *, zero: bool = False) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or (number == 0.0 and not zero):
        raise ValueError(f"{name} must be a positive number (got {value!r})")
    return number


def vertical_fov(fov_h_deg: float, aspect: float = DEFAULT_ASPECT) -> float:
    """The vertical field of view (degrees) of a camera with horizontal ``fov_h_deg`` on a width/height
    ``aspect`` screen."""
    tan_v = _tan_half(fov_h_deg) / _positive("aspect ratio", aspect)
    return math.degrees(2.0 * math.atan(tan_v))


def pixel_error(error: float, distance: float, screen_width: float, fov_deg: float) -> float:
    """Pixels a geometric ``error`` covers at ``distance`` on a ``screen_width`` px wide, ``fov_deg`` view."""
    e = _positive("error", error, zero=True)
    d = max(_positive("distance", distance, zero=True), MIN_DISTANCE)
    return e * _positive("screen width", screen_width) / (2.0 * d * _tan_half(fov_deg))


def distance_for_pixel_error(error: float, pixels: float, screen_width: float, fov_deg: float) -> float:
    """The distance from which ``error`` covers at most ``pixels`` (0.0 for no error)."""
    e = _positive("error", error, zero=True)
    return (
        e * _positive("screen width", screen_width) / (2.0 * _positive("pixels", pixels) * _tan_half(fov_deg))
    )


def screen_size(radius: float, distance: float, fov_deg: float, aspect: float = DEFAULT_ASPECT) -> float:
    """Unreal's screen size (= our screen coverage) of a bounding sphere of ``radius`` at ``distance``:
    its diameter as a fraction of the screen height."""
    r = _positive("radius", radius, zero=True)
    d = max(_positive("distance", distance, zero=True), MIN_DISTANCE)
    return r / (d * math.tan(math.radians(vertical_fov(fov_deg, aspect)) / 2.0))


def distance_for_screen_size(
    radius: float, size: float, fov_deg: float, aspect: float = DEFAULT_ASPECT
) -> float:
    """The distance at which a sphere of ``radius`` has the screen size ``size``."""
    r = _positive("radius", radius, zero=True)
    tan_v = math.tan(math.radians(vertical_fov(fov_deg, aspect)) / 2.0)
    return r / (_positive("screen size", size) * tan_v)


def transition_height(size: float, distance: float, fov_deg: float, aspect: float = DEFAULT_ASPECT) -> float:
    """Unity's screen relative height of an object whose largest bounds dimension is ``size``."""
    s = _positive("size", size, zero=True)
    d = max(_positive("distance", distance, zero=True), MIN_DISTANCE)
    return s / (2.0 * d * math.tan(math.radians(vertical_fov(fov_deg, aspect)) / 2.0))


def distance_for_transition_height(
    size: float, height: float, fov_deg: float, aspect: float = DEFAULT_ASPECT
) -> float:
    """The distance at which an object of ``size`` has Unity's screen relative height ``height``."""
    s = _positive("size", size, zero=True)
    tan_v = math.tan(math.radians(vertical_fov(fov_deg, aspect)) / 2.0)
    return s / (2.0 * _positive("transition height", height) * tan_v)


def bounding_radius(low: Sequence[float], high: Sequence[float]) -> float:
    """Radius of the sphere around a bounding box's centre that holds the box: half its diagonal."""
    return 0.5 * math.dist(tuple(map(float, low)), tuple(map(float, high)))


def largest_dimension(low: Sequence[float], high: Sequence[float]) -> float:
    """Unity's LODGroup size: the bounding box's largest side."""
    return max(float(b) - float(a) for a, b in zip(low, high, strict=True))


def switch_distances_from_errors(
    errors: Sequence[float], pixels: float, screen_width: float, fov_deg: float
) -> list[float]:
    """Per level, the distance from which its error covers at most ``pixels``: 0.0 for LOD0 (always
    shown up close), then never closer than the level before, so a level never switches in before a finer
    one (a measured error can dip below the previous level's on a mesh that decimates cleanly)."""
    distances: list[float] = []
    for level, error in enumerate(errors):
        here = 0.0 if level == 0 else distance_for_pixel_error(error, pixels, screen_width, fov_deg)
        distances.append(max([here, *distances[-1:]]))
    return distances


def screen_coverages(
    distances: Sequence[float], radius: float, fov_deg: float, aspect: float = DEFAULT_ASPECT
) -> list[float]:
    """Per level, the screen coverage at which it switches in (1.0 for LOD0, which is shown up close)."""
    return [
        1.0 if level == 0 or distance <= 0.0 else min(1.0, screen_size(radius, distance, fov_deg, aspect))
        for level, distance in enumerate(distances)
    ]
