"""The picture of docs/TARGETS.md: what `mosi-tool targets` writes, drawn on three frames of one video.

    python tools/targets_figure.py [VIDEO] [--out docs/images/targets_example.jpg] [--frames 10,40,70]

VIDEO defaults to DAVIS `camel.mp4` from ../shared/data (a walking camel, a nearly still camera). Rows, for each chosen
frame t:
1. `trajectories` of start frame t, camera-compensated: each valid point of every second cell of the 8-px
   grid drawn through its L steps (the background, which only the camera moves, stays near its start), coloured
   by the length of the whole path (blue short, red 4 px/step or more);
2. `patch_motion` of frame t as a heat map over the frame, with `frame_boxes[t]` (yellow) and `video_box`
   (cyan, the same on every frame: MOFO's box);
3. `motion_guided_mask` of the 16-frame clip from t (ratio 0.9, inside 0.75, tubelet 2): the tokens of its
   first time step that VideoMAE would hide are darkened, the visible 10% shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mosi_tool  # noqa: E402
from mosi_tool import viz  # noqa: E402
from mosi_tool.masking import motion_guided_mask  # noqa: E402
from mosi_tool.motion_targets.trajectories import start_grid  # noqa: E402
from mosi_tool.video.decode import VideoReader  # noqa: E402

CLIP = 16  # frames of the masked clip
LABEL_SIZE = 24  # px, at the video's size (the tiles are made smaller)
DEFAULT_FRAMES = (10, 40, 70)  # docs/TARGETS.md's figure of camel.mp4
FAST = 4.0  # px/step: the colour scale's top


def pick_frames(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    """The frames at `wanted` indices, (H, W, 3) uint8 RGB as displayed."""
    out: dict[int, np.ndarray] = {}
    for frame in VideoReader(path).frames():
        if frame.index in wanted:
            out[frame.index] = frame.image.copy()
        if len(out) == len(wanted):
            break
    return out


def draw_trajectories(image: np.ndarray, steps: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Paths of the points of every second cell: steps (h, w, L, 2) px, valid (h, w)."""
    out = (image * 0.6).astype(np.uint8)
    grid = start_grid(image.shape[0], image.shape[1])  # (h, w, 2) x, y of each start
    paths = grid[:, :, None, :] + np.cumsum(steps.astype(np.float32), axis=2)  # (h, w, L, 2)
    length = np.linalg.norm(steps.astype(np.float32), axis=-1).sum(-1)  # (h, w) px over L steps
    scale = FAST * steps.shape[2]
    for i in range(0, grid.shape[0], 2):
        for j in range(0, grid.shape[1], 2):
            if not valid[i, j]:
                continue
            hue = int(120 * (1 - min(1.0, length[i, j] / scale)))  # OpenCV hue: 120 blue .. 0 red
            colour = cv2.cvtColor(np.array([[[hue, 255, 255]]], np.uint8), cv2.COLOR_HSV2RGB)[0, 0].tolist()
            pts = np.vstack([grid[i, j], paths[i, j]]).round().astype(np.int32)
            cv2.polylines(out, [pts], False, colour, 1, cv2.LINE_AA)
            cv2.circle(out, tuple(int(v) for v in pts[-1]), 1, colour, -1, cv2.LINE_AA)
    return out


def draw_box(image: np.ndarray, box: np.ndarray, colour: tuple[int, int, int], width: int = 2) -> None:
    if np.isfinite(box).all():
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, width, cv2.LINE_AA)


def draw_patch_motion(image: np.ndarray, patch: np.ndarray, frame_box: np.ndarray, video_box: np.ndarray) -> np.ndarray:
    """patch (H/16, W/16) in [0, 1] as a heat map over the frame, with the frame's and the video's boxes."""
    h, w = image.shape[:2]
    heat = np.zeros((h, w), np.float32)
    ph, pw = patch.shape
    heat[: ph * 16, : pw * 16] = cv2.resize(patch.astype(np.float32), (pw * 16, ph * 16), interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    alpha = (0.25 + 0.6 * heat)[..., None]
    out = (image * (1 - alpha) + colour * alpha).astype(np.uint8)
    draw_box(out, video_box, (0, 255, 255))
    draw_box(out, frame_box, (255, 255, 0))
    return out


def draw_mask(image: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """hidden (H/16, W/16) bool: the hidden tokens darkened."""
    h, w = image.shape[:2]
    dark = np.zeros((h, w), bool)
    ph, pw = hidden.shape
    dark[: ph * 16, : pw * 16] = np.kron(hidden, np.ones((16, 16), bool))
    out = image.copy()
    out[dark] = (out[dark] * 0.2).astype(np.uint8)
    return out


def default_starts(limit: int) -> list[int]:
    """DEFAULT_FRAMES where they all lie in 0..limit, else three start frames spread evenly over it."""
    if max(DEFAULT_FRAMES) <= limit:
        return list(DEFAULT_FRAMES)
    return sorted({round(limit * k / 6) for k in (1, 3, 5)})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "davis" / "mp4" / "camel.mp4")
    p.add_argument("--frames", default=None, help=f"start frames, comma-separated (default: {DEFAULT_FRAMES}, or three "
                   "spread over a video too short for them)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "targets_example.jpg")
    p.add_argument("--width", type=int, default=427, help="width of each tile, px")
    args = p.parse_args(argv)
    t = mosi_tool.targets(args.video)
    limit = min(len(t.patch_motion) - CLIP, len(t.trajectories) - 1)
    if limit < 0:
        raise SystemExit(f"error: {args.video} is too short for the figure: it needs at least {CLIP} frames")
    starts = [int(s) for s in args.frames.split(",")] if args.frames else default_starts(limit)
    if any(s < 0 or s > limit for s in starts):
        raise SystemExit(f"error: --frames must lie in 0..{limit} for {args.video}")
    frames = pick_frames(args.video, starts)
    rows: list[list[np.ndarray]] = [[], [], []]
    for s in starts:
        row = int(np.searchsorted(t.start_frames, s))
        img = frames[s]
        rows[0].append(viz.label(draw_trajectories(img, t.trajectories[row], t.valid[row]), f"trajectories, start frame {s}", LABEL_SIZE))
        rows[1].append(viz.label(draw_patch_motion(img, t.patch_motion[s], t.frame_boxes[s], t.video_box), f"patch_motion and boxes, frame {s}", LABEL_SIZE))
        hidden = motion_guided_mask(t.patch_motion[s : s + CLIP], rng=0)[0]
        rows[2].append(viz.label(draw_mask(img, hidden), f"motion-guided mask, 90% hidden, frame {s}", LABEL_SIZE))
    h, w = frames[starts[0]].shape[:2]
    size = (args.width, round(args.width * h / w))
    grid = viz.grid([cv2.resize(tile, size, interpolation=cv2.INTER_AREA) for r in rows for tile in r], cols=len(starts))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(args.out, quality=85)
    print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]})")


if __name__ == "__main__":
    main()
