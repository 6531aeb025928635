#!/usr/bin/python3
"""Independent NumPy reference for TestSlidingWindowMatchesNumPyReference: MONAI's sliding_window_inference
(dense_patch_slices window starts, Gaussian importance map with sigma_scale × ROI centred on voxel ROI // 2, scaled
to a maximum of 1 and clamped at 1e-3, weighted average) over a 3×3×3 convolution with zero padding in each
window, then softmax and argmax.

Reads from -dir: image.f32 (4 channels of the study grid, x fastest), kernel.f32 (out 4 × in 4 × 3 × 3 × 3,
ONNX Conv order, cross-correlation), bias.f32. The model grid is -grid voxels (x, y, z) starting at study voxel
-offset (x, y, z); outside the study it is 0. Writes labels.u8 (the study grid: the argmax on the model grid,
0 outside it) and margin.f32 (top probability minus the second; 1 outside the model grid).
"""
import argparse
import os

import numpy as np


def starts(n, roi, overlap):
    if roi >= n:
        return [0]
    step = max(1, int(roi * (1 - overlap)))
    num = next(d for d in range(n) if d * step + roi >= n) + 1
    return [min(i * step, n - roi) for i in range(num)]


def importance(roi, sigma_scale):
    axes = []
    for r in roi:
        i = np.arange(r) - r // 2
        axes.append(np.exp(-(i ** 2) / (2 * (sigma_scale * r) ** 2)))
    m = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]  # z, y, x
    return np.maximum(m / m.max(), 1e-3)


def conv_softmax(win, kernel, bias):
    c, d, h, w = win.shape
    p = np.pad(win, ((0, 0), (1, 1), (1, 1), (1, 1)))
    out = np.zeros((kernel.shape[0], d, h, w)) + bias[:, None, None, None]
    for dz in range(3):
        for dy in range(3):
            for dx in range(3):
                out += np.einsum("oc,czyx->ozyx", kernel[:, :, dz, dy, dx], p[:, dz:dz + d, dy:dy + h, dx:dx + w])
    e = np.exp(out - out.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-dir", required=True)
    ap.add_argument("-size", required=True)
    ap.add_argument("-grid", required=True)
    ap.add_argument("-offset", required=True)
    ap.add_argument("-roi", type=int, required=True)
    ap.add_argument("-overlap", type=float, required=True)
    ap.add_argument("-sigma", type=float, required=True)
    a = ap.parse_args()
    sx, sy, sz = map(int, a.size.split(","))
    gx, gy, gz = map(int, a.grid.split(","))
    ox, oy, oz = map(int, a.offset.split(","))
    image = np.fromfile(os.path.join(a.dir, "image.f32"), "<f4").astype(np.float64).reshape(4, sz, sy, sx)
    kernel = np.fromfile(os.path.join(a.dir, "kernel.f32"), "<f4").astype(np.float64).reshape(4, 4, 3, 3, 3)
    bias = np.fromfile(os.path.join(a.dir, "bias.f32"), "<f4").astype(np.float64)

    grid = np.zeros((4, gz, gy, gx))
    z0, y0, x0 = max(oz, 0), max(oy, 0), max(ox, 0)
    z1, y1, x1 = min(oz + gz, sz), min(oy + gy, sy), min(ox + gx, sx)
    grid[:, z0 - oz:z1 - oz, y0 - oy:y1 - oy, x0 - ox:x1 - ox] = image[:, z0:z1, y0:y1, x0:x1]

    r = a.roi
    imp = importance((r, r, r), a.sigma)
    acc = np.zeros((4, gz, gy, gx))
    wsum = np.zeros((gz, gy, gx))
    for z in starts(gz, r, a.overlap):
        for y in starts(gy, r, a.overlap):
            for x in starts(gx, r, a.overlap):
                p = conv_softmax(grid[:, z:z + r, y:y + r, x:x + r], kernel, bias)
                acc[:, z:z + r, y:y + r, x:x + r] += p * imp
                wsum[z:z + r, y:y + r, x:x + r] += imp
    prob = acc / wsum
    srt = np.sort(prob, 0)
    labels = np.zeros((sz, sy, sx), np.uint8)
    margin = np.ones((sz, sy, sx), np.float32)
    labels[z0:z1, y0:y1, x0:x1] = prob.argmax(0)[z0 - oz:z1 - oz, y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    margin[z0:z1, y0:y1, x0:x1] = (srt[-1] - srt[-2])[z0 - oz:z1 - oz, y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    labels.tofile(os.path.join(a.dir, "labels.u8"))
    margin.astype("<f4").tofile(os.path.join(a.dir, "margin.f32"))


if __name__ == "__main__":
    main()
