"""The masks' background prior: each cell's geodesic distance from the frame's border over the motion field."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from mosi_tool.saliency.geodesic import (ALLOW, BORDER_FACTOR, Enclosure, border_distance, enclosed_speed, parallax_stretches,
                                         spanning_regions, speed_and_enclosed)
from mosi_tool.video.motion import MotionField


def dijkstra(residual: np.ndarray, allow: float, level: float) -> np.ndarray:
    """The exact geodesic distance `border_distance` approximates, by Dijkstra's algorithm over 8-neighbours."""
    gh, gw, _ = residual.shape
    d = np.full((gh, gw), np.inf)
    heap = []
    for i in range(gh):
        for j in range(gw):
            if i in (0, gh - 1) or j in (0, gw - 1):
                d[i, j] = max(float(np.hypot(*residual[i, j])) - level, 0.0)
                heap.append((d[i, j], i, j))
    heapq.heapify(heap)
    while heap:
        di, i, j = heapq.heappop(heap)
        if di > d[i, j]:
            continue
        for a in range(max(i - 1, 0), min(i + 2, gh)):
            for b in range(max(j - 1, 0), min(j + 2, gw)):
                step = max(float(np.hypot(*(residual[i, j] - residual[a, b]))) - allow, 0.0)
                if di + step < d[a, b]:
                    d[a, b] = di + step
                    heapq.heappush(heap, (d[a, b], a, b))
    return d


