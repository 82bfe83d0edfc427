"""The frame cropping an H.264 sequence parameter set (SPS) states: where the shown picture lies in the coded one.

An H.264 picture is coded in 16x16 macroblocks; a video of another size, or one cropped later without
re-encoding (the `h264_metadata` bitstream filter), states a crop in its SPS. FFmpeg shows only the cropped
picture, but the motion vectors it exports stay in the coded picture's coordinates, so they must be shifted by
the crop's left and top offsets. PyAV does not expose them; this reads them from the SPS (ITU-T H.264 7.3.2.1.1),
found in the stream's extradata (MP4/MKV `avcC`, or Annex B as FFmpeg gives for MPEG-TS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}  # SPS with chroma_format_idc etc.
NAL_SPS = 7


@dataclass(frozen=True)
class Crop:
    """The SPS's frame cropping in luma pixels, and the coded picture's size."""

    left: int
    right: int
    top: int
    bottom: int
    coded_width: int
    coded_height: int


class _Bits:
    """Big-endian bit reader with Exp-Golomb codes (H.264 9.1)."""

    def __init__(self, data: bytes):
        self.value = int.from_bytes(data, "big")
        self.left = 8 * len(data)

    def u(self, n: int) -> int:
        if n > self.left:
            raise ValueError("SPS ends early")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


def parse_sps(nal: bytes) -> Crop:
    """The crop of one SPS NAL unit (header byte included, emulation-prevention bytes still in).

    Raises ValueError on a unit that is not an SPS or ends early."""
    if not nal or nal[0] & 0x1F != NAL_SPS:
        raise ValueError("not an SPS NAL unit")
    bits = _Bits(re.sub(b"\x00\x00\x03", b"\x00\x00", nal[1:]))  # emulation prevention (7.4.1)
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format, separate_planes = 1, 0
    if profile in HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_planes = bits.u(1)
        bits.ue(), bits.ue(), bits.u(1)  # bit depths, qpprime_y_zero_transform_bypass
        if bits.u(1):  # seq_scaling_matrix_present
            for i in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1), bits.se(), bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue(), bits.u(1)  # max_num_ref_frames, gaps_in_frame_num_value_allowed
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field
    bits.u(1)  # direct_8x8_inference
    crop = [bits.ue() for _ in range(4)] if bits.u(1) else [0, 0, 0, 0]  # left, right, top, bottom
    chroma = 0 if separate_planes else chroma_format
    unit_x = 1 if chroma in (0, 3) else 2  # SubWidthC (Table 6-1)
    unit_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)  # SubHeightC, times 2 for field coding
    return Crop(crop[0] * unit_x, crop[1] * unit_x, crop[2] * unit_y, crop[3] * unit_y,
                16 * width_mbs, 16 * height_units * (2 - frame_mbs_only))  # fmt: skip


def sps_units(extradata: bytes) -> Iterator[bytes]:
    """The SPS NAL units in a stream's extradata: an `avcC` record (MP4, MKV) or Annex B (start codes)."""
    if len(extradata) > 6 and extradata[0] == 1:  # avcC: version 1, ..., numOfSequenceParameterSets at byte 5
        pos = 6
        for _ in range(extradata[5] & 0x1F):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            yield extradata[pos + 2 : pos + 2 + size]
            pos += 2 + size
        return
    for unit in re.split(b"\x00\x00\x01", extradata):
        unit = unit.rstrip(b"\x00")  # a four-byte start code leaves a zero on the unit before
        if unit and unit[0] & 0x1F == NAL_SPS:
            yield unit


def stream_crop(extradata: bytes | None) -> Crop | None:
    """The crop the first SPS of an H.264 stream's extradata states, or None if there is none or it cannot be read."""
    for unit in sps_units(extradata or b""):
        try:
            return parse_sps(unit)
        except ValueError:
            return None
    return None
