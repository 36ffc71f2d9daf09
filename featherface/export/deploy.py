"""Deploy-time folding: an inference-only copy of a FeatherFace network whose ONNX graph has fewer nodes.

Why: V2 Ultra does fewer multiply-adds than YuNet-n yet runs at twice its time, because its graph
is hundreds of small ops (issue 30). Every rewrite here is exact (outputs equal to float32
rounding, tested at 1e-5) and touches only a copy, so training and ``featherface/models`` are
unchanged:

* **BatchNorm** folded into the convolutions (the legacy exporter also does it; done here first so
  the weight permutations below see one tensor per conv).
* **Channel shuffles**: the one after SSH is folded into the head it feeds (the depthwise conv's
  channels and the pointwise / task convs' input columns are permuted); the BiFPN laterals' one is
  a single ``Gather`` with constant indices (see :func:`_lateral_without_shuffle` for why it
  cannot be folded for free).
* **CBAM's channel MLP runs once per call** for both pooled descriptors, and once for all the
  levels that share a block (the BiFPN CBAM): descriptors concatenated along width, one
  conv-ReLU-conv, the branch sum moved before the second (bias-free, linear) conv, one split.
* **Resizes** use constant scale factors (2 or 4) instead of sizes read from the graph: exact for
  inputs whose sides are multiples of 32, which the file requires and the detector pads to; this
  drops the Shape/Gather/Cast chains around every Resize.
* **Heads**: per level the bbox/cls/ldm convs are one conv (16 channels per anchor), one transpose
  and one reshape with a constant shape; one concat of the levels, one split into the 3 outputs.
* **BiFPN fusion weights** (``relu(w) / (sum + eps)``) are computed once, constants in the graph,
  and each fusion's largest weight is moved into the node's first conv (linear, so exact): one Mul
  fewer per fusion.
* Multi-scale weights and the dynamic-sharing gate are computed with ``keepdim`` reductions, so no
  stack / view / reshape is exported.
* The exporter's ``Constant`` nodes become initializers (:func:`constants_to_initializers`).
* Optionally (``mean_as_conv``) the spatial attention's channel mean is a 1x1 convolution with
  weights ``1/C``: the same op count, but no channel-axis reduction for runtimes whose blocked
  layouts reorder around one (onnxruntime's NCHWc, ncnn's packs).
* Optionally (``portable``) equal ops that mobile runtimes' converters map correctly (pnnx
  20261020 -> ncnn got each of these wrong; ``benchmarks/mobile_runtimes.py``):

  * the per-channel means and maxima over height and width (CBAM's descriptors, the
    dynamic-sharing descriptor) are ``GlobalAveragePool`` / ``GlobalMaxPool``, not ``ReduceMean`` /
    ``ReduceMax`` over axes (2, 3) (pnnx left the two-axis ``ReduceMax`` unconverted);
  * a single CBAM call adds its two MLP branches by slices, like the shared-block call, not by a
    ``ReduceSum`` over the width (pnnx wrote it with no axes, a no-op, and the attention then
    broadcast a (C, 1, 2) map: wrong outputs);
  * the BiFPN laterals' shuffle stays the model's Reshape-Transpose-Reshape, not the ``Gather``
    (pnnx turned a ``Gather`` with a constant index vector into a one-channel select, a graph that
    crashes ncnn; it maps the reshape pattern to ncnn's ``ShuffleChannel``). Its shape chain folds
    away at a fixed input size.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from featherface.inference.backends.optimize import fold_conv_bn
from featherface.models.bifpn import BiFPN, BiFPNLayer, downsample2
from featherface.models.cbam import CBAM, SharedCBAMManager
from featherface.models.featherface import FeatherFace
from featherface.models.fpn import FPN
from featherface.models.heads import LevelHead
from featherface.models.layers import DepthwiseSeparableConv
from featherface.models.shuffle import ChannelShuffle

#: recorded in the file's metadata (``deploy``), bumped when the rewrites change
DEPLOY_VERSION = "1"


def shuffle_perm(channels: int, groups: int) -> torch.Tensor:
    """``p`` with ``channel_shuffle(x, groups)[:, j] == x[:, p[j]]``."""
    c = channels // groups
    j = torch.arange(channels)
    return (j % groups) * c + j // groups


class _ReshapeKeepBatch(torch.autograd.Function):
    """``x.reshape(B, -1, k)`` exported as one ``Reshape`` with the constant shape ``[0, -1, k]``
    (the plain reshape exports a Shape-Gather-Unsqueeze-Concat chain to read ``B``)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, k: int) -> torch.Tensor:  # type: ignore[override]
        return x.reshape(x.shape[0], -1, k)

    @staticmethod
    def symbolic(g: Any, x: Any, k: int) -> Any:
        return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([0, -1, k], dtype=torch.int64)))


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest upsampling by a constant factor (exact where the finer level is ``factor`` x larger)."""
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


def _resize(x: torch.Tensor, src: int, dst: int) -> torch.Tensor:
    """:func:`featherface.models.techniques.resize_to_level` with constant factors."""
    if src == dst:
        return x
    f = 2 ** abs(dst - src)
    if src > dst:
        return _up(x, f)
    return F.avg_pool2d(x, kernel_size=f, stride=f, ceil_mode=True)


def _last_conv(m: nn.Module) -> nn.Conv2d:
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    return convs[-1]


class _Gather(nn.Module):
    """A channel shuffle as one ``Gather`` with constant indices (the plain shuffle exports as
    Shape-Gather-Div-Unsqueeze-Concat chains around Reshape-Transpose-Reshape)."""

    def __init__(self, perm: torch.Tensor):
        super().__init__()
        self.register_buffer("perm", perm.to(torch.int64), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.perm)


def _lateral_without_shuffle(seq: nn.Sequential) -> nn.Sequential:
    """``[conv-BN-act, shuffle]`` -> ``[conv-act, Gather]``.

    Not folded into the conv: it is grouped, and an output permutation across its groups would
    make it dense (4x the multiply-adds); what follows up to the grouped SSH convs (fusions across
    levels, residual sums) has no dense conv that could take the order over for every path."""
    if not (len(seq) == 2 and isinstance(seq[1], ChannelShuffle)) or seq[1].groups == 1:
        return nn.Sequential(*[m for m in seq if not isinstance(m, ChannelShuffle)])
    conv = _last_conv(seq[0])
    return nn.Sequential(seq[0], _Gather(shuffle_perm(conv.out_channels, seq[1].groups)))


def _permute_in(conv: nn.Conv2d, p: torch.Tensor) -> None:
    """A dense conv that reads ``x[:, p]`` made to read ``x``: ``W'[:, p] = W``."""
    with torch.no_grad():
        w = conv.weight.clone()
        conv.weight[:, p] = w


