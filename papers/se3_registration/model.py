"""A compact DCP-style registration network (the surrogate) and its use as a denoiser.

Features: kNN edge features (absolute position, offsets and their lengths, max-pooled, as in
DGCNN / RPMNet's relative-and-absolute coordinates), one cross-attention block between the
two clouds (DCP's transformer without its self-attention), soft correspondences from every
observed point to the model points, learned inlier weights and a weighted Procrustes (roma).
"""

from __future__ import annotations

import math

import roma
import torch
from torch import nn

from papers.se3_registration import lie


def _mlp(*dims: int) -> nn.Sequential:
    layers = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class EdgeFeatures(nn.Module):
    """Max over the k nearest neighbours of ReLU(W [p_i, p_j - p_i, |p_j - p_i|]), then an MLP.

    The edge layer is linear, so it is applied per point before gathering.
    """

    def __init__(self, width: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.centre = nn.Linear(3, width)  # acts on p_i
        self.neighbour = nn.Linear(3, width, bias=False)  # acts on p_j - p_i
        self.length = nn.Linear(1, width, bias=False)  # acts on |p_j - p_i|
        self.point = _mlp(width + 3, width, width)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        B, N, _ = p.shape
        k = min(self.k, N - 1)
        dist = torch.cdist(p, p)
        d, idx = dist.topk(k + 1, largest=False)  # self first
        d, idx = d[..., 1:], idx[..., 1:]
        Wn = self.neighbour(p)  # W_n p_j - W_n p_i, gathered per edge
        nb = torch.gather(Wn, 1, idx.reshape(B, N * k, 1).expand(-1, -1, Wn.shape[-1]))
        edge = nb.view(B, N, k, -1) + (self.centre(p) - Wn)[:, :, None] + self.length(d[..., None])
        f = torch.relu(edge).max(dim=2).values
        return self.point(torch.cat([f, p], -1))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head scaled dot-product attention on (B, N, C) inputs (already projected)."""
    B, N, C = q.shape
    split = lambda x: x.view(B, x.shape[1], heads, C // heads).transpose(1, 2)  # noqa: E731
    a = torch.softmax((split(q) / math.sqrt(C // heads)) @ split(k).transpose(-1, -2), dim=-1)
    return (a @ split(v)).transpose(1, 2).reshape(B, N, C)


class CrossBlock(nn.Module):
    """Cross-attention to the other cloud, then a feed-forward layer (pre-norm, residual).

    DCP's transformer also has self-attention; the edge features already carry the local
    context, and leaving it out halves the cost at our point counts.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.kv, self.out = (
            nn.Linear(width, width),
            nn.Linear(width, 2 * width),
            nn.Linear(width, width),
        )
        self.ff = _mlp(width, 2 * width, width)
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(3))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        k, v = self.kv(self.norms[1](b)).chunk(2, -1)
        a = a + self.out(attention(self.q(self.norms[0](a)), k, v, self.heads))
        return a + self.ff(self.norms[2](a))


def weighted_procrustes(src: torch.Tensor, dst: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Rigid (B, 4, 4) minimising sum_i w_i |R src_i + t - dst_i|^2; w (B, N) sums to 1."""
    ws = w[..., None]
    cs, cd = (ws * src).sum(1), (ws * dst).sum(1)
    M = ((dst - cd[:, None]) * ws).transpose(1, 2) @ (src - cs[:, None])
    R = roma.special_procrustes(M.double()).to(src.dtype)
    return lie.make_pose(R, cd - (R @ cs[..., None])[..., 0])


class Surrogate(nn.Module):
    """(model points X moved by the current pose, observed points Y) -> correction dH.

    Match scores: feature similarity times a learned inverse temperature, minus a learned
    weight times the squared distance (in units of ``length_scale``), as in RPM's soft
    assignment; ``spatial = 0`` leaves the distance term out.
    """

    def __init__(
        self,
        width: int,
        k: int,
        heads: int,
        length_scale: float,
        temperature: float = 1.0,
        spatial: float = 0.0,
    ) -> None:
        super().__init__()
        self.length_scale = length_scale
        self.features = EdgeFeatures(width, k)
        self.block = CrossBlock(width, heads)
        self.weight_head = nn.Linear(width, 1)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))
        self.log_spatial = nn.Parameter(torch.tensor(math.log(spatial))) if spatial > 0 else None

    def forward(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        fx, fy = self.features(X / self.length_scale), self.features(Y / self.length_scale)
        px, py = self.block(fx, fy), self.block(fy, fx)
        scale = self.log_temperature.exp() / math.sqrt(px.shape[-1])
        logits = (py * scale) @ px.transpose(1, 2)  # (B, N_obs, N_model)
        if self.log_spatial is not None:
            logits = (
                logits - self.log_spatial.exp() * torch.cdist(Y, X).square() / self.length_scale**2
            )
        match = torch.softmax(logits, dim=-1)
        w = torch.softmax(self.weight_head(py)[..., 0], dim=-1)
        return weighted_procrustes(match @ X, Y, w)


def denoiser(net: Surrogate, X: torch.Tensor, Y: torch.Tensor):
    """The reverse process's denoiser: H0hat = dH H_t, dH from (H_t X, Y); poses in float64.

    The network runs on the device of X and Y; poses stay on theirs (the CPU).
    """

    def predict(H: torch.Tensor, t: int) -> torch.Tensor:
        dH = net(lie.transform(H.to(X.device, X.dtype), X), Y)
        return dH.to(H.device, H.dtype) @ H

    return predict


def point_l1(H_pred: torch.Tensor, H_true: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance between the model points moved by the predicted and the true pose."""
    return (lie.transform(H_pred, X) - lie.transform(H_true, X)).abs().mean()
