"""Why an MP4/MOV file that FFmpeg rejects is damaged, read from its top-level boxes (ISO/IEC 14496-12, 4.2).

A file cut short (a copy or download that stopped, a recording still being written) fails in FFmpeg with
generic messages ("Invalid data found when processing input", no video stream, no frames). Its box layout
says what happened: the index (`moov`) is missing or cut, or the media data (`mdat`) ends early.
"""

from __future__ import annotations

import struct
from pathlib import Path

FIRST = b"ftyp"  # the first box of an MP4, M4V, 3GP or modern MOV (older QuickTime files may lack it: no diagnosis)
MAX_BOXES = 4096  # top-level boxes read before giving up (a sane file has a handful)


def top_level_boxes(path: str | Path) -> tuple[list[tuple[bytes, int, int]], int]:
    """([(type, offset, size in bytes)], file size) of the top-level boxes; a box whose header is cut is
    left out. A size of 0 means "to the end of the file" (the spec's last-box form)."""
    boxes: list[tuple[bytes, int, int]] = []
    with open(path, "rb") as f:
        end = f.seek(0, 2)
        offset = 0
        while offset + 8 <= end and len(boxes) < MAX_BOXES:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:  # 64-bit size follows the type
                if offset + 16 > end:
                    break
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:
                size = end - offset
            if size < 8:
                break  # not a box: stop rather than loop
            boxes.append((kind, offset, size))
            offset += size
    return boxes, end


def cut_short_reason(path: str | Path) -> str | None:
    """A one-line reason when `path` is an MP4/MOV whose boxes show it was cut short, else None."""
    try:
        with open(path, "rb") as f:
            if f.read(8)[4:] != FIRST:
                return None
        boxes, end = top_level_boxes(path)
    except (OSError, struct.error):  # unreadable, or changed while read
        return None
    kinds = [k for k, _, _ in boxes]
    cut = [(k, o, s) for k, o, s in boxes if o + s > end]
    if b"moov" not in kinds and (b"mdat" in kinds or cut):  # media data but no index (not a HEIF/AVIF image)
        return "an MP4/MOV without its index (no moov box): the file was cut short or is still being written"
    if cut and cut[0][0] == b"moov":
        return f"an MP4/MOV whose index (moov box) is cut short: {end} of {cut[0][1] + cut[0][2]} bytes present"
    if cut:
        kind, offset, size = cut[0]
        name = kind.decode("ascii") if kind.isascii() and kind.decode("ascii").isprintable() else "last"
        return f"an MP4/MOV cut short: its {name} box ends at byte {offset + size}, the file at {end}"
    return None
