#!/usr/bin/python3
"""Train and export NeuroNova's M1 demonstration model on randomised synthesis (synth.py).

    apt-get install --no-install-recommends python3-torch python3-onnx python3-numpy libopenblas0-pthread
    OMP_NUM_THREADS=1 nice -n 19 /usr/bin/python3 recipes/m1/train_synth.py train --work /tmp/m1synth
    OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train_synth.py export --work /tmp/m1synth --out assets/models/m1-demo.onnx
    OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train_synth.py heldout --out /tmp/m1heldout
    go run ./recipes/m1/card -onnx assets/models/m1-demo.onnx -heldout /tmp/m1heldout -brats ../shared/data/brats-sub-0004

train: a 3D U-Net (5 levels, 8/16/32/64/96 channels, BatchNorm) on 64³ patches of freshly randomised cases (two
patches per case and step), cross-entropy plus soft Dice over background/NCR/ED/ET; label maps are drawn from
--maps seeded anatomies (made on first use, kept in --work). A fixed iteration count, seeds and one thread make it
reproducible; it checkpoints every 50 steps to --work/ckpt.pt and resumes from there.

export: recalibrates BatchNorm, trains the grade/IDH/MGMT/risk heads on statistics pooled over the network's
stitched predictions on whole synthetic cases, and writes one ONNX graph with two independent parts: the network
(input image [n, 4, d, h, w] → probabilities, run window by window) and the heads (inputs heads_image and
heads_probabilities, the whole normalised brain box and its stitched probabilities → grade, idh, mgmt, risk,
embedding). The pipeline feeds the part it does not need a minimal tensor.

heldout: writes held-out randomised cases (another seed) as BraTS-layout NIfTI folders on random anisotropic
grids, for the Go card command to evaluate through the workstation's own pipeline.
"""
import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synth  # noqa: E402
from train import Block, finish_onnx, fit_heads, pooled_features  # noqa: E402  the phantom recipe's parts

SEED = 20261202
EVAL_SEED = 20261203
WIDTHS = (8, 16, 32, 64, 96)


class UNet(nn.Module):
    """U-Net with len(w) levels; input sides must be multiples of 2^(len(w)-1)."""

    def __init__(self, w=WIDTHS):
        super().__init__()
        self.enc = nn.ModuleList()
        c = 4
        for x in w[:-1]:
            self.enc.append(Block(c, x))
            c = x
        self.bottom = Block(c, w[-1])
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for i in range(len(w) - 2, -1, -1):
            self.up.append(nn.ConvTranspose3d(w[i + 1], w[i], 2, stride=2))
            self.dec.append(Block(2 * w[i], w[i]))
        self.out = nn.Conv3d(w[0], 4, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = F.max_pool3d(x, 2)
        x = self.bottom(x)
        for u, d in zip(self.up, self.dec):
            x = d(torch.cat([u(x), skips.pop()], 1))
        return self.out(x)


# ---------------------------------------------------------------------------------------------------------------
# Label maps


def map_path(work, seed, k):
    return os.path.join(work, "maps-%d" % seed, "%04d.npz" % k)


def get_map(work, seed, k):
    """Label map k of seed (made on first use, then read back) and its meta."""
    p = map_path(work, seed, k)
    if os.path.exists(p):
        z = np.load(p)
        return z["labels"], json.loads(str(z["meta"]))
    rng = np.random.default_rng([seed, k])
    lab, meta = synth.label_map(rng)
    cls = synth.TARGET[lab]
    meta["wt_ml"] = float((cls > 0).sum()) / 1000
    meta["targets"] = synth.targets(meta, rng)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    np.savez_compressed(p + ".tmp.npz", labels=lab, meta=json.dumps(meta))
    os.replace(p + ".tmp.npz", p)
    return lab, meta


def mm_of(index, shape):
    """mm coordinates (x, y, z) of a label-map voxel index (k, j, i)."""
    k, j, i = index
    d, h, w = shape
    return [float(i - (w - 1) / 2), float(j - (h - 1) / 2), float(k - (d - 1) / 2)]


def patch_centre(rng, lab):
    cls = synth.TARGET[lab[::2, ::2, ::2]]
    if rng.random() < 0.7 and cls.any():
        fg = np.argwhere(cls > 0) * 2
        c = fg[rng.integers(len(fg))] + rng.integers(-16, 17, 3)
    else:
        br = np.argwhere(lab[::4, ::4, ::4] > 0) * 4
        c = br[rng.integers(len(br))]
    return mm_of(c, lab.shape)


def batch(rng, work, seed, maps, size, n):
    k = int(rng.integers(maps))
    lab, _ = get_map(work, seed, k)
    ap = synth.Appearance(rng, lab)
    xs, ys = [], []
    for _ in range(n):
        x, y = ap.render(patch_centre(rng, lab), (size, size, size))
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys).long()


