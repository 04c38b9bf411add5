"""A stand-in for VTM's EncoderAppStatic/DecoderAppStatic, for tests (CI has no VTM).

Honours the same command lines as the real tools. The "bitstream" is Annex-B: a real-syntax VVC SPS
(4:4:4, picture size, conformance window) followed by one NAL holding the zlib-compressed YUV,
quantised with a step that grows with QP (so rate falls with QP, like a codec). Behaviour switches:
FAKE_VTM_VERSION (version in --help), FAKE_VTM_DECODER_VERSION (the decoder's, default the same),
FAKE_VTM_MODE = crash | hang | nooutput | garbage | wrongsize, FAKE_VTM_LOG (append each argv as one line),
FAKE_VTM_PIDFILE (the encoder writes its pid there first). A cfg line ``GciPresentFlag : 1`` makes the SPS
carry general constraint info, as VTM writes it (FAKE_VTM_GCI_EXTRA_BITS: gci_num_additional_bits, default 0).
"""
import os
import sys
import time
import zlib

import numpy as np


class BitWriter:
    def __init__(self):
        self.bits = []

    def u(self, n, v):
        self.bits += [(v >> (n - 1 - i)) & 1 for i in range(n)]

    def ue(self, v):
        v += 1
        n = v.bit_length()
        self.u(n - 1, 0)
        self.u(n, v)

    def align(self):
        while len(self.bits) % 8:
            self.bits.append(0)

    def bytes(self):
        self.u(1, 1)  # rbsp_stop_one_bit
        self.align()
        return bytes(int("".join(map(str, self.bits[i:i + 8])), 2) for i in range(0, len(self.bits), 8))


def emulation_prevent(payload):
    out, zeros = bytearray(), 0
    for b in payload:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def general_constraints_info(w, extra_bits=0):
    """H.266 7.3.3.2 with gci_present_flag 1: 71 bits of constraint fields (an intra-only, 4:4:4, 8-bit
    pattern, as an all-intra config sets them), gci_num_additional_bits and that many bits, alignment."""
    w.u(1, 1)  # gci_present_flag
    w.u(1, 1); w.u(1, 0); w.u(1, 1)  # intra only, all layers independent, one AU only
    w.u(4, 8); w.u(2, 0)  # sixteen_minus_max_bitdepth (8-bit), three_minus_max_chroma_format (4:4:4)
    for i in range(71 - 9):
        w.u(1, i % 3 == 0)  # the remaining flags: a pattern that would shift any miscount
    w.u(8, extra_bits)
    for i in range(extra_bits):
        w.u(1, 0)
    w.align()


def sps(width, height, gci=False, gci_extra_bits=0):
    pad_w, pad_h = (-width) % 8, (-height) % 8  # VTM pads to the minimum CU size
    w = BitWriter()
    w.u(4, 0); w.u(4, 0); w.u(3, 0); w.u(2, 3); w.u(2, 2); w.u(1, 1)
    w.u(7, 1); w.u(1, 0); w.u(8, 51); w.u(1, 1); w.u(1, 0)  # PTL
    if gci:
        general_constraints_info(w, gci_extra_bits)
    else:
        w.u(1, 0); w.align()  # no GCI
    w.u(8, 0)  # no sub-profiles
    w.u(1, 0); w.u(1, 0)  # gdr, rpr
    w.ue(width + pad_w); w.ue(height + pad_h)
    w.u(1, 1); w.ue(0); w.ue(pad_w); w.ue(0); w.ue(pad_h)  # conformance window (4:4:4: unit 1)
    header = bytes([0, (15 << 3) | 1])  # nal_unit_type 15 = SPS
    return b"\x00\x00\x00\x01" + header + emulation_prevent(w.bytes())


def args_dict(argv):
    d, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            d[k] = v
            i += 1
        else:
            d[a.lstrip("-")] = argv[i + 1]
            i += 2
    return d


def main():
    name = os.path.basename(sys.argv[0])
    mode = os.environ.get("FAKE_VTM_MODE", "")
    if os.environ.get("FAKE_VTM_LOG"):
        with open(os.environ["FAKE_VTM_LOG"], "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\n")
    if sys.argv[1:] == ["--help"]:
        kind = "Encoder" if "Encoder" in name else "Decoder"
        version = os.environ.get("FAKE_VTM_VERSION", "12.1")
        if kind == "Decoder":
            version = os.environ.get("FAKE_VTM_DECODER_VERSION", version)
        print(f"\nVVCSoftware: VTM {kind} Version {version} [Linux][GCC 12.2.0][64 bit] [SIMD=AVX2]")
        return 0
    a = args_dict(sys.argv[1:])
    if os.environ.get("FAKE_VTM_PIDFILE") and "Encoder" in name:
        with open(os.environ["FAKE_VTM_PIDFILE"], "a") as f:
            f.write(f"{os.getpid()}\n")
    if mode == "crash":
        print("ERROR: In function \"main\": simulated crash", file=sys.stderr)
        return 134
    if mode == "hang":
        time.sleep(60)
    if "Encoder" in name:
        required = {"i", "c", "q", "o", "b", "wdt", "hgt", "fr", "f", "InputChromaFormat", "InputBitDepth", "ConformanceWindowMode"}
        assert required <= set(a), f"missing {required - set(a)}"
        assert (a["InputChromaFormat"], a["InputBitDepth"], a["ConformanceWindowMode"], a["f"]) == ("444", "8", "1", "1")
        assert os.path.isfile(a["c"])
        w, h, qp = int(a["wdt"]), int(a["hgt"]), int(a["q"])
        raw = np.fromfile(a["i"], np.uint8)
        assert raw.size == 3 * w * h, f"input size {raw.size} != 3*{w}*{h}"
        step = max(1, round(2 ** ((qp - 22) / 6)))
        q = np.clip(np.round(raw / step) * step, 0, 255).astype(np.uint8)
        payload = bytes([qp]) + zlib.compress(q.tobytes(), 9)
        if mode != "nooutput":
            with open(a["b"], "wb") as f:
                gci = any(line.replace(" ", "").split("#")[0] == "GciPresentFlag:1" for line in open(a["c"]).read().splitlines())
                f.write(sps(w, h, gci, int(os.environ.get("FAKE_VTM_GCI_EXTRA_BITS", "0"))) + b"\x00\x00\x00\x01" + bytes([0, (1 << 3) | 1]) + emulation_prevent(payload))
        return 0
    # decoder
    assert a.get("d") == "8", "decoder must be asked for 8-bit output (-d 8)"
    data = open(a["b"], "rb").read()
    nal = data.split(b"\x00\x00\x00\x01")[2][2:]
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    yuv = zlib.decompress(bytes(out[1:]))
    if mode == "garbage":
        yuv = yuv[: len(yuv) // 2]
    if mode == "wrongsize":
        yuv = yuv + b"\x00" * 99
    with open(a["o"], "wb") as f:
        f.write(yuv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
