#!/usr/bin/python3
"""Export a MONAI BraTS segmentation network (SegResNet as in the brats_mri_segmentation bundle, or SwinUNETR)
to ONNX with the card NeuroNova's M1 pipeline needs, plus a reference label map computed the provider's way, for
`neuronova models add` and `neuronova models verify`.

    # with MONAI installed and the bundle's weights (models/model.pt of brats_mri_segmentation):
    python3 export_monai.py --arch segresnet --weights model.pt --out /tmp/site-model
    # without MONAI (this machine: Debian's python3-torch only): the same SegResNet written here with MONAI's
    # module names, so that the bundle's state dict loads into it; with no --weights it is trained briefly on
    # randomised synthetic cases (synth.py) so that its output is not empty
    OMP_NUM_THREADS=1 /usr/bin/python3 recipes/m1/export_monai.py --out /tmp/site-model --train-steps 30
    neuronova models add /tmp/site-model/site-segresnet.onnx /tmp/site-model/site-segresnet.card.json
    neuronova models verify site-segresnet --input /tmp/site-model/study --expect /tmp/site-model/expected.nii.gz

The contract (brats_mri_segmentation, MONAI model zoo): channels T1CE, T1, T2, FLAIR at 1 mm; each channel
z-scored over its non-zero voxels (NormalizeIntensityd nonzero=True, channel_wise=True); sliding windows of
240×240×160 voxels (i, j, k), overlap 0.5 — one window over a BraTS image, which matters: SegResNet's group norm
takes its statistics over the window, so smaller windows change the output; three sigmoid outputs TC, WT, ET
thresholded at 0.5 and merged as ET → 4, else TC → 1, else WT → 2.

Axes: MONAI networks see arrays as loaded and reoriented to RAS, spatial dims (i → R, j → A, k → S). NeuroNova
feeds [n, 4, D, H, W] with D = S, H = P, W = L. The exported graph turns the second into the first (transpose,
flip H and W) around the network and back, so the weights are used exactly as trained.

The reference (expected.nii.gz) is what the provider's own pipeline gives on --study (a BraTS-layout folder;
default: a synthetic case from synth.py written as one): the whole image, no brain crop, normalised as above,
MONAI's sliding window (torch code below, or monai.inferers when installed), sigmoid, threshold, merge. verify
then measures how closely NeuroNova's pipeline (brain box, its own windows) reproduces the provider's output.
"""
import argparse
import hashlib
import json
import math
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nifti  # noqa: E402

SEED = 20261204


# ---------------------------------------------------------------------------------------------------------------
# SegResNet without MONAI: MONAI's architecture (monai.networks.nets.SegResNet, nontrainable upsampling, group
# norm with 8 groups) with MONAI's module names, so that its state dicts load here.


class ConvOnly(nn.Module):
    """MONAI's Convolution(conv_only=True): a wrapper whose one child is named conv."""

    def __init__(self, cin, cout, k=3, stride=1, bias=False):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)

    def forward(self, x):
        return self.conv(x)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(8, c), nn.GroupNorm(8, c)
        self.act = nn.ReLU(inplace=True)
        self.conv1, self.conv2 = ConvOnly(c, c), ConvOnly(c, c)

    def forward(self, x):
        y = self.conv1(self.act(self.norm1(x)))
        y = self.conv2(self.act(self.norm2(y)))
        return y + x