def seg_loss(logits, y):
    ce = F.cross_entropy(logits, y)
    p = torch.softmax(logits, 1)
    oh = F.one_hot(y, 4).permute(0, 4, 1, 2, 3).float()
    inter = (p * oh).sum((0, 2, 3, 4))[1:]
    den = (p + oh).sum((0, 2, 3, 4))[1:]
    return ce + 1 - ((2 * inter + 1) / (den + 1)).mean()


def dice_regions(pred, y):
    out = []
    for s in ((1, 2, 3), (1, 3), (3,)):
        a, b = np.isin(pred, s), np.isin(y, s)
        out.append(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))
    return out


def train(a):
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    os.makedirs(a.work, exist_ok=True)
    net = UNet()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.iterations, pct_start=0.05)
    rng = np.random.default_rng(SEED)
    start = 0
    ckpt = os.path.join(a.work, "ckpt.pt")
    if os.path.exists(ckpt):
        s = torch.load(ckpt)
        net.load_state_dict(s["net"])
        opt.load_state_dict(s["opt"])
        sched.load_state_dict(s["sched"])
        rng.bit_generator.state = s["rng"]
        torch.set_rng_state(s["torch_rng"])
        start = s["iteration"]
        print("resumed at iteration %d" % start, flush=True)
    else:
        print("parameters %d, %d iterations, %d maps, patch %d, batch %d" % (
            sum(p.numel() for p in net.parameters()), a.iterations, a.maps, a.patch, a.batch), flush=True)
    # Monitoring patches from held-out maps (another seed; never trained on).
    mon_rng = np.random.default_rng(EVAL_SEED + 1)
    mon = [batch(mon_rng, a.work, EVAL_SEED, 4, a.patch, 1) for _ in range(4)]
    t0, losses = time.time(), []
    net.train()
    for it in range(start, a.iterations):
        x, y = batch(rng, a.work, SEED, a.maps, a.patch, a.batch)
        loss = seg_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        done = it + 1
        if done % 25 == 0 or done == a.iterations:
            print("it %d loss %.4f lr %.2e %.1fs/it" % (done, np.mean(losses), sched.get_last_lr()[0], (time.time() - t0) / len(losses)), flush=True)
            losses, t0 = [], time.time()
        if done % 250 == 0 or done == a.iterations:
            net.eval()
            with torch.no_grad():
                d = np.mean([dice_regions(net(x).argmax(1).numpy(), y.numpy()) for x, y in mon], 0)
            net.train()
            print("it %d held-out patches Dice WT %.3f TC %.3f ET %.3f" % (done, *d), flush=True)
        if done % 50 == 0 or done == a.iterations:
            state = {"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                     "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "iteration": done}
            torch.save(state, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
    print("training done", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Export: BatchNorm recalibration, heads, one ONNX graph.


class M1(nn.Module):
    """Two independent parts in one graph: the window network and the heads on the whole box."""

    def __init__(self, unet, heads):
        super().__init__()
        self.unet, self.heads = unet, heads

    def forward(self, image, heads_image, heads_probabilities):
        p = torch.softmax(self.unet(image), 1)
        e, g, i, m, r = self.heads(pooled_features(heads_image, heads_probabilities))
        return p, torch.softmax(g, 1), torch.softmax(i, 1), torch.softmax(m, 1), torch.sigmoid(r), e


def brain_box(t1ce, margin=5):
    """The pipeline's brain box on a 1 mm grid: voxels above a tenth of the mean non-zero value, plus margin."""
    nz = t1ce[t1ce > 0]
    idx = np.argwhere(t1ce > 0.1 * nz.mean())
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, t1ce.shape)
    return tuple(slice(a, b) for a, b in zip(lo, hi))


def whole_case(unet, rng, lab):
    """A whole synthetic case on its brain box: normalised input (1,4,D,H,W) and the network's probabilities,
    the box padded to a multiple of 16 for one pass."""
    ap = synth.Appearance(rng, lab, spatial=False, flip=False)
    img, _ = ap.render([0.0, 0.0, 0.0], lab.shape, margin=0)
    m, sd = ap.stats[1]
    box = brain_box(torch.where(img[1] != 0, img[1] * sd + m, torch.zeros_like(img[1])).numpy())  # T1CE as scanned
    x = img[(slice(None),) + box][None]
    pad = [(-s) % 16 for s in x.shape[2:]]
    xp = F.pad(x, [0, pad[2], 0, pad[1], 0, pad[0]])
    with torch.no_grad():
        p = torch.softmax(unet(xp), 1)[:, :, :x.shape[2], :x.shape[3], :x.shape[4]]
    return x, p


def recalibrate(unet, work, patches, size):
    """Recomputes BatchNorm's running statistics as plain averages over fresh training patches."""
    rng = np.random.default_rng(SEED + 7)
    for m in unet.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.reset_running_stats()
            m.momentum = None
    unet.train()
    with torch.no_grad():
        for k in range(patches):
            x, _ = batch(rng, work, SEED, 200, size, 2)
            unet(x)
    unet.eval()


def export_model(a):
    torch.set_num_threads(1)
    torch.manual_seed(SEED + 1)
    unet = UNet()
    unet.load_state_dict(torch.load(os.path.join(a.work, "ckpt.pt"))["net"])
    t0 = time.time()
    recalibrate(unet, a.work, a.recalibrate, 64)
    print("BatchNorm recalibrated on %d patches %.0fs" % (2 * a.recalibrate, time.time() - t0), flush=True)
    rng = np.random.default_rng(SEED + 2)
    feats, meta = [], []
    with torch.no_grad():
        for k in range(a.head_cases):
            lab, m = get_map(a.work, SEED, k)
            x, p = whole_case(unet, rng, lab)
            feats.append(pooled_features(x, p)[0].numpy())
            meta.append(m["targets"])
            print("head case %d/%d %.0fs" % (k + 1, a.head_cases, time.time() - t0), flush=True)
    heads = fit_heads(feats, meta, a.head_steps)
    write_onnx(M1(unet, heads).eval(), a.out)
    print("export took %.0f s" % (time.time() - t0))


def write_onnx(model, out):
    tmp = out + ".tmp"
    vol = lambda p: {0: p + "n", 2: p + "d", 3: p + "h", 4: p + "w"}  # noqa: E731
    torch.onnx.export(model, (torch.zeros(1, 4, 32, 32, 32), torch.zeros(1, 4, 8, 8, 8), torch.zeros(1, 4, 8, 8, 8)), tmp,
                      opset_version=17, do_constant_folding=True,
                      input_names=["image", "heads_image", "heads_probabilities"],
                      output_names=["probabilities", "grade", "idh", "mgmt", "risk", "embedding"],
                      dynamic_axes={"image": vol(""), "probabilities": vol(""), "heads_image": {2: "bd", 3: "bh", 4: "bw"},
                                    "heads_probabilities": {2: "bd", 3: "bh", 4: "bw"}})
    finish_onnx(tmp, out, 2, "neuronova-recipes m1 train_synth (torch %s)" % torch.__version__,
                "NeuroNova M1 demonstration model: trained on randomised synthetic cases only; not for clinical use.")


# ---------------------------------------------------------------------------------------------------------------
# Held-out cases for the card, as BraTS folders on random anisotropic grids.


def heldout(a):
    """Held-out cases on random anisotropic grids."""
    rng = np.random.default_rng(EVAL_SEED + 2)
    for k in range(a.n):
        lab, meta = get_map(a.work, EVAL_SEED, 100 + k)  # maps 0–3 of this seed gave the training log's monitoring patches
        spacing = [rng.uniform(0.8, 1.2)] * 3  # in plane; 1–5 mm between slices along a random axis (D, H or W)
        axis = int(rng.integers(3))
        spacing[axis] = rng.uniform(1, 5)
        write_case(os.path.join(a.out, "heldout-%03d" % k), synth.Appearance(rng, lab, spatial=True, flip=False), meta, spacing, axis)


def bank(a):
    """Cases of every first-tumour pattern on either side, for MM's training on M1's embeddings
    (go run ./recipes/demomodels -m1-bank DIR)."""
    rng = np.random.default_rng(EVAL_SEED + 3)
    k = 0
    for pattern in synth.PATTERNS:
        for side in ("left", "right"):
            for r in range(a.per):
                mrng = np.random.default_rng([EVAL_SEED, 1000 + k])
                lab, meta = synth.label_map(mrng, pattern=pattern, side=side)
                meta["wt_ml"] = float((synth.TARGET[lab] > 0).sum()) / 1000
                meta["targets"] = synth.targets(meta, mrng)
                write_case(os.path.join(a.out, "bank-%s-%s-%d" % (pattern, side, r)), synth.Appearance(rng, lab, spatial=True, flip=False),
                           meta, [1.0, 1.0, 1.0], 0)
                k += 1


def write_case(folder, ap, meta, spacing, axis):
    """Writes a case as a BraTS folder on a grid of about spacing (D, H, W) mm, slices blurred along axis, with the
    labels (BraTS 1, 2, 4) and the head targets."""
    import nifti
    torch.set_num_threads(1)
    raw, cls = ap.raw()
    size = [max(8, int(round(n / s))) for n, s in zip(raw.shape[1:], spacing)]
    actual = [n / m for n, m in zip(raw.shape[1:], size)]
    img = torch.from_numpy(raw)[None]
    sig = actual[axis] / 2.355
    if sig > 0.5:  # the slice profile
        img = torch.stack([synth._gauss(img[0, c], [sig if i == axis else 0 for i in range(3)]) for c in range(4)])[None]
    img = F.interpolate(img, size=size, mode="trilinear", align_corners=False)[0].numpy()
    seg = F.interpolate(torch.from_numpy(cls.astype(np.float32))[None, None], size=size, mode="nearest-exact")[0, 0].numpy().astype(np.uint8)
    seg[seg == 3] = 4
    # Arrays are [z (S), y (P), x (L)]; NIfTI wants [i, j, k] with a RAS affine: i = x (towards L), j = y (P).
    d, h, w = raw.shape[1:]
    sx, sy, sz = actual[2], actual[1], actual[0]
    aff = np.diag([-sx, -sy, sz, 1.0])
    start = [(0.5 * s - 0.5) - (n - 1) / 2 for s, n in ((sx, w), (sy, h), (sz, d))]  # first centre, mm from the map's centre (LPS)
    aff[:3, 3] = [-start[0], -start[1], start[2]]
    os.makedirs(folder, exist_ok=True)
    for c, name in enumerate(["t1", "t1ce", "t2", "flair"]):
        nifti.write(os.path.join(folder, "case_%s.nii.gz" % name), np.ascontiguousarray(img[c].transpose(2, 1, 0)).astype(np.float32), aff)
    nifti.write(os.path.join(folder, "case_seg.nii.gz"), np.ascontiguousarray(seg.transpose(2, 1, 0)), aff)
    with open(os.path.join(folder, "targets.json"), "w") as f:
        json.dump(dict(meta["targets"], wt_ml=meta["wt_ml"], spacing_mm=[sx, sy, sz], patterns=[l["pattern"] for l in meta["lesions"]]), f)
    print("%s: spacing %.2f×%.2f×%.2f mm, WT %.1f mL, patterns %s" % (folder, sx, sy, sz, meta["wt_ml"], [l["pattern"] for l in meta["lesions"]]), flush=True)

def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--work", default="/tmp/m1synth")
    t.add_argument("--iterations", type=int, default=3000)
    t.add_argument("--maps", type=int, default=240)
    t.add_argument("--patch", type=int, default=64)
    t.add_argument("--batch", type=int, default=2)
    t.add_argument("--lr", type=float, default=2e-3)
    e = sub.add_parser("export")
    e.add_argument("--work", default="/tmp/m1synth")
    e.add_argument("--out", default="assets/models/m1-demo.onnx")
    e.add_argument("--recalibrate", type=int, default=32, help="BatchNorm: batches of two 64³ patches")
    e.add_argument("--head-cases", type=int, default=60)
    e.add_argument("--head-steps", type=int, default=2000)
    h = sub.add_parser("heldout")
    h.add_argument("--work", default="/tmp/m1synth")
    h.add_argument("--out", default="/tmp/m1heldout")
    h.add_argument("-n", type=int, default=12)
    k = sub.add_parser("bank")
    k.add_argument("--out", default="/tmp/m1bank")
    k.add_argument("--per", type=int, default=8, help="cases per pattern and side")
    a = ap.parse_args()
    {"train": train, "export": export_model, "heldout": heldout, "bank": bank}[a.cmd](a)


if __name__ == "__main__":
    main()
