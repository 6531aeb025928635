"""Minimal NIfTI-1 reading and writing for the M1 recipes (numpy only; no nibabel on this machine).

Arrays are indexed [i, j, k] as the file stores them (i fastest on disk); the affine maps (i, j, k, 1) to RAS mm.
"""
import gzip
import struct

import numpy as np

_DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 256: np.int8, 512: np.uint16}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


def read(path):
    """(array [i, j, k] as float32 or the stored integer type, 4×4 affine) of a 3-D NIfTI-1 file."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    end = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    dim = struct.unpack(end + "8h", raw[40:56])
    datatype = struct.unpack(end + "h", raw[70:72])[0]
    offset = int(struct.unpack(end + "f", raw[108:112])[0])
    slope, inter = struct.unpack(end + "2f", raw[112:120])
    sform = struct.unpack(end + "h", raw[254:256])[0]
    srow = np.array(struct.unpack(end + "12f", raw[280:328]), dtype=np.float64).reshape(3, 4)
    if sform <= 0:
        pix = struct.unpack(end + "8f", raw[76:108])
        srow = np.array([[pix[1], 0, 0, 0], [0, pix[2], 0, 0], [0, 0, pix[3], 0]])
    shape = dim[1:4]
    data = np.frombuffer(raw, dtype=np.dtype(_DTYPES[datatype]).newbyteorder(end), count=int(np.prod(shape)), offset=offset)
    a = data.reshape(shape[::-1]).transpose(2, 1, 0)
    if slope not in (0, 1) or inter != 0:
        a = a.astype(np.float32) * (slope or 1) + inter
    affine = np.eye(4)
    affine[:3] = srow
    return np.ascontiguousarray(a), affine


def write(path, a, affine):
    """Writes array a [i, j, k] with a RAS affine as (gzipped when path ends in .gz) NIfTI-1, sform and qform set."""
    a = np.asarray(a)
    code = _CODES[a.dtype]
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(0))
    h = bytearray(352)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, *a.shape, 1, 1, 1, 1)
    struct.pack_into("<2h", h, 70, code, a.dtype.itemsize * 8)
    struct.pack_into("<8f", h, 76, 1, *spacing, 1, 1, 1, 1)
    struct.pack_into("<f", h, 108, 352)
    struct.pack_into("<2f", h, 112, 1, 0)
    struct.pack_into("<b", h, 123, 10)  # xyzt units: mm, s
    # qform from the affine's rotation (axis-aligned affines only; sform carries the truth).
    r = affine[:3, :3] / spacing
    qfac = 1.0 if np.linalg.det(r) > 0 else -1.0
    if qfac < 0:
        r[:, 2] = -r[:, 2]
    b, c, d = _quaternion(r)
    struct.pack_into("<f", h, 76, qfac)
    struct.pack_into("<2h", h, 252, 1, 1)
    struct.pack_into("<6f", h, 256, b, c, d, *affine[:3, 3])
    struct.pack_into("<12f", h, 280, *affine[:3].ravel())
    h[344:348] = b"n+1\x00"
    body = bytes(h) + np.ascontiguousarray(a.transpose(2, 1, 0)).astype(a.dtype.newbyteorder("<")).tobytes()
    if path.endswith(".gz"):
        body = gzip.compress(body, 6)
    with open(path, "wb") as f:
        f.write(body)


def _quaternion(r):
    """(b, c, d) of the unit quaternion of rotation r, with a = sqrt(1 − b² − c² − d²) ≥ 0 (Shepperd's method)."""
    t = np.trace(r)
    if t > 0:
        s = np.sqrt(t + 1) * 2
        q = [s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = np.sqrt(1 + r[0, 0] - r[1, 1] - r[2, 2]) * 2
        q = [(r[2, 1] - r[1, 2]) / s, s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
    elif r[1, 1] > r[2, 2]:
        s = np.sqrt(1 + r[1, 1] - r[0, 0] - r[2, 2]) * 2
        q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s]
    else:
        s = np.sqrt(1 + r[2, 2] - r[0, 0] - r[1, 1]) * 2
        q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4]
    if q[0] < 0:
        q = [-v for v in q]
    return q[1], q[2], q[3]


def to_ras(a, affine):
    """The array reoriented so that i, j, k run towards R, A, S (axis-aligned affines: permutation and flips, no
    resampling) and its new affine."""
    m = affine[:3, :3]
    axes = [int(np.argmax(np.abs(m[:, c]))) for c in range(3)]  # world axis of each voxel axis
    if sorted(axes) != [0, 1, 2]:
        raise ValueError("affine %s is not axis-aligned" % m)
    perm = [axes.index(w) for w in range(3)]
    b = a.transpose(perm)
    aff = np.eye(4)
    aff[:3, :3] = m[:, perm]
    aff[:3, 3] = affine[:3, 3]
    for w in range(3):
        if aff[w, w] < 0:
            n = b.shape[w]
            b = np.flip(b, w)
            aff[:3, 3] = aff[:3, 3] + aff[:3, w] * (n - 1)
            aff[:3, w] = -aff[:3, w]
    return np.ascontiguousarray(b), aff
