"""Stage 1: point cloud -> feature planes / grid -> tokens -> VQ -> decoder -> occupancy.

Three representations share the point encoder, the codebook and the occupancy decoder:

- ``latent``: Argus3D's latent vector. Tri-plane features are concatenated and mixed by a
  coupling network, downsampled to one r x r map of tokens (token grid (1, r, r)).
- ``triplane``: the same planes downsampled one by one, no coupling (token grid (3, r, r)).
- ``grid``: a volumetric feature grid downsampled by 3-D convolutions (token grid (g, g, g)).

Tokens are projected to ``codebook_dim`` dimensions and quantized against one codebook
(vector-quantize-pytorch's ``VectorQuantize``); indices index that codebook.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from vector_quantize_pytorch import VectorQuantize

REPRESENTATIONS = ("latent", "triplane", "grid")
PLANES = ((0, 2), (0, 1), (1, 2))  # xz, xy, yz: (width axis, height axis)


def scatter_mean(feat: torch.Tensor, index: torch.Tensor, n_cells: int) -> torch.Tensor:
    """Mean of point features per cell: (B, N, C), (B, N) -> (B, n_cells, C); empty cells 0."""
    b, n, c = feat.shape
    flat = (index + n_cells * torch.arange(b).unsqueeze(1)).reshape(-1)
    total = feat.new_zeros(b * n_cells, c).index_add_(0, flat, feat.reshape(-1, c))
    count = torch.bincount(flat, minlength=b * n_cells).clamp(min=1).unsqueeze(1)
    return (total / count).reshape(b, n_cells, c)


def gather_cells(cells: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-point rows of a cell map: (B, n_cells, C), (B, N) -> (B, N, C)."""
    b, n_cells, c = cells.shape
    flat = (index + n_cells * torch.arange(b).unsqueeze(1)).reshape(-1)
    return cells.reshape(-1, c).index_select(0, flat).reshape(b, -1, c)


def cell_index(p: torch.Tensor, axes: tuple[int, ...], res: int) -> torch.Tensor:
    """Flat cell index of points in [-0.5, 0.5]^3 on the grid over ``axes`` (first fastest)."""
    cell = ((p[..., list(axes)] + 0.5) * res).floor().long().clamp(0, res - 1)
    flat = torch.zeros_like(cell[..., 0])
    for k in reversed(range(len(axes))):
        flat = flat * res + cell[..., k]
    return flat


class LocalPoolPointNet(nn.Module):
    """Per-point MLP with one round of local pooling, scattered onto the cells of some grids."""

    def __init__(self, hidden: int, out: int, grids: tuple[tuple[int, ...], ...], res: int):
        super().__init__()
        self.grids, self.res = grids, res
        self.mlp1 = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.mlp2 = nn.Sequential(nn.ReLU(), nn.Linear(2 * hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, out))  # fmt: skip

    def forward(self, p: torch.Tensor) -> list[torch.Tensor]:
        """(B, N, 3) -> one (B, C, res, ..., res) map per grid."""
        f = self.mlp1(p)
        idx = [cell_index(p, axes, self.res) for axes in self.grids]
        n_cells = [self.res ** len(axes) for axes in self.grids]
        pooled = sum(
            gather_cells(scatter_mean(f, i, n), i) for i, n in zip(idx, n_cells, strict=True)
        )
        f = self.mlp2(torch.cat([f, pooled], dim=-1))
        maps = []
        for i, n, axes in zip(idx, n_cells, self.grids, strict=True):
            m = scatter_mean(f, i, n).transpose(1, 2)
            maps.append(m.reshape(m.shape[0], m.shape[1], *([self.res] * len(axes))))
        return maps


def conv_block(dim: int, c_in: int, c_out: int) -> nn.Sequential:
    conv = nn.Conv2d if dim == 2 else nn.Conv3d
    return nn.Sequential(
        conv(c_in, c_out, 3, padding=1), nn.ReLU(), conv(c_out, c_out, 3, padding=1)
    )


def down(dim: int, width: int, c_in: int, n: int, c_out: int) -> nn.Sequential:
    """n stride-2 convolutions then a 1x1 projection to the token dimension."""
    conv = nn.Conv2d if dim == 2 else nn.Conv3d
    layers: list[nn.Module] = []
    for k in range(n):
        layers += [conv(c_in if k == 0 else width, width, 4, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, conv(width, c_out, 1))


def up(dim: int, width: int, c_in: int, n: int, c_out: int) -> nn.Sequential:
    """1x1 from the token dimension then n stride-2 transposed convolutions."""
    conv = nn.Conv2d if dim == 2 else nn.Conv3d
    tconv = nn.ConvTranspose2d if dim == 2 else nn.ConvTranspose3d
    layers: list[nn.Module] = [conv(c_in, width, 1), nn.ReLU()]
    for _ in range(n):
        layers += [tconv(width, width, 4, stride=2, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, conv(width, c_out, 3, padding=1))


class OccupancyDecoder(nn.Module):
    """ConvONet-style decoder: the feature is added to the hidden state before every block."""

    def __init__(self, c: int, hidden: int, blocks: int = 3):
        super().__init__()
        self.fc_p = nn.Linear(3, hidden)
        self.fc_c = nn.ModuleList(nn.Linear(c, hidden) for _ in range(blocks))
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
            )
            for _ in range(blocks)
        )
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, feat: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        h = self.fc_p(p)
        for fc_c, block in zip(self.fc_c, self.blocks, strict=True):
            h = h + fc_c(feat)
            h = h + block(h)
        return self.out(h).squeeze(-1)


