#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vs-pytorch.sh — the default UDML network (docs/method.md §1) in PyTorch,
# timed beside udml-bench in the same run.
#
# Usage: bench/vs-pytorch.sh [--quick] [path/to/udml-bench]
#
# Prints udml-bench's own lines, then torch_* lines and
#   forward_speedup_vs_torch   torch forward_ms / udml forward_ms (batch 1, 1 thread)
#   train1_speedup_vs_torch    torch step / udml step (batch 64, 1 thread)
#   train2_speedup_vs_torch    the same with 2 threads (wall clock)
# Above 1 means udml is faster. 1-thread times are thread CPU time on both
# sides (see README.md), 2-thread times wall clock. Each side runs the same
# work: stage-1 training step (clean input, CE + 4 x unimodal CE + KL, SGD
# with momentum 0.9 and weight decay 1e-4), inference forward in eval mode.
set -eu

quick=
bench=
for a in "$@"; do
  case "$a" in
    --quick) quick=--quick ;;
    -*) echo "usage: $0 [--quick] [udml-bench]" >&2; exit 2 ;;
    *) bench=$a ;;
  esac
done
if [ -z "$bench" ]; then
  bench=$(dirname "$0")/../build/bench/udml-bench
fi
if [ ! -x "$bench" ]; then
  echo "vs-pytorch.sh: error: $bench not built (meson setup build && ninja -C build)" >&2
  exit 1
fi

# Debian's torch lives in the system python
py=/usr/bin/python3
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "vs-pytorch.sh: installing python3-torch" >&2
  apt-get install -y python3-torch >&2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load_average=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
"$bench" $quick | tee "$out"

"$py" - "$out" "$quick" <<'EOF'
import statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

quick = sys.argv[2] == "--quick"
udml = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)

# docs/method.md §1, default config: audio 1x64x101, video 1x64x64, 10 classes
MODS = [(1, 64, 101), (1, 64, 64)]
CH = [16, 32, 64, 128]
K, HID, GAMMA = 10, 64, 4.0


def conv_bn(ci, co, k):
    return nn.Sequential(nn.Conv2d(ci, co, k, padding=k // 2, bias=k == 1),
                         nn.BatchNorm2d(co))


class Modality(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        layers, ci = [], c_in
        for i, co in enumerate(CH):
            layers += [conv_bn(ci, co, 3), nn.ReLU()]
            if i < len(CH) - 1:
                layers.append(nn.MaxPool2d(2))
            ci = co
        self.enc = nn.Sequential(*layers)
        self.mu = conv_bn(ci, ci, 1)
        self.lv = conv_bn(ci, ci, 1)
        self.est_bn = nn.BatchNorm1d(ci, affine=False)
        self.fc1 = nn.Linear(ci, HID)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(HID, 1)

    def forward(self, x):
        X = self.enc(x)
        mu = self.mu(X)
        l = self.lv(X).clamp(-10, 10)
        sd = torch.exp(0.5 * l)
        z = mu + torch.randn_like(mu) * sd if self.training else mu
        f = z.mean((2, 3))
        s = sd.detach().mean((2, 3))
        g = self.fc2(self.drop(F.relu(self.fc1(0.25 * self.est_bn(s)))))
        return f, g, mu, l


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.mods = nn.ModuleList(Modality(c) for c, _, _ in MODS)
        self.head = nn.Linear(CH[-1] * len(MODS), K)

    def forward(self, xs):
        outs = [m(x) for m, x in zip(self.mods, xs)]
        # stage 1: static weights w = 1, scaling (1 + w) f
        feats = [2.0 * f for f, _, _, _ in outs]
        o = self.head(torch.cat(feats, 1))
        uni = []
        for m in range(len(feats)):
            parts = [f if j == m else torch.zeros_like(f)
                     for j, f in enumerate(feats)]
            uni.append(self.head(torch.cat(parts, 1)))
        return o, uni, outs


def kl(mu, l):
    # prior t = 1 (clean); per sample summed over the map, batch mean
    e = torch.exp(l)
    return 0.5 * (e + mu * mu - torch.log(e + 1e-8) - 1).flatten(1).sum(1).mean()


def inputs(n):
    return [torch.randn(n, c, h, w) for c, h, w in MODS]


def median_time(fn, reps, warm, clock):
    for _ in range(warm):
        fn()
    t = []
    for _ in range(reps):
        t0 = clock()
        fn()
        t.append(clock() - t0)
    return statistics.median(t) * 1e3


torch.manual_seed(0)
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9,
                      weight_decay=1e-4)
x1 = inputs(1)
x64 = inputs(64)
y64 = torch.randint(0, K, (64,))
beta = [1e-5 * 27648 / (CH[-1] * (h // 8) * (w // 8)) for _, h, w in MODS]


def fwd():
    with torch.no_grad():
        net(x1)


def step():
    o, uni, outs = net(x64)
    loss = F.cross_entropy(o, y64)
    loss = loss + GAMMA * sum(F.cross_entropy(u, y64) for u in uni)
    loss = loss + sum(b * kl(mu, l) for b, (_, _, mu, l) in zip(beta, outs))
    opt.zero_grad(set_to_none=False)
    loss.backward()
    opt.step()


res = {}
torch.set_num_threads(1)
net.eval()
res["forward_ms"] = median_time(fwd, 50 if quick else 500, 20, time.thread_time)
net.train()
res["train1_step_ms"] = median_time(step, 3 if quick else 15, 2,
                                    time.thread_time)
torch.set_num_threads(2)
res["train2_step_ms_wall"] = median_time(step, 3 if quick else 15, 2,
                                         time.perf_counter)

print("torch_version=%s" % torch.__version__)
for k, v in res.items():
    print("torch_%s=%.3f" % (k, v))
print("forward_speedup_vs_torch=%.2f"
      % (res["forward_ms"] / float(udml["forward_ms"])))
print("train1_speedup_vs_torch=%.2f"
      % (res["train1_step_ms"] / float(udml["train1_step_ms"])))
print("train2_speedup_vs_torch=%.2f"
      % (res["train2_step_ms_wall"] / float(udml["train2_step_ms_wall"])))
EOF
echo "load_average_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
