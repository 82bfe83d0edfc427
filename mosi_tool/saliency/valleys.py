"""Split a motion mask along the valleys of its motion map (`MaskConfig.valley`): movers side by side apart.

A blurred motion map joins two movers that are closer than its blur: the mask is one component, and their
boxes one box. The map still dips between them. Each pixel of the mask climbs the map (steepest ascent over
its 8 neighbours inside the mask) to a peak: the mask falls into the peaks' basins, the watershed of the
map (Vincent & Soille, "Watersheds in Digital Spaces", TPAMI 1991, by the basins' drainage rather than by
flooding). Two touching basins stay one when the highest pass between them (a pair of neighbours, one in
each: the lower of the two values) reaches `share` of the lower of their peaks; otherwise the mask is cut
along their border (the pixels of the basin with the larger label that touch the other), so the movers are
apart in 8-connectivity. A plateau is a basin of one peak per pixel, joined back to its neighbours by the
same rule (its passes equal its peaks).
"""

from __future__ import annotations

from typing import no_type_check

import numba
import numpy as np

SHARE = 0.7  # a pass below this share of the lower peak separates two basins


def valley_cuts(value: np.ndarray, mask: np.ndarray, share: float = SHARE) -> np.ndarray:
    """(h, w) bool: the pixels of `mask` ((h, w) bool) to remove so that basins of `value` ((h, w) float, e.g.
    px/frame) separated by a valley deeper than `share` of the lower peak are apart (module docstring)."""
    if not mask.any():
        return np.zeros(mask.shape, bool)
    return _cuts(np.ascontiguousarray(value, np.float32), np.ascontiguousarray(mask, np.bool_), np.float32(share))


@numba.njit(cache=True, nogil=True)
def _find(parent: np.ndarray, a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@numba.njit(cache=True, nogil=True)
@no_type_check  # numba code: numpy scalars throughout
def _cuts(value: np.ndarray, mask: np.ndarray, share: np.float32) -> np.ndarray:
    h, w = value.shape
    n = h * w
    up = np.full(n, -1, np.int64)  # each mask pixel's steepest uphill neighbour (itself at a peak)
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            best, arg = value[y, x], y * w + x
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and mask[yy, xx] and value[yy, xx] > best:
                        best, arg = value[yy, xx], yy * w + xx
            up[y * w + x] = arg
    basin = np.full(n, -1, np.int64)  # the peak (pixel index) each pixel drains to
    path = np.empty(n, np.int64)
    for p in range(n):
        if up[p] < 0 or basin[p] >= 0:
            continue
        k, q = 0, p
        while basin[q] < 0 and up[q] != q:
            path[k] = q
            k += 1
            q = up[q]
        top = basin[q] if basin[q] >= 0 else q
        basin[q] = top
        for i in range(k):
            basin[path[i]] = top
    parent = np.arange(n)  # union-find over peaks
    peak = value.ravel()
    for y in range(h):
        for x in range(w):
            p = y * w + x
            if basin[p] < 0:
                continue
            for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
                yy, xx = y + dy, x + dx
                if not (0 <= yy < h and 0 <= xx < w) or basin[yy * w + xx] < 0:
                    continue
                q = yy * w + xx
                a, b = _find(parent, basin[p]), _find(parent, basin[q])
                if a == b:
                    continue
                if min(value[y, x], value[yy, xx]) >= share * min(peak[a], peak[b]):
                    if peak[a] >= peak[b]:  # the root keeps the highest peak
                        parent[b] = a
                    else:
                        parent[a] = b
    cut = np.zeros((h, w), np.bool_)
    for y in range(h):
        for x in range(w):
            p = y * w + x
            if basin[p] < 0:
                continue
            a = _find(parent, basin[p])
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and basin[yy * w + xx] >= 0:
                        if _find(parent, basin[yy * w + xx]) < a:
                            cut[y, x] = True
    return cut