def _fold_shuffle_into_head(head: nn.Module, p: torch.Tensor) -> None:
    """The head reads ``x[:, p]`` (the shuffled SSH output); make it read ``x``."""
    if isinstance(head, LevelHead):
        for conv in (head.bbox, head.cls, head.ldm):
            _permute_in(conv, p)
        return
    trunk = head[0]
    assert isinstance(trunk, DepthwiseSeparableConv)
    dw = _last_conv(trunk.depthwise)  # per channel: channel j of the shuffled input is x[:, p[j]]
    with torch.no_grad():
        for t in (dw.weight, dw.bias):
            if t is not None:
                old = t.clone()
                t[p] = old
    # the depthwise output now comes in x's order; the pointwise conv reads it by column
    _permute_in(_last_conv(trunk.pointwise), p)


def _merge_level_head(head: LevelHead) -> nn.Conv2d:
    """One conv for bbox, cls and ldm, laid out per anchor as ``[4 bbox, k cls, 10 ldm]``."""
    k = head.num_classes
    a = head.bbox.out_channels // 4
    per = 4 + k + 10
    conv = nn.Conv2d(head.bbox.in_channels, a * per, 1)
    with torch.no_grad():
        for i in range(a):
            for off, src, n in ((0, head.bbox, 4), (4, head.cls, k), (4 + k, head.ldm, 10)):
                conv.weight[i * per + off:i * per + off + n] = src.weight[i * n:(i + 1) * n]
                conv.bias[i * per + off:i * per + off + n] = src.bias[i * n:(i + 1) * n]
    return conv


