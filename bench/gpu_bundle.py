"""Fill `.gpu/` (git-ignored) with the real data `bench/gpu_check.py` reads on a machine without ../shared.

    python bench/gpu_bundle.py                     # `make gpu-bundle`; ../shared/data must be beside the repo

Copies, keeping ../shared/data's layout so `MOSI_SHARED_DATA=.gpu/data` works for tests and benchmarks:
  data/videos/        the three short videos of `VIDEOS` (1.4 MB)
  data/images/imagenet-sample/train/<wnid>/   the first image of each of the first `--images` classes
  model/default.safetensors   the current default model, when this machine has one (bundled or CPU demo)
and writes manifest.json (every file with its size). Prints the bundle's size: it travels with the tree,
whose limit on the device machine is 64 MiB (docs/GPU.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUNDLE = ROOT / ".gpu"
# Short real videos in two containers: 164, 280 and 250 frames at 320x240, 340x256 (427x256 displayed: pixel aspect 64:51) and 640x272.
VIDEOS = ("eye_makeup.avi", "arm_wrestling.mp4", "bikes.mp4")
IMAGES = Path("images") / "imagenet-sample" / "train"  # ImageNet layout, short side <= 320 (the paper's Ls)
DEFAULT_IMAGES = 128  # sources for bench/train.py: about 6 MB


def shared_data() -> Path:
    """$MOSI_SHARED_DATA, else ../shared/data beside the repository (as the tests find it)."""
    return Path(os.environ.get("MOSI_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pick_images(root: Path, count: int) -> list[Path]:
    """The first image (by name) of each of the first `count` class folders (by name) under `root`."""
    picks = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in folder.iterdir() if f.is_file())
        if files:
            picks.append(files[0])
        if len(picks) == count:
            break
    return picks


def build(shared: Path, out: Path, images: int) -> dict[str, int]:
    """Copy the bundle from `shared` into `out` (replacing an older one); returns {relative path: bytes}."""
    sources = [shared / "videos" / v for v in VIDEOS]
    missing = [str(p) for p in sources if not p.is_file()]
    if not (shared / IMAGES).is_dir():
        missing.append(str(shared / IMAGES))
    if missing:
        raise FileNotFoundError(f"not in the shared data: {', '.join(missing)}")
    if out.exists():
        shutil.rmtree(out)
    copies = {out / "data" / "videos" / p.name: p for p in sources}
    for image in pick_images(shared / IMAGES, images):
        copies[out / "data" / IMAGES / image.parent.name / image.name] = image
    model = _default_model()
    if model is not None:
        copies[out / "model" / "default.safetensors"] = model
    for dst, src in copies.items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    files = {str(dst.relative_to(out)): dst.stat().st_size for dst in sorted(copies)}
    (out / "manifest.json").write_text(json.dumps({"source": str(shared), "files": files}, indent=1))
    return files


def _default_model() -> Path | None:
    from mosi_tool.default_model import default_model_path

    try:
        return default_model_path()
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", type=Path, default=shared_data(), help="the shared data folder (default: %(default)s)")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="source images to copy (default: %(default)s)")
    p.add_argument("--out", type=Path, default=BUNDLE)
    a = p.parse_args(argv)
    try:
        files = build(a.shared, a.out, a.images)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model = "model/default.safetensors" in files
    print(f"wrote {a.out}: {len(files)} files, {sum(files.values()) / 2**20:.1f} MiB "
          f"({'with' if model else 'without'} a trained default model)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