@pytest.mark.parametrize("seed", range(4))
def test_raster_scans_reach_the_exact_geodesic_distance(seed):
    """Enough forward and backward scans give Dijkstra's distances (a random field: paths wind)."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0, 1, (11, 14, 2)).astype(np.float32)
    expect = dijkstra(r, 0.25, 1.0)
    none = np.zeros(r.shape[:2], bool)
    got = border_distance(r, np.float32(0.25), np.float32(1.0), 30, none)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    two = border_distance(r, np.float32(0.25), np.float32(1.0), 2, none)
    assert np.all(two >= got - 1e-6)  # fewer scans: an upper bound


def _field(residual: np.ndarray, size: tuple[int, int] = (854, 480), pan: tuple[float, float] = (0.0, 0.0)) -> MotionField:
    """A field of one or more frames with these vectors and a still camera (so residual = vectors), or a camera
    model moving everything by `pan` px/frame (the vectors as they are: residual = vectors - pan)."""
    v = residual[None] if residual.ndim == 3 else residual
    camera = np.tile(np.array([[1.0, 0, -pan[0]], [0, 1.0, -pan[1]]]), (len(v), 1, 1))
    return MotionField(v.astype(np.float32), camera, np.arange(len(v)) / 24, np.ones(len(v), bool), size, 8, "test")


def test_an_enclosed_mover_keeps_its_contrast_and_the_background_none():
    r = np.zeros((20, 30, 2), np.float32)
    r[6:14, 10:20] = (3.0, 0.0)  # a mover at 3 px/frame on a still background
    d = enclosed_speed(_field(r))[0]
    np.testing.assert_allclose(d[6:14, 10:20], 3.0 - ALLOW, atol=1e-5)  # one crossing of its boundary
    assert d[r[..., 0] == 0].max() == 0


def test_a_parallax_ramp_is_background_and_a_followed_mover_is_not():
    """A camera model that misses the ground's parallax leaves a residual growing smoothly down the frame (large
    where the ground is near); a mover the camera follows has the camera's motion left (-2 px/frame). The ramp
    reaches the border at every row with little change between neighbours: enclosed speed 0, however fast; the
    followed mover is enclosed."""
    gh, gw = 30, 40
    r = np.zeros((gh, gw, 2), np.float32)
    r[..., 0] = np.linspace(0, 6, gh, dtype=np.float32)[:, None]  # 0.2 px/frame a row: under ALLOW
    r[10:18, 15:25] = (-2.0, 0.0)
    d = enclosed_speed(_field(r))[0]
    mover = np.zeros((gh, gw), bool)
    mover[10:18, 15:25] = True
    assert d[~mover].max() < 0.3 and d[mover].min() > 2.0
    speed = np.hypot(r[..., 0], r[..., 1])
    assert speed[~mover].max() > speed[mover].max()  # the residual alone finds the near ground first


def test_the_border_is_background_unless_it_moves_clearly_more_than_the_rest():
    r = np.full((20, 30, 2), 1.0, np.float32)  # a camera model that failed: 1 px/frame left everywhere
    r[0:6, 0:6] = (5.0, 5.0)  # a mover entering at the corner
    d = enclosed_speed(_field(r))[0]
    level = BORDER_FACTOR * np.sqrt(2)  # the border's median speed x the factor
    assert d[10:, 10:].max() == 0
    np.testing.assert_allclose(d[0, 0], np.hypot(5, 5) - level, rtol=1e-5)
    assert d[2:6, 2:6].min() > 0


def test_the_free_change_between_neighbours_shrinks_with_the_frame():
    """ALLOW holds at 480 px and up, and shrinks in proportion below (as the masks' floor): the same field at
    half the size reads the mover's boundary with half the allowance."""
    r = np.zeros((20, 30, 2), np.float32)
    r[6:14, 10:20] = (1.0, 0.0)
    big, small = (enclosed_speed(_field(r, s))[0, 10, 15] for s in ((1280, 720), (427, 240)))
    assert big == pytest.approx(1.0 - ALLOW) and small == pytest.approx(1.0 - ALLOW / 2)


def test_parallax_stretches_are_long_runs_along_one_side():
    flags = np.zeros((6, 10), bool)
    flags[-1, 2:8] = True  # 6 of the bottom's 10 cells
    flags[0, 0:4] = True  # 4 of the top's 10
    flags[1:4, 0] = True  # 3 of the left's 6, with the top's corner a run of 4
    out = parallax_stretches(flags, 0.5)
    np.testing.assert_array_equal(out[-1], flags[-1])
    assert out[:, 0].tolist() == [True, True, True, True, False, False]  # the left's run holds the corner
    assert not out[0, 1:].any()  # the top's own run is under half
    assert not parallax_stretches(flags, 0.0).any()
    flags[-1, 5] = False  # two runs of 3: each under half
    assert not parallax_stretches(flags, 0.5)[-1].any()


def _near_band(band_motion: tuple[float, float]) -> np.ndarray:
    """Vectors of a scene the camera pans across at 2 px/frame (the content moving right), with a band of
    rows along the bottom moving `band_motion` and a mover the camera follows (still in the picture)."""
    v = np.zeros((24, 40, 2), np.float32)
    v[..., 0] = 2.0
    v[18:] = band_motion
    v[6:12, 15:25] = 0.0
    return v


def test_near_ground_along_an_edge_under_a_sideways_camera_is_background():
    """A camera translating sideways: the near ground along the bottom edge moves the camera's way, faster
    (parallax the camera model cannot hold), over the whole side: background, however fast. The followed
    mover stays enclosed. The same band moving the other way is no parallax: it enters as a mover does."""
    pan = (2.0, 0.0)
    d = enclosed_speed(_field(_near_band((5.0, 0.0)), pan=pan))[0]
    assert d[18:].max() == 0 and d[6:12, 15:25].min() > 1.5
    for rule in (Enclosure(parallax_spanning=False), Enclosure(parallax_share=0)):  # either rule alone takes it
        assert enclosed_speed(_field(_near_band((5.0, 0.0)), pan=pan), rule)[0][18:].max() == 0
    before = enclosed_speed(_field(_near_band((5.0, 0.0)), pan=pan), Enclosure(parallax_share=0, parallax_spanning=False))[0]
    assert before[18:].min() > 0  # the rule before: the band moves clearly more than the border's median
    against = enclosed_speed(_field(_near_band((-5.0, 0.0)), pan=pan))[0]
    assert against[18:].min() > 0


def test_a_mover_entering_on_a_short_stretch_of_the_border_is_still_enclosed():
    """A mover entering at the bottom edge moving the camera's way, faster, looks like parallax where it
    touches the border, but covers a short stretch of it: it enters as before."""
    pan = (2.0, 0.0)
    v = np.zeros((24, 40, 2), np.float32)
    v[..., 0] = 2.0
    v[16:, 5:15] = (8.0, 0.0)  # 10 of the bottom's 40 cells
    got = enclosed_speed(_field(v, pan=pan))[0]
    before = enclosed_speed(_field(v, pan=pan), Enclosure(parallax_share=0, parallax_spanning=False))[0]
    np.testing.assert_array_equal(got, before)
    assert got[16:, 5:15].min() > 0


def test_a_still_camera_takes_no_border_stretch_as_parallax():
    """Parallax needs a moving camera: on a still one, a band moving along the bottom edge enters as a mover."""
    v = np.zeros((24, 40, 2), np.float32)
    v[18:] = (3.0, 0.0)
    assert enclosed_speed(_field(v))[0][18:].min() > 0


def test_the_speed_comes_with_the_enclosed_speed_as_the_field_gives_it():
    """One pass gives both: the compensated speed is `MotionField.residual_speed`'s to the bit (a camera model
    that scales and turns, so the camera's motion differs per cell)."""
    rng = np.random.default_rng(3)
    v = rng.normal(0, 2, (3, 12, 20, 2)).astype(np.float32)
    camera = np.tile(np.array([[1.01, 0.02, -1.5], [-0.02, 0.99, 0.7]]), (3, 1, 1))
    field = MotionField(v, camera, np.arange(3) / 24, np.ones(3, bool), (160, 96), 8, "test")
    speed, enclosed = speed_and_enclosed(field)
    np.testing.assert_array_equal(speed, field.residual_speed())
    np.testing.assert_array_equal(enclosed, enclosed_speed(field))


def test_spanning_regions_touch_two_opposite_sides():
    flags = np.zeros((8, 12), bool)
    flags[:, 3] = True  # a pole from top to bottom
    flags[2:5, 7:12] = True  # a blob at the right side only
    flags[7, 0:6] = True  # half the bottom: touches the left side and the bottom, adjacent sides
    flags[3, 4] = True  # joined to the pole diagonally... (8-connected)
    out = spanning_regions(flags)
    assert out[:, 3].all() and out[3, 4]
    assert not out[2:5, 7:].any()
    assert out[7, 0:6].all()  # joined to the pole at (7, 3)-(7, 4): one region with it
    flags[:, 3] = False
    flags[3, 4] = False
    assert not spanning_regions(flags).any()
    flags[4, :] = True  # a band from the left side to the right
    assert spanning_regions(flags)[4].all()


def test_a_pole_close_to_the_lens_under_a_sideways_camera_is_background():
    """A pole from the top edge to the bottom, nearer than the ground, moving the camera's way faster: a narrow
    stretch of each side, but a region spanning the frame: background. Not with the spanning rule off."""
    pan = (2.0, 0.0)
    v = np.zeros((24, 40, 2), np.float32)
    v[..., 0] = 2.0
    v[:, 30:33] = (6.0, 0.0)
    v[6:12, 12:20] = 0.0  # a mover the camera follows
    d = enclosed_speed(_field(v, pan=pan))[0]
    assert d[:, 30:33].max() == 0 and d[6:12, 12:20].min() > 1.5
    off = enclosed_speed(_field(v, pan=pan), Enclosure(parallax_spanning=False))[0]
    assert off[:, 30:33].min() > 0
