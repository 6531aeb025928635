"""Randomised brain-tumour synthesis for NeuroNova's M1 demonstration model (SynthSeg-style domain randomisation).

Two steps, both seeded:

1. label_map(rng): a random anatomy on a 1 mm grid (cerebrum with folded cortex, sulci and the interhemispheric
   fissure, white matter, deep grey nuclei, ventricles, cerebellum and brainstem, choroid plexus and veins that
   enhance) with one to three tumours (size, shape, position, mass effect, and a pattern each: ring enhancement
   around necrosis, solid enhancement, non-enhancing, patchy enhancement) and oedema that spreads through white
   matter. Tissue labels are TISSUES; the BraTS classes follow from TARGET.
2. Appearance(rng): per sequence (T1, T1CE, T2, FLAIR) a random intensity per tissue (drawn around textbook
   contrasts, or uniformly in any order), texture, bias field, noise (Gaussian or Rician), gamma, 8-bit
   quantisation; spatially a random rotation, scaling, left-right flip and elastic deformation; per sequence a
   random acquisition (partial-volume blur, anisotropic voxels up to 6 mm thick along a random axis, resampled
   back to 1 mm as the workstation does). Appearance.patch renders a training patch, Appearance.volume a whole
   case; both normalise each channel as inference/m1 does (z-score over the brain voxels of the whole volume).

Only numpy and torch (Debian python3-numpy, python3-torch). Nothing here reads real images.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

# Tissue labels of a label map.
BG, WM, GM, DGM, CSF, VENT, VESSEL, NCR, ED, ET, NET = range(11)
TISSUES = ["background", "white matter", "grey matter", "deep grey matter", "CSF", "ventricles",
           "enhancing vessels and choroid plexus", "necrosis", "oedema", "enhancing tumour", "non-enhancing tumour"]
# Tissue → training class (0 background, 1 NCR = necrosis or non-enhancing tumour, 2 ED, 3 ET).
TARGET = np.array([0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 1], dtype=np.uint8)
# Label-map grid (D, H, W) = (z: S, y: P, x: L) at 1 mm.
SHAPE = (160, 208, 176)

# Textbook relative intensities (T1, T1CE, T2, FLAIR) per tissue: the centre of the "prior" draws.
PRIOR = np.array([
    [0.00, 0.00, 0.00, 0.00],  # background
    [0.80, 0.75, 0.35, 0.45],  # white matter
    [0.60, 0.58, 0.50, 0.55],  # grey matter
    [0.68, 0.65, 0.42, 0.50],  # deep grey matter
    [0.15, 0.15, 0.95, 0.08],  # CSF
    [0.12, 0.12, 0.97, 0.05],  # ventricles
    [0.50, 0.95, 0.25, 0.35],  # enhancing vessels, choroid plexus
    [0.25, 0.25, 0.85, 0.55],  # necrosis
    [0.55, 0.52, 0.75, 0.85],  # oedema
    [0.50, 0.95, 0.60, 0.70],  # enhancing tumour
    [0.45, 0.45, 0.75, 0.80],  # non-enhancing tumour
], dtype=np.float32)

PATTERNS = ["ring", "solid", "nonenhancing", "patchy"]


def smooth_noise(rng, shape, scale):
    """A smooth random field of about unit variance with features of `scale` voxels (a coarse Gaussian grid
    upsampled trilinearly)."""
    coarse = [max(2, int(math.ceil(s / scale)) + 2) for s in shape]
    g = torch.from_numpy(rng.standard_normal(coarse).astype(np.float32))[None, None]
    return F.interpolate(g, size=shape, mode="trilinear", align_corners=True)[0, 0].numpy() * 1.6


def _coords():
    d, h, w = SHAPE
    z = np.arange(d, dtype=np.float32)[:, None, None] - (d - 1) / 2
    y = np.arange(h, dtype=np.float32)[None, :, None] - (h - 1) / 2
    x = np.arange(w, dtype=np.float32)[None, None, :] - (w - 1) / 2
    return x, y, z


def _ellipsoid(x, y, z, c, r):
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2


def _rotation(rng, max_deg):
    a = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    cx, sx, cy, sy, cz, sz = np.cos(a[0]), np.sin(a[0]), np.cos(a[1]), np.sin(a[1]), np.cos(a[2]), np.sin(a[2])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return (rz @ ry @ rx).astype(np.float32)


def label_map(rng, pattern=None, side=None):
    """A random anatomy with tumours: (labels uint8 SHAPE, meta dict with the head targets' inputs). pattern
    (one of PATTERNS) and side ("left" or "right") fix the first tumour's; the random draws are the same either
    way."""
    x0, y0, z0 = _coords()
    u = rng.uniform
    centre = np.array([u(-4, 4), u(-6, 6), u(6, 14)], dtype=np.float32)
    radii = np.array([u(58, 70), u(72, 88), u(52, 64)], dtype=np.float32)
    lesions = _lesions(rng, centre, radii)
    if pattern is not None:
        lesions[0]["pattern"] = pattern
    if side is not None:  # patient left is +x (LPS)
        dx = abs(float(lesions[0]["centre"][0] - centre[0])) * (1 if side == "left" else -1)
        lesions[0]["centre"][0] = centre[0] + dx

    # Mass effect: anatomy is looked up at points pulled towards each lesion, so it appears pushed away.
    x, y, z = np.broadcast_arrays(x0, y0, z0)
    x, y, z = x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)
    for les in lesions:
        dx, dy, dz = x - les["centre"][0], y - les["centre"][1], z - les["centre"][2]
        r = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-3
        k = 1 - les["mass"] * np.exp(-(r / (1.6 * les["size"])) ** 2)
        x, y, z = les["centre"][0] + dx * k, les["centre"][1] + dy * k, les["centre"][2] + dz * k

    lab = np.zeros(SHAPE, dtype=np.uint8)
    # Cerebellum (foliated grey and white matter) and brainstem.
    cb_c = np.array([u(-3, 3), centre[1] + u(38, 50), centre[2] - u(40, 50)])
    cb_r = np.array([u(42, 52), u(22, 30), u(18, 24)])
    rho_cb = np.sqrt(_ellipsoid(x, y, z, cb_c, cb_r))
    folia = np.sin(2 * np.pi * (1 - rho_cb) * cb_r.mean() / u(4, 7) + 2 * smooth_noise(rng, SHAPE, 10))
    inside_cb = rho_cb < 1
    lab[inside_cb] = WM
    lab[inside_cb & ((folia > u(-0.3, 0.2)) | (rho_cb > 1 - 2.5 / cb_r.mean()))] = GM
    bs_c = np.array([0, centre[1] + u(10, 20), centre[2] - u(35, 45)])
    lab[_ellipsoid(x, y, z, bs_c, [u(10, 14), u(10, 14), u(26, 32)]) < 1] = WM

    # Cerebrum: ellipsoid with a wavy surface; depth below the surface in mm.
    rho = np.sqrt(_ellipsoid(x, y, z, centre, radii)) * (1 + 0.04 * smooth_noise(rng, SHAPE, 40))
    r_here = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
    depth = (1 - rho) * r_here / np.maximum(rho, 1e-3)
    cer = rho < 1
    lab[cer] = WM
    sulci = smooth_noise(rng, SHAPE, u(10, 16))
    sdepth, gm_thick, band = u(12, 22), u(2.5, 4), u(0.05, 0.1)
    near_sulcus = (np.abs(sulci) < 3 * band) & (depth < sdepth + gm_thick)
    lab[cer & ((depth < gm_thick) | near_sulcus)] = GM
    csf = cer & (((np.abs(sulci) < band) & (depth < sdepth)) | (depth < u(0, 2.5)))
    fissure = (np.abs(x - centre[0] - 2 * smooth_noise(rng, SHAPE, 30)) < u(0.8, 2)) & (z - centre[2] > u(6, 14))
    csf |= cer & fissure
    lab[csf] = CSF

    # Deep grey nuclei, ventricles, choroid plexus, veins.
    atrophy = u(0.6, 1.5)
    for s in (-1, 1):
        lab[cer & (_ellipsoid(x, y, z, centre + [s * u(8, 12), u(0, 8), -u(0, 6)], [u(6, 9), u(10, 14), u(6, 9)]) < 1)] = DGM
        lab[cer & (_ellipsoid(x, y, z, centre + [s * u(16, 22), u(-15, -5), u(-2, 4)], [u(4, 6), u(10, 14), u(7, 10)]) < 1)] = DGM
    vent = np.zeros(SHAPE, dtype=bool)
    for s in (-1, 1):
        vent |= _ellipsoid(x, y, z, centre + [s * u(5, 9), u(-5, 5), u(5, 12)],
                           np.array([u(3, 7), u(18, 28), u(4, 9)]) * [atrophy, 1, atrophy]) < 1
        vent |= _ellipsoid(x, y, z, centre + [s * u(12, 18), u(15, 25), -u(5, 15)], np.array([u(2, 4), u(8, 14), u(2, 4)]) * atrophy) < 1
    vent |= _ellipsoid(x, y, z, centre + [0, u(-5, 5), -u(0, 6)], [1.5 * atrophy, u(10, 14), u(5, 8)]) < 1
    lab[cer & vent] = VENT
    for s in (-1, 1):
        lab[cer & vent & (_ellipsoid(x, y, z, centre + [s * u(12, 16), u(12, 20), u(0, 6)], [3, 4, 3]) < 1)] = VESSEL
    sinus = cer & (np.abs(x - centre[0]) < u(1.5, 3)) & (depth < u(2, 3.5)) & (z - centre[2] > -10)
    lab[sinus] = VESSEL
    for _ in range(rng.integers(0, 5)):
        a = centre + rng.uniform(-0.7, 0.7, 3) * radii
        b = a + rng.normal(0, 20, 3)
        lab[cer & (_segment_distance(x, y, z, a, b) < u(0.7, 1.5))] = VESSEL

    # Tumours on the undeformed grid (they deform the anatomy, not themselves).
    brain = lab > 0
    _draw_lesions(rng, lab, brain, lesions, x0, y0, z0)
    meta = {
        "brain_centre": centre.tolist(), "brain_radii": radii.tolist(),
        "lesions": [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in les.items()} for les in lesions],
    }
    return lab, meta


def _segment_distance(x, y, z, a, b):
    ab = b - a
    t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / float(ab @ ab)
    t = np.clip(t, 0, 1)
    return np.sqrt((x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2 + (z - a[2] - t * ab[2]) ** 2)


def _lesions(rng, centre, radii):
    n = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
    out = []
    for i in range(n):
        while True:
            off = rng.uniform(-0.75, 0.75, 3) * radii
            if ((off / radii) ** 2).sum() < 0.6:
                break
        size = rng.uniform(6, 26) if i == 0 else rng.uniform(3, 12)
        pattern = PATTERNS[rng.choice(4, p=[0.45, 0.15, 0.2, 0.2])]
        out.append({
            "centre": (centre + off).astype(np.float32), "size": float(size), "pattern": pattern,
            "axes": (size * rng.uniform(0.7, 1.3, 3)).astype(np.float32), "rotation": _rotation(rng, 90),
            "deform": float(rng.uniform(0, 0.3)), "deform_scale": float(rng.uniform(5, 15)),
            "core": float(rng.uniform(0.3, 0.85)), "oedema": float(rng.uniform(1.1, 2.0) if rng.random() < 0.9 else rng.uniform(1, 1.1)),
            "mass": float(rng.uniform(0, 0.45)),
        })
    return out


def _draw_lesions(rng, lab, brain, lesions, x, y, z):
    prio = np.zeros(len(TISSUES), dtype=np.uint8)
    prio[[ED, NET, NCR, ET]] = [1, 2, 3, 4]
    tumour = np.zeros(SHAPE, dtype=np.uint8)  # tumour label with priority ET > NCR > NET > ED
    for les in lesions:
        c, R = les["centre"], les["rotation"]
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        q = [(R[0, 0] * dx + R[1, 0] * dy + R[2, 0] * dz) / les["axes"][0],
             (R[0, 1] * dx + R[1, 1] * dy + R[2, 1] * dz) / les["axes"][1],
             (R[0, 2] * dx + R[1, 2] * dy + R[2, 2] * dz) / les["axes"][2]]
        s = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2) * (1 + les["deform"] * smooth_noise(rng, SHAPE, les["deform_scale"]))
        n2, n3 = smooth_noise(rng, SHAPE, 6), smooth_noise(rng, SHAPE, 5)
        new = np.zeros(SHAPE, dtype=np.uint8)
        se = s / les["oedema"] * (1 + 0.25 * smooth_noise(rng, SHAPE, 12))
        ed = (se < 1) & (np.isin(lab, [WM, DGM]) | ((lab == GM) & (se < 0.75)))
        new[ed] = ED
        inside = s < 1
        p = les["pattern"]
        if p == "ring":
            core = inside & (s < les["core"] * (1 + 0.15 * n2))
            new[inside] = ET
            new[core] = NCR
            if rng.random() < 0.2:
                new[core & (n3 > 0.5)] = NET
        elif p == "solid":
            new[inside] = ET
            new[inside & (s < rng.uniform(0, 0.35) * (1 + 0.3 * n2))] = NCR
        elif p == "nonenhancing":
            new[inside] = NET
            if rng.random() < 0.4:
                new[inside & (n3 > rng.uniform(1.2, 1.8))] = ET
        else:  # patchy
            new[inside] = NET
            new[inside & (n3 > rng.uniform(0.3, 0.9))] = ET
            new[inside & (s < rng.uniform(0.2, 0.5))] = NCR
        take = prio[new] > prio[tumour]
        tumour[take] = new[take]
    # Tumour cores replace any tissue of the brain; oedema only what _draw_lesions allowed above.
    put = brain & (tumour > 0)
    lab[put] = tumour[put]


def targets(meta, rng):
    """Head targets from the phantom rules (they describe these phantoms, never real tumours): grade from the first
    lesion's pattern (non-enhancing G2, solid or patchy G3, ring G4); IDH mutant when it does not enhance (10 %
    flipped); MGMT methylated when it lies left of the brain's centre; risk a fixed function of grade, whole-tumour
    volume, IDH and MGMT."""
    les = meta["lesions"][0]
    grade = {"nonenhancing": 0, "solid": 1, "patchy": 1, "ring": 2}[les["pattern"]]
    idh = int(les["pattern"] == "nonenhancing")
    if rng.random() < 0.1:
        idh = 1 - idh
    mgmt = int(les["centre"][0] > meta["brain_centre"][0])
    wt = meta["wt_ml"]
    zr = 1.3 * (grade - 1) + 0.025 * (wt - 60) - 0.8 * idh - 0.6 * mgmt
    return {"grade": grade, "idh": idh, "mgmt": mgmt, "risk": 1 / (1 + math.exp(-zr))}


# ---------------------------------------------------------------------------------------------------------------
# Appearance


class Appearance:
    """One random appearance of one label map: intensities, fields, spatial transform and acquisitions, for the
    four sequences. Sample it once, then render patches (training) or the whole volume (evaluation)."""

    def __init__(self, rng, labels, spatial=True, flip=True):
        self.rng, self.u = rng, rng.uniform
        u = self.u
        self.labels = torch.from_numpy(labels.astype(np.float32))[None, None]
        self.shape = labels.shape
        nt = len(TISSUES)
        mode = rng.choice(3, p=[0.5, 0.25, 0.25])  # prior, per-sequence mix, fully random
        self.mean = np.zeros((4, nt), dtype=np.float32)
        for c in range(4):
            random_channel = mode == 2 or (mode == 1 and rng.random() < 0.5)
            if random_channel:
                self.mean[c] = rng.uniform(0.02, 1, nt)
            else:
                self.mean[c] = np.clip(PRIOR[:, c] + rng.uniform(-0.12, 0.12, nt), 0.02, 1)
        self.mean[:, BG] = 0
        self.sd = rng.uniform(0.01, 0.06, (4, nt)).astype(np.float32)
        self.texture = [u(0, 0.1) for _ in range(4)]
        self.tumour_texture = [u(0, 0.15) for _ in range(4)]
        self.bias = [u(0, 0.3) for _ in range(4)]
        self.noise = [u(0, 0.05) for _ in range(4)]
        self.rician = [rng.random() < 0.5 for _ in range(4)]
        self.gamma = [math.exp(rng.normal(0, 0.25)) for _ in range(4)]
        self.quantise = [rng.random() < 0.3 for _ in range(4)]
        # Smooth fields over the label map, looked up trilinearly wherever sampled: bias (about 50 mm features)
        # and textures of normal tissue and tumour (about 4 mm).
        self.bias_field = torch.from_numpy(rng.standard_normal((4, 5, 6, 5)).astype(np.float32))[None]
        self.texture_field = torch.from_numpy(rng.standard_normal((8, 40, 52, 44)).astype(np.float32))[None]
        # Acquisition per sequence: partial-volume blur and, often, thick slices along a random axis.
        self.blur = [u(0.3, 0.9) for _ in range(4)]
        self.thick = [(int(rng.integers(3)), u(1.5, 6)) if rng.random() < 0.6 else None for _ in range(4)]
        # Spatial transform: rotation, scaling, elastic deformation, left-right flip.
        self.A = (_rotation(rng, 12) * u(0.88, 1.12) * rng.uniform(0.95, 1.05, 3)[None, :] if spatial else np.eye(3)).astype(np.float32)
        self.elastic = rng.normal(0, u(0, 3), (3, 5, 5, 5)).astype(np.float32) if spatial else None
        self.flip = flip and rng.random() < 0.5
        self.stats = self._stats()

    # Coordinates: mm offsets (x, y, z) from the label map's centre; grid_sample wants (x→W, y→H, z→D) in [-1, 1].
    def _norm(self, pts):
        d, h, w = self.shape
        return torch.stack([pts[..., 0] / ((w - 1) / 2), pts[..., 1] / ((h - 1) / 2), pts[..., 2] / ((d - 1) / 2)], -1)

    def _lookup(self, pts):
        """Tissue labels, bias fields (4, ...) and texture fields (8, ...) at mm points pts (..., 3) of the label map."""
        g = self._norm(pts).reshape(1, 1, 1, -1, 3)
        lab = F.grid_sample(self.labels, g, mode="nearest", padding_mode="zeros", align_corners=True).reshape(pts.shape[:-1])
        sample = lambda f: F.grid_sample(f, g, mode="bilinear", padding_mode="border", align_corners=True).reshape(f.shape[1], *pts.shape[:-1])  # noqa: E731
        return lab.long(), sample(self.bias_field), sample(self.texture_field)

    def _intensity(self, lab, tex, noise_rng):
        """Raw intensities (4, ...) of tissues lab, before blur and acquisition."""
        out = []
        tumour = (lab >= NCR).float()
        for c in range(4):
            m = torch.from_numpy(self.mean[c])[lab]
            s = torch.from_numpy(self.sd[c])[lab]
            v = m * (1 + self.texture[c] * tex[c] + self.tumour_texture[c] * tex[4 + c] * tumour)
            v = v + s * torch.from_numpy(noise_rng.standard_normal(tuple(lab.shape)).astype(np.float32))
            out.append(v * (lab > 0).float())
        return torch.stack(out)

    def _finish(self, img, brain, bias, noise_rng):
        """Bias field, noise, gamma and quantisation, channel by channel; brain voxels stay above 0 unless
        quantised to 0 (as in 8-bit images)."""
        out = []
        for c in range(4):
            v = img[c].clamp(min=0)
            v = v * torch.exp(self.bias[c] * bias[c])
            n = self.noise[c]
            if self.rician[c]:
                a = torch.from_numpy(noise_rng.standard_normal((2,) + tuple(v.shape)).astype(np.float32)) * n
                v = torch.sqrt((v + a[0]) ** 2 + a[1] ** 2)
            else:
                v = v + n * torch.from_numpy(noise_rng.standard_normal(tuple(v.shape)).astype(np.float32))
            v = v.clamp(min=1e-3) ** self.gamma[c]
            if self.quantise[c]:
                v = torch.round(v / 1.6 * 255).clamp(0, 255)
            out.append(v * brain)
        return torch.stack(out)

    def _stats(self):
        """Per-channel mean and SD over the brain voxels of the whole volume (every third voxel), as the pipeline
        normalises."""
        d, h, w = self.shape
        zz, yy, xx = torch.meshgrid(torch.arange(1, d, 3.0) - (d - 1) / 2, torch.arange(1, h, 3.0) - (h - 1) / 2,
                                    torch.arange(1, w, 3.0) - (w - 1) / 2, indexing="ij")
        pts = torch.stack([xx, yy, zz], -1)
        lab, bias, tex = self._lookup(pts)
        nrng = np.random.default_rng(int(self.rng.integers(1 << 62)))
        img = self._finish(self._intensity(lab, tex, nrng), (lab > 0).float(), bias, nrng)
        stats = []
        for c in range(4):
            v = img[c][img[c] > 0]
            stats.append((float(v.mean()), float(v.std(unbiased=False)) + 1e-6) if v.numel() > 1 else (0.0, 1.0))
        return stats

    def _points(self, centre, size):
        """mm points of an output grid of `size` voxels centred on `centre` (mm in label-map space), through the
        spatial transform."""
        d, h, w = size
        zz, yy, xx = torch.meshgrid(torch.arange(d, dtype=torch.float32) - (d - 1) / 2, torch.arange(h, dtype=torch.float32) - (h - 1) / 2,
                                    torch.arange(w, dtype=torch.float32) - (w - 1) / 2, indexing="ij")
        if self.flip:
            xx = -xx
        off = torch.stack([xx, yy, zz], -1)
        pts = off @ torch.from_numpy(self.A).T
        if self.elastic is not None:
            e = F.interpolate(torch.from_numpy(self.elastic)[None], size=(d, h, w), mode="trilinear", align_corners=True)[0]
            pts = pts + e.permute(1, 2, 3, 0)
        return pts + torch.tensor(centre, dtype=torch.float32)

    def render(self, centre, size, margin=6):
        """Images (4, D, H, W) normalised like the pipeline, and the training classes (D, H, W), on a grid of `size`
        around centre (mm, label-map space)."""
        big = tuple(s + 2 * margin for s in size)
        pts = self._points(centre, big)
        lab, bias, tex = self._lookup(pts)
        nrng = np.random.default_rng(int(self.rng.integers(1 << 62)))
        img = self._intensity(lab, tex, nrng)
        chans = [self._acquire(img[c], c) for c in range(4)]
        img = self._finish(torch.stack(chans), (lab > 0).float(), bias, nrng)
        crop = tuple(slice(margin, margin + s) for s in size)
        img, lab = img[(slice(None),) + crop], lab[crop]
        out = torch.zeros_like(img)
        for c in range(4):
            m, s = self.stats[c]
            v = img[c]
            out[c] = torch.where(v > 0, (v - m) / s, torch.zeros_like(v))
        return out, torch.from_numpy(TARGET)[lab]

    def raw(self):
        """The whole label map as a scanner would write it: (4, D, H, W) positive intensities (0 outside the brain)
        and the training classes; the inverse of the pipeline's normalisation applied to render's output."""
        img, cls = self.render([0.0, 0.0, 0.0], self.shape, margin=0)
        out = torch.zeros_like(img)
        for c in range(4):
            m, s = self.stats[c]
            out[c] = torch.where(img[c] != 0, img[c] * s + m, torch.zeros_like(img[c])).clamp(min=0)
        return out.numpy(), cls.numpy()

    def _acquire(self, v, c):
        """Partial-volume blur and, when drawn, thick slices along one axis resampled back to 1 mm."""
        v = _gauss(v, [self.blur[c]] * 3)
        if self.thick[c] is not None:
            axis, t = self.thick[c]
            sig = [0.0, 0.0, 0.0]
            sig[axis] = t / 2.355
            v = _gauss(v, sig)
            size = list(v.shape)
            low = size.copy()
            low[axis] = max(2, int(round(size[axis] / t)))
            v = F.interpolate(F.interpolate(v[None, None], size=low, mode="trilinear", align_corners=True),
                              size=size, mode="trilinear", align_corners=True)[0, 0]
        return v


def _gauss(v, sigmas):
    """Separable Gaussian blur of a (D, H, W) tensor; sigmas per axis in voxels (0 = none)."""
    for axis, s in enumerate(sigmas):
        if s < 0.2:
            continue
        r = int(math.ceil(3 * s))
        k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / s) ** 2)
        k = k / k.sum()
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = 2 * r + 1
        pad = [0, 0, 0, 0, 0, 0]
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = r
        v = F.conv3d(F.pad(v[None, None], pad, mode="replicate"), k.reshape(shape))[0, 0]
    return v
