"""Masks across a scene cut: two DAVIS sequences played one after another, against each encoded alone.

    python tools/shot_leak.py                                   # the pairs below
    python tools/shot_leak.py --pairs camel:dog breakdance:paragliding-launch --frames 30
    python tools/shot_leak.py --network --pairs camel:dog         # the bundled model's maps (fused, cam) instead

Each pair A:B: the first `--frames` frames of A then of B (libx264, one thread, 2 B-frames, a keyframe every
250 frames), three ways: each shot encoded alone; the two shots alone joined packet by packet
(`tests.conftest.join_videos`: a keyframe at the cut, and every frame decodes exactly as in its shot alone, so
any difference comes from the other shot); and the frames encoded as one video without a keyframe at the cut
(x264's scene-cut test off: the cut inside a group of pictures; re-encoded, so its frames differ a little from
the shot alone's too). `saliency --masks` (the Python API) of each; printed: J against the DAVIS annotation on
the last 4 frames of A and the first 6 of B. A shot's own first frames are hard alone too (no motion before
them); what the cut adds is the difference. `--network`: the bundled model's maps (`saliency --method fused` and `cam`)
of the joined shots against each shot's alone, printed per frame from 10 before the cut to 10 after it as the
largest absolute difference over the frame, a share of the largest map value alone. Needs ../shared/data/davis.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAVIS = ROOT.parent / "shared" / "data" / "davis"
PAIRS = ("camel:dog", "dog:goat", "car-shadow:dog", "motocross-jump:camel", "dog:car-shadow", "breakdance:paragliding-launch")


def frames(path: Path, n: int) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        out = []
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) == n:
                break
    return out


def encode(path: Path, images: list[np.ndarray], keyframe_at_cuts: bool) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = images[0].shape[1], images[0].shape[0], "yuv420p"
        s.options = {"g": "250", "sc_threshold": "40" if keyframe_at_cuts else "0", "threads": "1", "bf": "2", "crf": "20"}
        for x in images:
            for packet in s.encode(av.VideoFrame.from_ndarray(x, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def annotations(name: str, n: int, size: tuple[int, int]) -> np.ndarray:
    """The sequence's first `n` DAVIS annotations, bool (n, H, W), of frames of `size` = (W, H) (`evaluation.davis.load_masks`)."""
    from mosi_tool.evaluation.davis import find_sequences, load_masks

    (seq,) = find_sequences(DAVIS, [name], source="mp4")
    return load_masks(seq, n, size)


def main(argv: list[str] | None = None) -> None:
    import mosi_tool
    from mosi_tool.evaluation.segmentation import jaccard
    from tests.conftest import join_videos

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", nargs="+", default=list(PAIRS), help="A:B, DAVIS sequence names")
    p.add_argument("--frames", type=int, default=30, help="frames of each sequence")
    p.add_argument("--network", action="store_true", help="the bundled model's fused and CAM maps, not the masks")
    a = p.parse_args(argv)
    if not DAVIS.is_dir():
        raise SystemExit(f"error: {DAVIS} not found")
    n, before, after = a.frames, 4, 6
    ks = list(range(n - before, n + after))
    if not a.network:
        print("J per frame: A's last 4, then B's first 6 | mean of B's first 6")
    with tempfile.TemporaryDirectory() as tmp:
        # every sequence is decoded first, then every video encoded (each shot alone once), then masked: with
        # decodes, encodes and saliency runs interleaved, libx264 gave the same frames other bytes from run to
        # run (a shot's masks J up to 0.2 apart); so the figures are the same on every run of one command
        pairs = [tuple(pair.split(":")) for pair in a.pairs]
        clips = {name: frames(DAVIS / "mp4" / f"{name}.mp4", n) for pair in pairs for name in pair}
        masks_of = {name: annotations(name, n, f[0].shape[1::-1]) for name, f in clips.items()}
        alone = {name: encode(Path(tmp) / f"{name}.mp4", f, True) for name, f in clips.items()}
        videos = {f"{x}:{y}": [alone[x], alone[y], join_videos([alone[x], alone[y]], Path(tmp) / f"{x}-{y}-joined.mp4"),
                               encode(Path(tmp) / f"{x}-{y}.mp4", clips[x] + clips[y], False)] for x, y in pairs}  # fmt: skip
        if a.network:
            return network_maps(videos, n)
        means: dict[str, list[float]] = {}
        for pair, (alone_a, alone_b, keyed, unkeyed) in videos.items():
            x, y = pair.split(":")
            truth = [masks_of[x][k] if k < n else masks_of[y][k - n] for k in ks]
            alone = [mosi_tool.saliency(v, masks=True).masks for v in (alone_a, alone_b)]
            rows = {"each shot alone": [alone[0][k] if k < n else alone[1][k - n] for k in ks]}
            for name, video in (("joined, keyframe at the cut", keyed), ("re-encoded, no keyframe at the cut", unkeyed)):
                m = mosi_tool.saliency(video, masks=True).masks
                rows[name] = [m[k] for k in ks]
            print(f"\n{x} -> {y}")
            for name, masks in rows.items():
                js = [jaccard(mk, t) for mk, t in zip(masks, truth)]
                means.setdefault(name, []).append(float(np.mean(js[before:])))
                print(f"  {name:36s} " + " ".join(f"{j:4.2f}" for j in js) + f" | {means[name][-1]:.3f}")
    print(f"\nmean over the {len(pairs)} pairs of B's first {after} frames' J:")
    for name, values in means.items():
        print(f"  {name:36s} {np.mean(values):.3f}")

def network_maps(videos: dict[str, list[Path]], n: int) -> None:
    """`--network`: per pair and method, the joined shots' maps against each shot's alone around the cut."""
    import mosi_tool
    from mosi_tool.saliency.compute import compute_saliency

    engine = mosi_tool.load_model(device="cpu", mode="full")
    print(f"largest |joined - alone| per frame over the largest map value alone, frames {n - 10} to {n + 9} (cut at {n})")
    for pair, (alone_a, alone_b, keyed, _) in videos.items():
        for method in ("fused", "cam"):
            whole = np.asarray(compute_saliency(engine, keyed, "motion", method=method).maps[:])
            alone = np.concatenate([np.asarray(compute_saliency(engine, p, "motion", method=method).maps[:]) for p in (alone_a, alone_b)])
            apart = np.abs(whole - alone).max(axis=(1, 2)) / np.abs(alone).max()
            print(f"  {pair} {method:5s} " + " ".join(f"{d:4.2f}" for d in apart[n - 10 : n + 10]) + f" | largest {apart.max():.2f}")


if __name__ == "__main__":
    main()
