#!/usr/bin/python3
"""Train and export NeuroNova's M1 demonstration model (m1-demo.onnx).

A tiny 3D U-Net (4 levels, 8/16/32/48 channels, BatchNorm) segments the phantoms rendered by
recipes/m1/gendata (Go: viewer/demo phantoms preprocessed by inference/m1.Prepare); heads for grade,
IDH, MGMT and risk read a 768-value embedding computed from statistics pooled over the predicted tumour regions.
Everything is deterministic: fixed seeds, a fixed iteration count, one thread.

    apt-get install --no-install-recommends python3-torch python3-onnx python3-numpy libopenblas0-pthread
    go run ./recipes/m1/gendata -n 100 -seed 20260201 -out /tmp/m1data
    OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/train.py --data /tmp/m1data --out assets/models/m1-demo.onnx
    go run ./recipes/m1/card -onnx assets/models/m1-demo.onnx -brats ../shared/data/brats-sub-0004

The graph has one input, image (1, 4, 128, 128, 128) = z-scored T1, T1CE, T2, FLAIR on the model grid, and
outputs probabilities (1, 4, 128, 128, 128) softmax over background/NCR/ED/ET, grade (1, 3) softmax G2/G3/G4,
idh (1, 2) softmax wildtype/mutant, mgmt (1, 2) softmax unmethylated/methylated, risk (1, 1) sigmoid and
embedding (1, 768).
"""
import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SEED = 20260201
NFEAT = 20
EMBED = 768


class Block(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True),
            nn.Conv3d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, w=(8, 16, 32, 48)):
        super().__init__()
        self.e1, self.e2, self.e3 = Block(4, w[0]), Block(w[0], w[1]), Block(w[1], w[2])
        self.b = Block(w[2], w[3])
        self.u3, self.d3 = nn.ConvTranspose3d(w[3], w[2], 2, stride=2), Block(2 * w[2], w[2])
        self.u2, self.d2 = nn.ConvTranspose3d(w[2], w[1], 2, stride=2), Block(2 * w[1], w[1])
        self.u1, self.d1 = nn.ConvTranspose3d(w[1], w[0], 2, stride=2), Block(2 * w[0], w[0])
        self.out = nn.Conv3d(w[0], 4, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool3d(e1, 2))
        e3 = self.e3(F.max_pool3d(e2, 2))
        b = self.b(F.max_pool3d(e3, 2))
        d3 = self.d3(torch.cat([self.u3(b), e3], 1))
        d2 = self.d2(torch.cat([self.u2(d3), e2], 1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], 1))
        return self.out(d1)


def pooled_features(x, p):
    """Statistics of the input x (N,4,D,H,W) pooled over the class probabilities p (N,4,D,H,W): for NCR, ED, ET
    the fraction of the brain, the mean of each channel in the region; WT and TC fractions; the WT centroid
    relative to the brain centroid (fractions of the grid, axes x, y, z). 20 values."""
    brain = (x.abs().sum(1, keepdim=True) > 0).float()  # (N,1,D,H,W)
    nb = brain.sum((2, 3, 4)) + 1.0  # (N,1)
    pr = p[:, 1:4] * brain  # (N,3,...)
    mass = pr.sum((2, 3, 4))  # (N,3)
    frac = mass / nb
    means = []
    for r in range(3):
        w = pr[:, r:r + 1]
        means.append((w * x).sum((2, 3, 4)) / (mass[:, r:r + 1] + 1.0))  # (N,4)
    wt = pr.sum(1, keepdim=True)  # (N,1,...)
    wt_frac = wt.sum((2, 3, 4)) / nb
    tc_frac = (pr[:, 0:1] + pr[:, 2:3]).sum((2, 3, 4)) / nb
    cent = []
    for axis, dim in ((4, (2, 3)), (3, (2, 4)), (2, (3, 4))):  # x (W), y (H), z (D)
        n = x.shape[axis]
        pos = torch.arange(n, dtype=torch.float32) / n
        prof_wt = wt.sum(dim=(1,) + tuple(d for d in (2, 3, 4) if d != axis))  # (N, n)
        prof_b = brain.sum(dim=(1,) + tuple(d for d in (2, 3, 4) if d != axis))
        cw = (prof_wt * pos).sum(1, keepdim=True) / (prof_wt.sum(1, keepdim=True) + 1.0)
        cb = (prof_b * pos).sum(1, keepdim=True) / (prof_b.sum(1, keepdim=True) + 1.0)
        cent.append(cw - cb)
    return torch.cat([frac * 10, wt_frac * 10, tc_frac * 10] + means + cent, 1)  # (N, 20)


