"""An independent PyTorch model of the official TGA network, for parity tests only.

Written from the architecture's description (state_dict keys and shapes in
``fixtures/official_state_dict_keys.tsv`` and ``fixtures/official_dilated_state_dict_keys.tsv``;
semantics in the reference README) and checked against the official fixture outputs (the release
and the first-published dilated network); it then produces expected outputs for other seeds, sizes,
batches and training mode.
It takes the official input layout: ``x`` ``(B, 3, 9, H, W)`` in grouped order and the bicubic
reference ``(B, 3, 4H, 4W)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

NF, NG = 64, 16


def _bn(c, momentum=1e-3):
    return nn.BatchNorm3d(c, eps=1e-3, momentum=momentum)


def _conv(cin, cout, k=(1, 3, 3), pad=None):
    if pad is None:
        pad = tuple(v // 2 for v in k)
    return nn.Conv3d(cin, cout, k, padding=pad)


class Block(nn.Module):
    """``units`` pre-activation dense units named bn3d_{2j+1}, conv3d_{2j+1}, bn3d_{2j+2}, conv3d_{2j+2}."""

    def __init__(self, cin, units=3, last_extra=0, attention=False):
        super().__init__()
        self.units = units
        self.attention = attention
        c = cin
        for j in range(units):
            a, b = 2 * j + 1, 2 * j + 2
            setattr(self, f"bn3d_{a}", _bn(c))
            setattr(self, f"conv3d_{a}", _conv(c, c, (1, 1, 1)))
            setattr(self, f"bn3d_{b}", _bn(c, 0.1 if j == 1 else 1e-3))
            setattr(self, f"conv3d_{b}", _conv(c, NG + (last_extra if j == units - 1 else 0)))
            c += NG

    def forward(self, x):
        for j in range(self.units):
            a, b = 2 * j + 1, 2 * j + 2
            y = getattr(self, f"conv3d_{a}")(F.relu(getattr(self, f"bn3d_{a}")(x)))
            y = getattr(self, f"conv3d_{b}")(F.relu(getattr(self, f"bn3d_{b}")(y)))
            if self.attention and j == self.units - 1:
                weights = torch.softmax(y[:, NG : NG + 1], dim=2)
                y = y[:, :NG] * weights
            x = torch.cat([x, y], 1)
        return x


class FusionHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv3d_1 = _conv(c, c, (1, 1, 1))
        self.bn3d_2 = _bn(c)
        self.conv3d_2 = _conv(c, NG, (3, 3, 3))
        self.bn3d_3 = _bn(c + NG)
        self.conv3d_3 = _conv(c + NG, c + NG, (1, 1, 1))
        self.bn3d_4 = _bn(c + NG)
        self.conv3d_4 = _conv(c + NG, NG, (3, 3, 3))

    def forward(self, x):
        y = self.conv3d_2(F.relu(self.bn3d_2(self.conv3d_1(F.relu(x)))))
        x = torch.cat([x, y], 1)
        y = self.conv3d_4(F.relu(self.bn3d_4(self.conv3d_3(F.relu(self.bn3d_3(x))))))
        return torch.cat([x, y], 1)


class FusionLast(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn3d_1 = _bn(c)
        self.conv3d_1 = _conv(c, c, (1, 1, 1))
        self.bn3d_2 = _bn(c)
        self.conv3d_2 = _conv(c, NG, (3, 3, 3), pad=(0, 1, 1))
        self.bn3d_3 = _bn(c + NG)
        self.conv3d_3 = _conv(c + NG, c + NG, (1, 1, 1))
        self.bn3d_4 = _bn(c + NG)
        self.conv3d_4 = _conv(c + NG, NG)

    def forward(self, x):
        y = self.conv3d_2(F.relu(self.bn3d_2(self.conv3d_1(F.relu(self.bn3d_1(x))))))
        x = torch.cat([x[:, :, 1:2], y], 1)
        y = self.conv3d_4(F.relu(self.bn3d_4(self.conv3d_3(F.relu(self.bn3d_3(x))))))
        return torch.cat([x, y], 1)


class ReferenceTGA(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv3d_1, self.bn3d_1 = _conv(3, NF), _bn(NF)
        self.conv3d_2, self.bn3d_2 = _conv(NF, NF), _bn(NF)
        self.conv3d_2_1, self.bn3d_2_1 = _conv(NF, NF), _bn(NF)
        self.conv3d_2_2 = nn.Conv3d(NF, NF, (3, 3, 3), stride=(3, 1, 1), padding=(0, 1, 1))
        self.head = Block(NF)
        for i in range(1, 5):
            setattr(self, f"middle_{i}", Block(NF + 3 * i * NG))
        self.last = Block(NF + 15 * NG, last_extra=1, attention=True)
        self.fusion_head = FusionHead(NF + 18 * NG)
        self.Fusion_last = FusionLast(NF + 20 * NG)
        self.bn3d_2_2 = _bn(NF + 22 * NG)
        self.compress = _conv(NF + 22 * NG, NF)
        for i in range(6, 13):
            setattr(self, f"middle_{i}", Block(NF + 3 * (i - 6) * NG))
        self.bn3d_3 = _bn(NF + 21 * NG)
        self.conv3d_3 = _conv(NF + 21 * NG, 256)
        self.conv3d_r1 = _conv(256, 256, (1, 1, 1))
        self.conv3d_r2 = _conv(256, 512)
        self.conv3d_r4 = _conv(128, 128, (1, 1, 1))
        self.conv3d_r3 = _conv(128, 12, (1, 1, 1))

    def stem(self, x):
        """``(B, 3, 9, H, W)`` grouped frames -> ``(B, NF, 3, H, W)``, one step per group."""
        for c, b in (("conv3d_1", "bn3d_1"), ("conv3d_2", "bn3d_2"), ("conv3d_2_1", "bn3d_2_1")):
            x = F.relu(getattr(self, b)(getattr(self, c)(x)))
        return self.conv3d_2_2(x)

    def forward(self, x, bicubic):
        x = self.stem(x)
        for name in ("head", "middle_1", "middle_2", "middle_3", "middle_4", "last"):
            x = getattr(self, name)(x)
        x = self.Fusion_last(self.fusion_head(x))
        x = self.compress(F.relu(self.bn3d_2_2(x)))
        for i in range(6, 13):
            x = getattr(self, f"middle_{i}")(x)
        x = F.relu(self.conv3d_3(F.relu(self.bn3d_3(x))))
        r = self.conv3d_r2(F.relu(self.conv3d_r1(x)))[:, :, 0]
        r = F.relu(F.pixel_shuffle(r, 2)).unsqueeze(2)
        r = self.conv3d_r3(F.relu(self.conv3d_r4(r)))[:, :, 0]
        return bicubic + F.pixel_shuffle(r, 2)


class ReferenceDilatedTGA(ReferenceTGA):
    """The dilated TGA published first (``TGA/arch.py`` + ``TGA.pth``), from the reference README:
    the stem is four bare kernels ``weight1`` .. ``weight4`` (no biases), run on each group of the
    grouped input on its own with spatial dilation 3, 1, 2 (padding = dilation), the 3x3x3 fusion
    conv included; the shared stem BatchNorms see one group per call. The rest is ReferenceTGA."""

    DILATIONS = (3, 1, 2)

    def __init__(self):
        super().__init__()
        for name in ("conv3d_1", "conv3d_2", "conv3d_2_1", "conv3d_2_2"):
            delattr(self, name)
        self.weight1 = nn.Parameter(torch.zeros(NF, 3, 1, 3, 3))
        self.weight2 = nn.Parameter(torch.zeros(NF, NF, 1, 3, 3))
        self.weight3 = nn.Parameter(torch.zeros(NF, NF, 1, 3, 3))
        self.weight4 = nn.Parameter(torch.zeros(NF, NF, 3, 3, 3))

    def stem(self, x):
        groups = []
        for g, d in enumerate(self.DILATIONS):
            y = x[:, :, 3 * g : 3 * g + 3]
            for w, bn in ((self.weight1, self.bn3d_1), (self.weight2, self.bn3d_2), (self.weight3, self.bn3d_2_1)):
                y = F.relu(bn(F.conv3d(y, w, padding=(0, d, d), dilation=(1, d, d))))
            groups.append(F.conv3d(y, self.weight4, stride=(3, 1, 1), padding=(0, d, d), dilation=(1, d, d)))
        return torch.cat(groups, dim=2)


GROUPED_ORDER = (0, 3, 6, 2, 3, 4, 1, 3, 5)


def random_reference(seed: int, dilated: bool = False) -> ReferenceTGA:
    """A ReferenceTGA (or ReferenceDilatedTGA) with random weights and BatchNorm statistics, in eval mode."""
    g = torch.Generator().manual_seed(seed)
    net = ReferenceDilatedTGA() if dilated else ReferenceTGA()
    with torch.no_grad():
        for name, p in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif name.endswith("running_mean"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif ".bn" in name or name.startswith("bn"):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = max(1, p[0].numel()) if p.ndim > 1 else 64
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5 * (1.0 if p.ndim > 1 else 0.02))
    return net.eval()


def run_reference(net: ReferenceTGA, lr_nthwc, bicubic_nhwc):
    """``lr`` ``(B, 7, H, W, 3)`` natural order and bicubic ``(B, 4H, 4W, 3)`` numpy -> ``(B, 4H, 4W, 3)``.

    Runs in the net's mode: ``net.train()`` normalises with batch statistics and updates the
    running averages, as the official training does."""
    x = torch.from_numpy(np.array(lr_nthwc)).permute(0, 4, 1, 2, 3)[:, :, list(GROUPED_ORDER)]
    hr = torch.from_numpy(np.array(bicubic_nhwc)).permute(0, 3, 1, 2)
    with torch.no_grad():
        return net(x.contiguous(), hr.contiguous()).permute(0, 2, 3, 1).numpy()