class _DeployHead(nn.Module):
    """Per level: (trunk,) merged task conv, transpose, constant-shape reshape; concat; split."""

    def __init__(self, heads: Sequence[nn.Module], num_levels: int):
        super().__init__()
        trunks, tasks = [], []
        for h in heads:
            level = h if isinstance(h, LevelHead) else h[1]
            trunks.append(nn.Identity() if isinstance(h, LevelHead) else h[0])
            tasks.append(_merge_level_head(level))
        self.trunks = nn.ModuleList(trunks)
        self.tasks = nn.ModuleList(tasks)
        self.shared = len(heads) == 1
        self.num_levels = num_levels
        first = heads[0] if isinstance(heads[0], LevelHead) else heads[0][1]
        self.num_classes = first.num_classes

    def forward(self, feats: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        k = self.num_classes
        per = 4 + k + 10
        rows = []
        for i, f in enumerate(feats):
            j = 0 if self.shared else i
            y = self.tasks[j](self.trunks[j](f)).permute(0, 2, 3, 1)
            rows.append(_ReshapeKeepBatch.apply(y, per))
        bbox, cls, ldm = torch.split(torch.cat(rows, 1), [4, k, 10], dim=2)
        return {"bbox": bbox, "cls": cls, "ldm": ldm}


def _spatial_mean(x: torch.Tensor, global_pool: bool) -> torch.Tensor:
    """Per-channel mean over H, W, kept as (B, C, 1, 1): ``GlobalAveragePool`` or ``ReduceMean``."""
    return F.adaptive_avg_pool2d(x, 1) if global_pool else x.mean(dim=(2, 3), keepdim=True)


def _spatial_max(x: torch.Tensor, global_pool: bool) -> torch.Tensor:
    """Per-channel maximum over H, W, kept as (B, C, 1, 1): ``GlobalMaxPool`` or ``ReduceMax``."""
    return F.adaptive_max_pool2d(x, 1) if global_pool else x.amax(dim=(2, 3), keepdim=True)


def _channel_attention_many(block: CBAM, xs: Sequence[torch.Tensor], portable: bool = False) -> list[torch.Tensor]:
    """``block.channel(x)`` for each ``x`` in one MLP call: ``mlp(a) + mlp(m) = W2 (relu(W1 a) + relu(W1 m))``."""
    mlp = block.channel.mlp
    n = len(xs)
    pooled = [_spatial_mean(x, portable) for x in xs] + [_spatial_max(x, portable) for x in xs]
    h = F.relu(mlp[0](torch.cat(pooled, dim=3)))  # (B, hidden, 1, 2n): [avg_1..avg_n, max_1..max_n]
    h = h[..., :n] + h[..., n:] if n > 1 or portable else h.sum(dim=3, keepdim=True)
    att = torch.sigmoid(mlp[2](h))  # (B, C, 1, n)
    return [att] if n == 1 else list(torch.split(att, 1, dim=3))


def _spatial_attention(block: CBAM, x: torch.Tensor, mean_as_conv: bool) -> torch.Tensor:
    sa = block.spatial
    if mean_as_conv:
        c = block.channel.mlp[0].in_channels  # a Python int: the weight is a constant of the graph
        mean = F.conv2d(x, torch.full((1, c, 1, 1), 1.0 / c, dtype=x.dtype, device=x.device))
    else:
        mean = x.mean(dim=1, keepdim=True)
    logits = sa.conv(torch.cat([mean, x.amax(dim=1, keepdim=True)], dim=1))
    if sa.norm is not None:
        logits = sa.norm(logits)
    return torch.sigmoid(logits)


class DeployFeatherFace(nn.Module):
    """An inference-only FeatherFace with the folds of this module; same inputs and outputs.

    Build it with :func:`deploy_model`. Inputs must have sides that are multiples of 32 (as the
    exported file requires).
    """

    def __init__(self, model: FeatherFace, mean_as_conv: bool = False, portable: bool = False):
        super().__init__()
        net = copy.deepcopy(model).cpu().eval()
        for p in net.parameters():
            p.requires_grad_(False)
        fold_conv_bn(net)
        self.net = net
        self.config = net.config
        self.name = net.name
        self.mean_as_conv = mean_as_conv
        self.portable = portable
        if isinstance(net.bifpn, BiFPN) and not portable:
            net.bifpn.lateral = nn.ModuleList(_lateral_without_shuffle(s) for s in net.bifpn.lateral)
        if net.shuffle.groups > 1:
            p = shuffle_perm(net.config.fpn_channels, net.shuffle.groups)
            for h in net.head.heads:
                _fold_shuffle_into_head(h, p)
        self.head = _DeployHead(list(net.head.heads), net.head.num_levels)
        for layer in getattr(net.bifpn, "layers", []):
            self._fold_fusions(layer)

    # -- blocks ---------------------------------------------------------------------------------
    def _cbam_levels(self, manager: SharedCBAMManager, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``manager(feats)``, the channel MLP called once per distinct block."""
        # grouped by identity with the blocks held, not by id(): a tracer's temporary objects
        # (torch.export) could otherwise share an id and merge levels of different widths
        groups: list[tuple[CBAM, list[int]]] = []
        for lvl in range(len(feats)):
            b = manager.block(lvl)
            found = next((levels for blk, levels in groups if blk is b), None)
            if found is None:
                groups.append((b, [lvl]))
            else:
                found.append(lvl)
        out: list[torch.Tensor] = list(feats)
        for block, levels in groups:
            atts = _channel_attention_many(block, [feats[i] for i in levels], self.portable)
            for i, a in zip(levels, atts):
                y = feats[i] * a
                out[i] = y * _spatial_attention(block, y, self.mean_as_conv)
        return out

    def _cbam(self, block: CBAM, x: torch.Tensor) -> torch.Tensor:
        y = x * _channel_attention_many(block, [x], self.portable)[0]
        return y * _spatial_attention(block, y, self.mean_as_conv)

    def _neck(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        neck = self.net.bifpn
        x = [m(f) for m, f in zip(neck.lateral, feats)]
        if isinstance(neck, FPN):
            for lvl in range(len(x) - 2, -1, -1):
                x[lvl] = neck.merge[lvl](x[lvl] + _up(x[lvl + 1], 2))
            return x
        for layer in neck.layers:
            x = self._bifpn_layer(layer, x)
        return x

    def _fold_fusions(self, layer: BiFPNLayer) -> None:
        """Each fusion's weights ``relu(w) / (sum + eps)``, computed once; the largest one is moved
        into the first (linear) conv of the node it feeds, so that input needs no Mul."""
        for fuses, nodes in ((layer.td_fuse, layer.td_conv), (layer.bu_fuse, layer.bu_conv)):
            for fuse, node in zip(fuses, nodes):
                w = F.relu(fuse.weight.detach())
                w = w / (w.sum() + fuse.eps)
                k = int(torch.argmax(w))
                if float(w[k]) > 0:
                    conv = next(m for m in node.modules() if isinstance(m, nn.Conv2d))
                    with torch.no_grad():
                        conv.weight.mul_(w[k])
                    w = w / w[k]
                # kept on the fusion module itself (not keyed by id()), so copies made by tracers
                # such as torch.export keep it
                fuse.deploy_weights = w.tolist()

    def _fuse(self, fuse: nn.Module, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fast normalised fusion with constant weights (the exporter would leave their
        Relu-ReduceSum-Div-Gather chain in the graph); a weight of 1 needs no Mul."""
        out: torch.Tensor | None = None
        for x, wi in zip(inputs, fuse.deploy_weights):
            term = x if wi == 1.0 else x * wi
            out = term if out is None else out + term
        assert out is not None
        return out

    def _bifpn_layer(self, layer: BiFPNLayer, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        n = layer.n_levels
        td = [feats[-1]]
        for k, lvl in enumerate(range(n - 2, -1, -1)):
            td.append(layer.td_conv[k](self._fuse(layer.td_fuse[k], [feats[lvl], _up(td[-1], 2)])))
        td = td[::-1]
        outs = [td[0]]
        for k, lvl in enumerate(range(1, n)):
            down = downsample2(outs[-1])
            inputs = [feats[lvl], td[lvl], down] if lvl < n - 1 else [feats[lvl], down]
            outs.append(layer.bu_conv[k](self._fuse(layer.bu_fuse[k], inputs)))
        return outs

    def _multiscale(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        eps = self.net.multiscale.eps
        energy = [f.pow(2).mean(dim=(1, 2, 3), keepdim=True) for f in feats]  # (B, 1, 1, 1) each
        total = energy[0]
        for e in energy[1:]:
            total = total + e
        total = total + eps
        w = [e / total for e in energy]
        out = []
        for j, fj in enumerate(feats):
            fused = fj
            for i, fi in enumerate(feats):
                fused = fused + w[i] * _resize(fi, i, j)
            out.append(fused)
        return out

    def _dynamic_sharing(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        ds = self.net.dynamic_sharing
        desc = [_spatial_mean(f, self.portable) for f in feats]  # (B, C, 1, 1)
        sq = [(d * d).sum(dim=1, keepdim=True) for d in desc]
        eps2 = 1e-8 * 1e-8  # torch.cosine_similarity's eps, squared (its exported formula)
        n = len(feats)
        pair = [(desc[i] * desc[i + 1]).sum(dim=1, keepdim=True)
                / torch.sqrt(torch.clamp(sq[i] * sq[i + 1], min=eps2)) for i in range(n - 1)]
        out = []
        for i, f in enumerate(feats):
            neigh = [pair[k] for k in (i - 1, i) if 0 <= k < n - 1]
            s = neigh[0] if len(neigh) == 1 else (neigh[0] + neigh[1]) * 0.5
            g = torch.sigmoid(ds.temperature * (s - ds.threshold))
            out.append(f + g * ds.shared(f))
        return out

    # -- network --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        net = self.net
        feats = net.backbone(x)
        if net.backbone_cbam is not None:
            feats = self._cbam_levels(net.backbone_cbam, feats)
        feats = self._neck(feats)
        if net.bifpn_cbam is not None and net.attention_mult is not None:
            for _ in range(net.attention_mult.repeats):
                att = self._cbam_levels(net.bifpn_cbam, feats)
                feats = [f + a for f, a in zip(feats, att)] if net.attention_mult.residual else att
        if net.feature_reuse is not None and net.bifpn_cbam is not None:
            f3, f4, f5 = feats
            a4 = self._cbam(net.bifpn_cbam.block(1), f4)
            feats = [f3 + _resize(a4, 1, 0) + _resize(f5, 2, 0), f4, f5 + _resize(a4, 1, 2) + _resize(f3, 0, 2)]
        if net.progressive is not None:
            f3, f4, f5 = feats
            l1 = f3 + (f3 - F.avg_pool2d(f3, 3, 1, 1, count_include_pad=False))
            l2 = f4 + _resize(l1, 0, 1)
            l3 = f5 + 0.5 * (_resize(l2, 1, 2) + _resize(l1, 0, 2))
            feats = [l1, l2, l3]
        if net.multiscale is not None:
            feats = self._multiscale(feats)
        if net.dynamic_sharing is not None:
            feats = self._dynamic_sharing(feats)
        return self.head([ssh(f) for ssh, f in zip(net.ssh, feats)])


def constants_to_initializers(onnx_model: Any) -> int:
    """Move every ``Constant`` node's tensor into the graph's initializers (in place); returns how
    many. The exporter writes scalars, shapes and scales as nodes; as initializers they are what
    they are, data, and the graph lists only operations."""
    from onnx import numpy_helper  # the onnx extra: on use

    graph = onnx_model.graph
    keep, moved = [], 0
    for node in graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and len(node.output) == 1 and set(attrs) == {"value"}:
            t = numpy_helper.from_array(numpy_helper.to_array(attrs["value"].t), node.output[0])
            graph.initializer.append(t)
            moved += 1
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return moved


def deploy_model(model: nn.Module, mean_as_conv: bool = False, portable: bool = False) -> DeployFeatherFace:
    """The folded, inference-only copy of ``model`` (a :class:`FeatherFace`); ``model`` is untouched.

    ``mean_as_conv`` and ``portable`` choose other, equal ops for other runtimes (module doc)."""
    if not isinstance(model, FeatherFace):
        raise TypeError(f"deploy folding needs a FeatherFace network, got {type(model).__name__}")
    return DeployFeatherFace(model, mean_as_conv=mean_as_conv, portable=portable).eval()


__all__ = ["DEPLOY_VERSION", "DeployFeatherFace", "constants_to_initializers", "deploy_model", "shuffle_perm"]