class ShapeAutoencoder(nn.Module):
    """Stage 1 for one representation (see module docstring)."""

    def __init__(self, sc):
        super().__init__()
        if sc.rep not in REPRESENTATIONS:
            raise ValueError(
                f"stage1.rep must be one of {', '.join(REPRESENTATIONS)}, got {sc.rep!r}"
            )
        self.rep, c, w = sc.rep, sc.channels, sc.width
        self.vol = sc.rep == "grid"
        dim = 3 if self.vol else 2
        res = sc.grid_res if self.vol else sc.plane_res
        self.res, self.c = res, c
        r = res // 2**sc.n_down
        self.token_grid = (
            (r, r, r) if self.vol else ((1, r, r) if sc.rep == "latent" else (3, r, r))
        )
        grids = ((0, 1, 2),) if self.vol else PLANES
        self.encoder = LocalPoolPointNet(sc.hidden, c, grids, res)
        if sc.rep == "latent":  # the coupling network mixes the concatenated planes
            self.enc_conv = conv_block(dim, 3 * c, w)
            self.to_tokens = down(dim, w, w, sc.n_down, sc.token_dim)
            self.from_tokens = up(dim, w, sc.token_dim, sc.n_down, 3 * c)
        else:
            self.enc_conv = conv_block(dim, c, c)
            self.to_tokens = down(dim, w, c, sc.n_down, sc.token_dim)
            self.from_tokens = up(dim, w, sc.token_dim, sc.n_down, c)
        self.dec_conv = conv_block(dim, c, c)
        self.vq = VectorQuantize(
            dim=sc.token_dim, codebook_size=sc.codebook_size, codebook_dim=sc.codebook_dim,
            commitment_weight=sc.commitment, decay=sc.vq_decay, kmeans_init=True,
            threshold_ema_dead_code=sc.dead_code_threshold,
        )  # fmt: skip
        self.decoder = OccupancyDecoder(c, sc.hidden)

    # -- encoder side --------------------------------------------------------------------------
    def encode(self, points: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) -> continuous tokens (B, T, token_dim), T = prod(token_grid)."""
        maps = self.encoder(points)
        if self.vol:
            z = self.to_tokens(self.enc_conv(maps[0]))
        elif self.rep == "latent":
            z = self.to_tokens(self.enc_conv(torch.cat(maps, dim=1)))
        else:  # planes one by one: (B*3, C, R, R)
            x = torch.stack(maps, dim=1).flatten(0, 1)
            z = self.to_tokens(self.enc_conv(x))
            z = z.unflatten(0, (-1, 3)).transpose(1, 2)  # (B, D, 3, r, r)
        return z.flatten(2).transpose(1, 2)

    def quantize(self, z: torch.Tensor):
        """(quantized tokens, indices (B, T), commitment loss)."""
        zq, idx, loss = self.vq(z)
        return zq, idx, loss.sum()

    # -- decoder side --------------------------------------------------------------------------
    def features(self, zq: torch.Tensor) -> torch.Tensor:
        """Quantized tokens (B, T, D) -> feature maps: (B, 3, C, R, R) planes or (B, C, G, G, G)."""
        b = zq.shape[0]
        x = zq.transpose(1, 2).reshape(b, -1, *self.token_grid)
        if self.vol:
            return self.dec_conv(self.from_tokens(x))
        if self.rep == "latent":
            planes = self.from_tokens(x[:, :, 0]).unflatten(1, (3, self.c)).flatten(0, 1)
        else:
            planes = self.from_tokens(x.transpose(1, 2).flatten(0, 1))
        return self.dec_conv(planes).unflatten(0, (b, 3))

    def query(self, feats: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Occupancy logits (B, M) of query points p (B, M, 3) in [-0.5, 0.5]^3."""
        g = (2 * p).clamp(
            -1, 1
        )  # cell centres of res cells at (i + 0.5) / res (align_corners=False)
        if self.vol:
            f = F.grid_sample(feats, g[:, :, None, None], align_corners=False)
            f = f[:, :, :, 0, 0].transpose(1, 2)
        else:
            f = 0
            for k, axes in enumerate(PLANES):
                s = F.grid_sample(feats[:, k], g[:, :, None, list(axes)], align_corners=False)
                f = f + s[:, :, :, 0].transpose(1, 2)
        return self.decoder(f, p)

    def codes_to_features(self, idx: torch.Tensor) -> torch.Tensor:
        """Codebook indices (B, T) -> feature maps."""
        return self.features(self.vq.get_output_from_indices(idx))

    def forward(self, points: torch.Tensor, queries: torch.Tensor):
        """(occupancy logits, indices, commitment loss)."""
        zq, idx, loss = self.quantize(self.encode(points))
        return self.query(self.features(zq), queries), idx, loss