class SegResNet(nn.Module):
    def __init__(self, init_filters=16, in_channels=4, out_channels=3, blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1), dropout_prob=0.2):
        super().__init__()
        f = init_filters
        self.convInit = ConvOnly(in_channels, f)
        self.dropout = nn.Dropout3d(dropout_prob) if dropout_prob else nn.Identity()
        self.down_layers = nn.ModuleList()
        for i, n in enumerate(blocks_down):
            c = f * 2 ** i
            pre = ConvOnly(c // 2, c, stride=2) if i > 0 else nn.Identity()
            self.down_layers.append(nn.Sequential(pre, *[ResBlock(c) for _ in range(n)]))
        self.up_layers, self.up_samples = nn.ModuleList(), nn.ModuleList()
        for i, n in enumerate(blocks_up):
            c = f * 2 ** (len(blocks_up) - i)
            self.up_layers.append(nn.Sequential(*[ResBlock(c // 2) for _ in range(n)]))
            self.up_samples.append(nn.Sequential(ConvOnly(c, c // 2, k=1), nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False)))
        self.conv_final = nn.Sequential(nn.GroupNorm(8, f), nn.ReLU(inplace=True), ConvOnly(f, out_channels, k=1, bias=True))

    def forward(self, x):
        x = self.dropout(self.convInit(x))
        skips = []
        for d in self.down_layers:
            x = d(x)
            skips.append(x)
        skips.reverse()
        for i, (up, layer) in enumerate(zip(self.up_samples, self.up_layers)):
            x = layer(up(x) + skips[i + 1])
        return self.conv_final(x)


def network(arch, init_filters):
    try:
        import monai.networks.nets as nets
    except ImportError:
        nets = None
    if arch == "swinunetr":
        if nets is None:
            sys.exit("SwinUNETR needs MONAI (pip install monai); without it use --arch segresnet")
        return nets.SwinUNETR(img_size=(96, 96, 96), in_channels=4, out_channels=3, feature_size=48), "MONAI SwinUNETR"
    if nets is not None:
        return nets.SegResNet(blocks_down=[1, 2, 2, 4], blocks_up=[1, 1, 1], init_filters=init_filters, in_channels=4,
                              out_channels=3, dropout_prob=0.2), "MONAI SegResNet"
    return SegResNet(init_filters=init_filters), "SegResNet (MONAI's architecture, written in torch)"


class PipelineAxes(nn.Module):
    """NeuroNova's [n, 4, D=S, H=P, W=L] → MONAI's RAS [n, 4, i=R, j=A, k=S] → network → back."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        x = torch.flip(image.permute(0, 1, 4, 3, 2), (2, 3))
        return torch.flip(self.net(x), (2, 3)).permute(0, 1, 4, 3, 2)


# ---------------------------------------------------------------------------------------------------------------
# The provider's inference: MONAI's sliding_window_inference, in torch.


def starts(n, roi, overlap):
    if roi >= n:
        return [0]
    step = max(1, int(roi * (1 - overlap)))
    num = next(d for d in range(n) if d * step + roi >= n) + 1
    return [min(i * step, n - roi) for i in range(num)]


def sliding_window(net, image, roi, overlap):
    """image [4, i, j, k] → blended logits [3, i, j, k] with windows of roi (i, j, k), constant blending (MONAI's
    default), zero padding when the image is smaller than the window."""
    try:
        from monai.inferers import sliding_window_inference
        with torch.no_grad():
            return sliding_window_inference(image[None], tuple(roi), 1, net, overlap=overlap)[0]
    except ImportError:
        pass
    size = image.shape[1:]
    pad = [max(0, r - s) for r, s in zip(roi, size)]
    x = F.pad(image, [0, pad[2], 0, pad[1], 0, pad[0]])
    out = torch.zeros((3,) + x.shape[1:])
    count = torch.zeros(x.shape[1:])
    with torch.no_grad():
        for a in starts(x.shape[1], roi[0], overlap):
            for b in starts(x.shape[2], roi[1], overlap):
                for c in starts(x.shape[3], roi[2], overlap):
                    s = (slice(a, a + roi[0]), slice(b, b + roi[1]), slice(c, c + roi[2]))
                    out[(slice(None),) + s] += net(x[(None, slice(None)) + s])[0]
                    count[s] += 1
    return (out / count)[:, :size[0], :size[1], :size[2]]


def normalise_nonzero(image):
    out = np.zeros_like(image, dtype=np.float32)
    for c in range(image.shape[0]):
        v = image[c]
        nz = v != 0
        if nz.sum() > 1:
            m, s = v[nz].mean(), v[nz].std()
            out[c][nz] = (v[nz] - m) / max(s, 1e-8)
    return out


def provider_labels(net, image, roi, overlap):
    """BraTS labels (0, 1, 2, 4) the way the bundle makes them."""
    p = torch.sigmoid(sliding_window(net, torch.from_numpy(normalise_nonzero(image)), roi, overlap)).numpy() > 0.5
    lab = np.zeros(image.shape[1:], np.uint8)
    lab[p[1]] = 2
    lab[p[0]] = 1
    lab[p[2]] = 4
    return lab


# ---------------------------------------------------------------------------------------------------------------


def synthetic_study(out):
    """A randomised synthetic case (synth.py, seed SEED) written as a BraTS folder in RAS voxel order; returns
    the folder."""
    import synth
    rng = np.random.default_rng(SEED)
    lab, _ = synth.label_map(rng)
    raw, _ = synth.Appearance(rng, lab, spatial=False, flip=False).raw()
    d, h, w = lab.shape
    # synth arrays are [z (S), y (P), x (L)]; RAS [i → R, j → A, k → S].
    to_ras = lambda a: np.ascontiguousarray(a.transpose(2, 1, 0)[::-1, ::-1, :])  # noqa: E731
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-(w - 1) / 2, -(h - 1) / 2, -(d - 1) / 2]
    study = os.path.join(out, "study")
    os.makedirs(study, exist_ok=True)
    for c, name in enumerate(["t1", "t1ce", "t2", "flair"]):
        nifti.write(os.path.join(study, "synthetic_%s.nii.gz" % name), to_ras(raw[c]), affine)
    return study


def read_study(folder):
    """The four images of a BraTS folder in the bundle's channel order (T1CE, T1, T2, FLAIR), in RAS, and the
    affine."""
    names = os.listdir(folder)

    def find(*suffixes):
        for n in sorted(names):
            stem = n.split(".nii")[0].lower()
            if any(stem.endswith(s) for s in suffixes):
                return os.path.join(folder, n)
        sys.exit("no %s image in %s" % (suffixes, folder))
    chans, affine = [], None
    for suffixes in (("_t1ce", "_ce-t1w"), ("_t1", "_t1w"), ("_t2", "_t2w"), ("_flair",)):
        a, aff = nifti.read(find(*suffixes))
        a, affine = nifti.to_ras(a.astype(np.float32), aff)
        chans.append(a)
    return np.stack(chans), affine


def brief_training(net, steps, patch=64):
    """A few steps on randomised synthetic patches (synth.py), targets TC, WT, ET, in RAS like the bundle."""
    import synth
    rng = np.random.default_rng(SEED + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    lab, _ = synth.label_map(rng)
    for step in range(steps):
        ap = synth.Appearance(rng, lab)
        cls = synth.TARGET[lab[::2, ::2, ::2]]
        fg = np.argwhere(cls > 0) * 2
        k, j, i = fg[rng.integers(len(fg))]
        d, h, w = lab.shape
        x, y = ap.render([float(i - (w - 1) / 2), float(j - (h - 1) / 2), float(k - (d - 1) / 2)], (patch,) * 3)
        x = x[[1, 0, 2, 3]]  # synth's T1, T1CE, T2, FLAIR → the bundle's T1CE, T1, T2, FLAIR
        x = torch.flip(x.permute(0, 3, 2, 1), (1, 2))[None]  # [S, P, L] → RAS
        y = torch.flip(y.permute(2, 1, 0), (0, 1))
        t = torch.stack([(y == 1) | (y == 3), y > 0, y == 3]).float()[None]
        logits = net(x)
        p = torch.sigmoid(logits)
        dice = 1 - ((2 * (p * t).sum((2, 3, 4)) + 1) / ((p + t).sum((2, 3, 4)) + 1)).mean()
        loss = F.binary_cross_entropy_with_logits(logits, t) + dice
        opt.zero_grad()
        loss.backward()
        opt.step()
        print("training step %d/%d loss %.3f" % (step + 1, steps, loss.item()), flush=True)
    net.eval()


def export(net, path, model_id, note):
    import onnx
    tmp = path + ".tmp"
    torch.onnx.export(PipelineAxes(net).eval(), torch.zeros(1, 4, 64, 64, 64), tmp, opset_version=17, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "n", 2: "d", 3: "h", 4: "w"},
                                                             "logits": {0: "n", 2: "d", 3: "h", 4: "w"}})
    m = onnx.load(tmp)
    os.remove(tmp)
    m.model_version = 1
    m.producer_name = "neuronova-recipes export_monai (torch %s)" % torch.__version__
    m.doc_string = note
    del m.metadata_props[:]
    for k, v in (("card_id", model_id), ("intended_use", "research export - not for clinical use")):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)


def card(model_id, path, arch_name, roi, overlap, trained):
    """The card; roi is (i, j, k) in RAS, the card's window (D, H, W) = (k, j, i)."""
    data = open(path, "rb").read()
    shape = ["n", 4, "d", "h", "w"]
    dhw = [roi[2], roi[1], roi[0]]
    return {
        "schema": "neuronova.model-card/1",
        "id": model_id,
        "family": "M1",
        "name": "%s, BraTS TC/WT/ET (exported by recipes/m1/export_monai.py)" % arch_name,
        "version": "0.1.0",
        "status": "research",
        "task": "From T1CE, T1, T2 and FLAIR: tumour core, whole tumour and enhancing tumour (sigmoid regions), merged into NCR, ED and ET.",
        "intended_use": {
            "summary": "Shows how a site brings a MONAI BraTS model into NeuroNova. " + trained,
            "not_for_clinical_use": True,
            "banner": "RESEARCH EXPORT — %s — not for clinical use" % ("MONAI weights" if "bundle" in trained else "demonstration weights without accuracy"),
        },
        "artifact": {"file": os.path.basename(path), "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data), "opset": 17, "ir_version": 8},
        "inputs": [{
            "name": "image", "dtype": "float32", "shape": shape, "example_shape": [1, 4] + dhw,
            "description": "T1CE, T1, T2, FLAIR on the model grid (D = S, H = P, W = L); the graph turns them to RAS for the network",
            "channel_order": ["T1CE", "T1", "T2", "FLAIR"],
            "preprocessing": {
                "steps": ["brain bounding box of the reference series plus 5 mm, at 1 mm on the patient axes",
                          "each channel z-scored over its non-zero voxels (MONAI NormalizeIntensityd nonzero, channel_wise)",
                          "sliding windows of %d×%d×%d (D, H, W), overlap %.2f, constant blending of the logits" % (dhw[0], dhw[1], dhw[2], overlap)],
                "normalisation": "zscore-brain-mask", "spacing_mm": [1, 1, 1], "crop": "brain-bbox",
                "window": {"roi": dhw, "overlap": overlap, "blend": "constant", "batch": 1},
            },
        }],
        "outputs": [{
            "name": "logits", "dtype": "float32", "shape": ["n", 3, "d", "h", "w"],
            "description": "logits of TC, WT, ET; sigmoid > 0.5, merged ET, else TC → NCR, else WT → ED",
            "activation": "sigmoid", "logits": True,
            "regions": [{"name": "TC", "channel": 0, "threshold": 0.5}, {"name": "WT", "channel": 1, "threshold": 0.5},
                        {"name": "ET", "channel": 2, "threshold": 0.5}],
        }],
        "training_data": {"kind": "synthetic" if "bundle" not in trained else "BraTS 2018 (MONAI model zoo)",
                          "real_patient_data": "bundle" in trained, "description": trained},
        "evaluation": {"dataset": "none: this export is checked with `neuronova models verify` against the provider's own output, not for accuracy"},
        "limitations": ["an export for testing the import path", "segments only: no grade, IDH, MGMT, risk or embedding"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--id", default="site-segresnet")
    ap.add_argument("--arch", default="segresnet", choices=["segresnet", "swinunetr"])
    ap.add_argument("--init-filters", type=int, default=16)
    ap.add_argument("--weights", default="", help="a state dict (MONAI bundle models/model.pt)")
    ap.add_argument("--train-steps", type=int, default=40, help="without --weights: steps on synthetic patches")
    ap.add_argument("--roi", default="240,240,160", help="window i,j,k (RAS voxels), the bundle's by default")
    ap.add_argument("--overlap", type=float, default=0.5)
    ap.add_argument("--study", default="", help="BraTS-layout folder for the reference (default: a synthetic case)")
    a = ap.parse_args()
    a.roi = [int(v) for v in a.roi.split(",")]
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    os.makedirs(a.out, exist_ok=True)
    net, arch_name = network(a.arch, a.init_filters)
    if a.weights:
        state = torch.load(a.weights, map_location="cpu")
        net.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        trained = "Weights from %s (a MONAI bundle checkpoint)." % os.path.basename(a.weights)
    else:
        brief_training(net, a.train_steps)
        trained = "Random weights trained for %d steps on randomised synthetic patches (synth.py, seed %d): no accuracy." % (a.train_steps, SEED + 1)
    net.eval()
    path = os.path.join(a.out, a.id + ".onnx")
    export(net, path, a.id, "%s exported for NeuroNova; not for clinical use." % arch_name)
    c = card(a.id, path, arch_name, a.roi, a.overlap, trained)
    with open(os.path.join(a.out, a.id + ".card.json"), "w") as f:
        json.dump(c, f, indent=2, ensure_ascii=False)
        f.write("\n")
    study = a.study or synthetic_study(a.out)
    image, affine = read_study(study)
    lab = provider_labels(net, image, a.roi, a.overlap)
    nifti.write(os.path.join(a.out, "expected.nii.gz"), lab, affine)
    print("wrote %s, its card, the study %s and the provider's labels expected.nii.gz (TC %d, WT %d, ET %d voxels)" % (
        path, study, int(((lab == 1) | (lab == 4)).sum()), int((lab > 0).sum()), int((lab == 4).sum())))
    print("next:\n  neuronova models add %s %s\n  neuronova models verify %s --input %s --expect %s" % (
        path, os.path.join(a.out, a.id + ".card.json"), a.id, study, os.path.join(a.out, "expected.nii.gz")))


if __name__ == "__main__":
    main()
