"""CompGCN convolution (Vashishth et al., 2020): messages compose a neighbour with the
edge's relation; relations are embedded and updated by every layer.  PyG has no CompGCN."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Linear, Parameter
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.utils import degree

COMPOSITIONS = ("sub", "mult", "corr")


def circular_correlation(a: Tensor, b: Tensor) -> Tensor:
    r""":math:`[\mathbf{a} \star \mathbf{b}]_k = \sum_i a_i\, b_{(i + k) \bmod d}`, in
    :math:`O(d \log d)` as :math:`\mathcal{F}^{-1}(\overline{\mathcal{F}(\mathbf{a})} \odot
    \mathcal{F}(\mathbf{b}))`.  In fp32: FFTs take no bf16."""
    a, b = torch.broadcast_tensors(a.float(), b.float())
    spectrum = torch.conj(torch.fft.rfft(a, dim=-1)) * torch.fft.rfft(b, dim=-1)
    return torch.fft.irfft(spectrum, n=a.size(-1), dim=-1)


def compose(x: Tensor, rel: Tensor, composition: str) -> Tensor:
    r""":math:`\phi(\mathbf{x}, \mathbf{z})`: ``sub`` :math:`\mathbf{x} - \mathbf{z}`
    (TransE), ``mult`` :math:`\mathbf{x} \odot \mathbf{z}` (DistMult), ``corr``
    :math:`\mathbf{x} \star \mathbf{z}` (HolE)."""
    if composition == "sub":
        return x - rel
    if composition == "mult":
        return x * rel
    if composition == "corr":
        return circular_correlation(x, rel)
    raise ValueError(f"unknown composition {composition!r} (expected one of {COMPOSITIONS})")


class CompGCNConv(MessagePassing):
    r"""One CompGCN layer over edges h->t of type r < R and their inverses t->h of type r + R.

    .. math::
        \mathbf{x}'_v = \tfrac13 \Big( \mathbf{W}_\mathrm{in} \sum_{(u, r) \in \mathcal{N}_\mathrm{in}(v)}
        n_{uv}\, \phi(\mathbf{x}_u, \mathbf{z}_r) + \mathbf{W}_\mathrm{out}
        \sum_{(u, r) \in \mathcal{N}_\mathrm{out}(v)} n_{uv}\, \phi(\mathbf{x}_u, \mathbf{z}_r)
        + \mathbf{W}_\mathrm{loop}\, \phi(\mathbf{x}_v, \mathbf{z}_\mathrm{loop}) \Big) + \mathbf{b},
        \qquad \mathbf{z}'_r = \mathbf{W}_\mathrm{rel} \mathbf{z}_r

    :math:`\mathcal{N}_\mathrm{in}` holds the original edges, :math:`\mathcal{N}_\mathrm{out}`
    the inverse ones; :math:`n_{uv} = 1/\sqrt{\deg u \deg v}` (in-degrees over both
    directions, at least 1: the symmetric GCN norm).  Each direction's weight is applied
    after its sum (it is linear): ``N x d x d`` work instead of ``E x d x d``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 composition: str = "corr"):
        super().__init__(aggr="add")
        if composition not in COMPOSITIONS:
            raise ValueError(f"unknown composition {composition!r} (expected one of {COMPOSITIONS})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.composition = num_relations, composition
        self.w_in, self.w_out, self.w_loop, self.w_rel = (
            Linear(in_channels, out_channels, bias=False) for _ in range(4))
        self.loop_rel = Parameter(torch.empty(1, in_channels))
        self.bias = Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for linear in (self.w_in, self.w_out, self.w_loop, self.w_rel):
            glorot(linear.weight)
        glorot(self.loop_rel)
        zeros(self.bias)

    def forward(self, x: Tensor, rel: Tensor, edge_index: Tensor,
                edge_type: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` [N, in], ``rel`` [2R, in] -> (``x'`` [N, out], ``rel'`` [2R, out])."""
        # clamped: a sampled subgraph's outermost nodes send messages but receive none
        deg_inv_sqrt = degree(edge_index[1], x.size(0), dtype=torch.float).clamp(min=1).pow(-0.5)
        norm = deg_inv_sqrt[edge_index[0]] * deg_inv_sqrt[edge_index[1]]
        inverse = edge_type >= self.num_relations
        nodes, relations = self.spectral(x, conj=True), self.spectral(rel)
        out = self.w_loop(compose(x, self.loop_rel, self.composition))
        for mask, linear in ((~inverse, self.w_in), (inverse, self.w_out)):
            summed = self.propagate(edge_index[:, mask], x=nodes, norm=norm[mask],
                                    edge_rel=relations[edge_type[mask]])
            if self.composition == "corr":
                summed = torch.fft.irfft(summed, n=x.size(1), dim=-1)
            out = out + linear(summed)
        return out / 3 + self.bias, self.w_rel(rel)

    def spectral(self, x: Tensor, conj: bool = False) -> Tensor:
        """For ``corr``, the vectors' FFT (conjugated for the node side), where the
        correlation is an elementwise product and, the inverse FFT being linear, the sum
        over edges can be taken before it: N + 2R FFTs instead of 2E."""
        if self.composition != "corr":
            return x
        spectrum = torch.fft.rfft(x.float(), dim=-1)
        return torch.conj_physical(spectrum) if conj else spectrum

    def message(self, x_j: Tensor, edge_rel: Tensor, norm: Tensor) -> Tensor:
        combined = x_j - edge_rel if self.composition == "sub" else x_j * edge_rel
        return norm.unsqueeze(-1) * combined

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations}, composition={self.composition!r})")
