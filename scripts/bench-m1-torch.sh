#!/usr/bin/env bash
# Side-by-side: the committed M1 network (assets/models/m1-demo.onnx) run by ONNX Runtime from Go
# (BenchmarkM1Network, one intra-op thread) and the same network in PyTorch (Debian python3-torch, CPU,
# one thread), both on a 1×4×128×128×128 input; prints both times and the ratio.
#
# PyTorch gets the very weights of the ONNX file: the recipe's architecture (recipes/m1/train.py) with
# BatchNorm folded into the convolutions, as the export did, loaded tensor by tensor from the ONNX initializers
# (every shape checked).
#
# Needs: apt-get install --no-install-recommends python3-torch python3-onnx python3-numpy libopenblas0-pthread
# Usage: scripts/bench-m1-torch.sh [RUNS]     (default 5 timed runs each, after one warm-up)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
export GOFLAGS=${GOFLAGS:--tags=libsqlite3} LANG=${LANG:-en_US.UTF-8} LC_ALL=${LC_ALL:-en_US.UTF-8}
export ONNXRUNTIME_SHARED_LIBRARY_PATH=${ONNXRUNTIME_SHARED_LIBRARY_PATH:-$PWD/.deps/onnxruntime-1.30.0/libonnxruntime.so.1}

out=$(go test -run '^$' -bench '^BenchmarkM1Network$' -benchtime "${RUNS}x" ./inference/m1)
echo "$out" | grep -E '^Benchmark' >&2
ort_ms=$(echo "$out" | awk '/^BenchmarkM1Network/ {printf "%.1f", $3/1e6}')

torch_ms=$(OMP_NUM_THREADS=1 RUNS=$RUNS /usr/bin/python3 - <<'PY' 2>/dev/null
import os, sys, time
sys.path.insert(0, "recipes/m1")
import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import train

torch.set_num_threads(1)
m = onnx.load("assets/models/m1-demo.onnx")
values = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
for n in m.graph.node:
    if n.op_type == "Constant":
        values[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

def fold(module):
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm3d):
            setattr(module, name, nn.Identity())
        elif isinstance(child, nn.Conv3d) and child.bias is None:
            setattr(module, name, nn.Conv3d(child.in_channels, child.out_channels, child.kernel_size, padding=child.padding, bias=True))
        else:
            fold(child)

unet = train.UNet()
fold(unet)
stats = [n for n in m.graph.node if n.op_type in ("Sub", "Div") and any(
    x in values and values[x].shape == (train.NFEAT,) for x in n.input)]
vec = lambda n: next(values[x] for x in n.input if x in values and values[x].shape == (train.NFEAT,))
heads = train.Heads(vec(stats[0]), vec(stats[1]))
model = train.M1(unet, heads).eval()
layers = [x for x in model.modules() if isinstance(x, (nn.Conv3d, nn.ConvTranspose3d, nn.Linear))]
nodes = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm")]
assert len(layers) == len(nodes), (len(layers), len(nodes))
with torch.no_grad():
    for layer, node in zip(layers, nodes):
        w, b = values[node.input[1]], values[node.input[2]]
        assert tuple(layer.weight.shape) == w.shape and tuple(layer.bias.shape) == b.shape, (node.name, w.shape)
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
    torch.manual_seed(0)
    x = torch.randn(1, 4, 128, 128, 128)
    model(x)  # warm-up
    runs = int(os.environ["RUNS"])
    t = time.perf_counter()
    for _ in range(runs):
        model(x)
    print("%.1f" % ((time.perf_counter() - t) / runs * 1000))
PY
)
echo "network, 1 thread, 128³: ONNX Runtime from Go ${ort_ms} ms, PyTorch ${torch_ms} ms"
awk -v o="$ort_ms" -v t="$torch_ms" 'BEGIN { printf "ratio PyTorch / ORT-Go = %.2f× (goal ≥ 1.5×)\n", t / o }'
