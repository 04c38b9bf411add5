"""Just enough of the VVC (H.266) bitstream syntax to read the picture size from the SPS.

The VTM decoder writes raw YUV with no header; the picture size lives in the sequence parameter set
(ITU-T H.266 §7.3.2.4): max width/height in luma samples and the conformance window.
"""

from __future__ import annotations

SPS_NUT = 15
#: general_constraints_info() (H.266 §7.3.3.2): the fixed fields from gci_intra_only_constraint_flag to
#: gci_no_virtual_boundaries_constraint_flag take 71 bits; then gci_num_additional_bits (u(8)) says how
#: many more bits follow (v1 calls them reserved, v2 defines the first six), then byte alignment.
GCI_FIXED_BITS = 71


class BitReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3] if (self.pos >> 3) < len(self.data) else None
            if byte is None:
                raise ValueError("SPS ends early")
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("invalid exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def align(self) -> None:
        while self.pos & 7:
            self.u(1)


def nal_units(stream: bytes):
    """Annex-B NAL units (start codes removed, emulation prevention kept)."""
    i, n, starts = 0, len(stream), []
    while True:
        j = stream.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        nal = stream[s:end]
        while nal.endswith(b"\x00"):
            nal = nal[:-1]
        yield nal


def rbsp(nal_payload: bytes) -> bytes:
    """Remove emulation-prevention bytes (0x000003 -> 0x0000)."""
    out, zeros = bytearray(), 0
    for b in nal_payload:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _profile_tier_level(r: BitReader, max_sublayers_minus1: int) -> None:
    r.u(7), r.u(1)  # general_profile_idc, general_tier_flag
    r.u(8)  # general_level_idc
    r.u(1), r.u(1)  # ptl_frame_only_constraint_flag, ptl_multilayer_enabled_flag
    if r.u(1):  # gci_present_flag: skip the constraint flags, none of which changes the picture size
        r.u(GCI_FIXED_BITS)
        r.u(r.u(8))  # gci_num_additional_bits, then those bits
    r.align()  # gci_alignment_zero_bit
    present = [r.u(1) for _ in range(max_sublayers_minus1)]
    r.align()  # ptl_reserved_zero_bit
    for p in present:
        if p:
            r.u(8)
    for _ in range(r.u(8)):  # ptl_num_sub_profiles
        r.u(32)


def picture_size(stream: bytes) -> tuple[int, int, int]:
    """(width, height, chroma_format_idc) of the first SPS, conformance window applied."""
    for nal in nal_units(stream):
        if len(nal) < 3 or ((nal[1] >> 3) & 0x1F) != SPS_NUT:
            continue
        r = BitReader(rbsp(nal[2:]))
        r.u(4), r.u(4)  # sps_seq_parameter_set_id, sps_video_parameter_set_id
        max_sub = r.u(3)
        chroma = r.u(2)
        r.u(2)  # sps_log2_ctu_size_minus5
        if r.u(1):  # sps_ptl_dpb_hrd_params_present_flag
            _profile_tier_level(r, max_sub)
        r.u(1)  # sps_gdr_enabled_flag
        if r.u(1):  # sps_ref_pic_resampling_enabled_flag
            r.u(1)
        w, h = r.ue(), r.ue()
        if r.u(1):  # sps_conformance_window_flag
            left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
            sub_w = 2 if chroma in (1, 2) else 1
            sub_h = 2 if chroma == 1 else 1
            w -= sub_w * (left + right)
            h -= sub_h * (top + bottom)
        return w, h, chroma
    raise ValueError("no sequence parameter set (SPS) found in the bitstream")