class Heads(nn.Module):
    def __init__(self, mean, sd):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("sd", torch.tensor(sd, dtype=torch.float32))
        self.embed = nn.Linear(NFEAT, EMBED)
        self.grade, self.idh, self.mgmt, self.risk = nn.Linear(EMBED, 3), nn.Linear(EMBED, 2), nn.Linear(EMBED, 2), nn.Linear(EMBED, 1)

    def forward(self, f):
        e = torch.tanh(self.embed((f - self.mean) / self.sd))
        return e, self.grade(e), self.idh(e), self.mgmt(e), self.risk(e)


class M1(nn.Module):
    def __init__(self, unet, heads):
        super().__init__()
        self.unet, self.heads = unet, heads

    def forward(self, image):
        p = torch.softmax(self.unet(image), 1)
        e, g, i, m, r = self.heads(pooled_features(image, p))
        return p, torch.softmax(g, 1), torch.softmax(i, 1), torch.softmax(m, 1), torch.sigmoid(r), e


def load(data, n):
    xs = [np.load(os.path.join(data, "x_%03d.npy" % i), mmap_mode="r") for i in range(n)]
    ys = [np.load(os.path.join(data, "y_%03d.npy" % i)) for i in range(n)]
    return xs, ys


def patch(rng, x, y, size):
    d = y.shape[0]
    if rng.random() < 0.75:
        fg = np.argwhere(y[::2, ::2, ::2] > 0) * 2
        c = fg[rng.integers(len(fg))] if len(fg) else np.array([d // 2] * 3)
        c = c + rng.integers(-size // 4, size // 4 + 1, 3)
    else:
        c = rng.integers(size // 2, d - size // 2 + 1, 3)
    lo = np.clip(c - size // 2, 0, d - size)
    s = tuple(slice(l, l + size) for l in lo)
    xp = np.array(x[(slice(None),) + s], dtype=np.float32)
    yp = np.array(y[s], dtype=np.int64)
    # augmentation: left-right flip, per-channel intensity scale and shift inside the brain
    if rng.random() < 0.5:
        xp, yp = xp[..., ::-1].copy(), yp[..., ::-1].copy()
    brain = xp != 0
    xp = np.where(brain, xp * rng.uniform(0.9, 1.1, (4, 1, 1, 1)) + rng.uniform(-0.1, 0.1, (4, 1, 1, 1)), 0).astype(np.float32)
    return torch.from_numpy(xp[None]), torch.from_numpy(yp[None])


def seg_loss(logits, y):
    ce = F.cross_entropy(logits, y)
    p = torch.softmax(logits, 1)
    oh = F.one_hot(y, 4).permute(0, 4, 1, 2, 3).float()
    inter = (p * oh).sum((0, 2, 3, 4))[1:]
    den = (p + oh).sum((0, 2, 3, 4))[1:]
    dice = 1 - ((2 * inter + 1) / (den + 1)).mean()
    return ce + dice


def train_unet(unet, xs, ys, rng, a, t0):
    opt = torch.optim.Adam(unet.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=a.iterations, pct_start=0.1)
    unet.train()
    for it in range(a.iterations):
        i = int(rng.integers(len(xs)))
        xb, yb = patch(rng, xs[i], ys[i], a.patch)
        loss = seg_loss(unet(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 25 == 0 or it == a.iterations - 1:
            print("it %d loss %.4f %.0fs" % (it, loss.item(), time.time() - t0), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/m1data")
    ap.add_argument("--out", default="assets/models/m1-demo.onnx")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=1400)
    ap.add_argument("--patch", type=int, default=40)
    ap.add_argument("--head-steps", type=int, default=2000)
    ap.add_argument("--checkpoint", default="", help="save the trained U-Net here; with --reuse, load it instead of training")
    ap.add_argument("--reuse", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    torch.use_deterministic_algorithms(True)
    meta = json.load(open(os.path.join(a.data, "meta.json")))[: a.samples]
    xs, ys = load(a.data, len(meta))

    unet = UNet()
    print("parameters", sum(p.numel() for p in unet.parameters()), flush=True)
    t0 = time.time()
    if a.reuse and a.checkpoint and os.path.exists(a.checkpoint):
        unet.load_state_dict(torch.load(a.checkpoint))
    else:
        train_unet(unet, xs, ys, rng, a, t0)
        if a.checkpoint:
            torch.save(unet.state_dict(), a.checkpoint)
    unet.eval()

    # Heads: trained on statistics pooled over the regions the trained network predicts on each full training
    # volume (exactly what the exported graph computes at inference).
    feats = []
    with torch.no_grad():
        for n, x in enumerate(xs):
            xt = torch.from_numpy(np.array(x, dtype=np.float32))[None]
            feats.append(pooled_features(xt, torch.softmax(unet(xt), 1))[0].numpy())
            if n % 20 == 0:
                print("head features %d/%d %.0fs" % (n, len(xs), time.time() - t0), flush=True)
    torch.manual_seed(SEED + 1)  # the heads' noise does not depend on how the U-Net was obtained
    heads = fit_heads(feats, meta, a.head_steps)
    model = M1(unet, heads).eval()
    export(model, a.out)
    print("training took %.0f s" % (time.time() - t0))


def fit_heads(feats, meta, steps):
    """The grade, IDH, MGMT and risk heads fitted for steps on the pooled features feats of cases whose targets
    are meta (feature noise as augmentation), in eval mode."""
    f = np.stack(feats)
    mean, sd = f.mean(0), f.std(0) + 1e-3
    heads = Heads(mean, sd)
    ft = torch.from_numpy(f)
    grade = torch.tensor([m["grade"] for m in meta])
    idh = torch.tensor([m["idh"] for m in meta])
    mgmt = torch.tensor([m["mgmt"] for m in meta])
    risk = torch.tensor([[m["risk"]] for m in meta], dtype=torch.float32)
    hopt = torch.optim.Adam(heads.parameters(), lr=1e-3, weight_decay=1e-3)
    for step in range(steps):
        noisy = ft + 0.15 * torch.randn_like(ft) * torch.from_numpy(sd)
        _, g, i, m, r = heads(noisy)
        loss = F.cross_entropy(g, grade) + F.cross_entropy(i, idh) + F.cross_entropy(m, mgmt) + \
            F.binary_cross_entropy_with_logits(r, risk)
        hopt.zero_grad()
        loss.backward()
        hopt.step()
        if step % 500 == 0 or step == steps - 1:
            with torch.no_grad():
                _, g, i, m, r = heads(ft)
                acc = lambda o, t: (o.argmax(1) == t).float().mean().item()  # noqa: E731
                print("heads step %d loss %.4f grade %.2f idh %.2f mgmt %.2f risk mae %.3f" % (
                    step, loss.item(), acc(g, grade), acc(i, idh), acc(m, mgmt),
                    (torch.sigmoid(r) - risk).abs().mean().item()), flush=True)
    heads.eval()
    return heads


def export(model, out):
    dummy = torch.zeros(1, 4, 128, 128, 128)
    tmp = out + ".tmp"
    torch.onnx.export(model, dummy, tmp, opset_version=17, do_constant_folding=True,
                      input_names=["image"],
                      output_names=["probabilities", "grade", "idh", "mgmt", "risk", "embedding"])
    finish_onnx(tmp, out, 1, "neuronova-recipes m1 (torch %s)" % torch.__version__,
                "NeuroNova M1 demonstration model: trained on synthetic phantoms; not for clinical use.")


def finish_onnx(tmp, out, version, producer, doc):
    """Writes the graph exported to tmp as out with the model's version, producer, description and the
    metadata the card checks (card_id m1-demo, demonstration use only), then removes tmp."""
    import onnx
    m = onnx.load(tmp)
    os.remove(tmp)
    m.model_version = version
    m.producer_name = producer
    m.doc_string = doc
    del m.metadata_props[:]
    for k, v in (("card_id", "m1-demo"), ("intended_use", "demonstration only - not for clinical use")):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, out)
    print("wrote", out, os.path.getsize(out), "bytes", flush=True)


if __name__ == "__main__":
    main()
