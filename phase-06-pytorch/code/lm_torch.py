"""Phase 03 in PyTorch: the embedding table, the neural bigram and Bengio's MLP language model.

Phase 03 wrote an `Embedding` layer (a table W of shape (V, d); forward looks up rows, backward
scatters the blame back into the rows that were looked up, with np.add.at), a neural bigram
(one (V, V) table of logits) and the MLP language model of Bengio, Ducharme, Vincent & Jauvin
(2003, "A Neural Probabilistic Language Model"). PyTorch has the pieces ready:

    ours (phase 03)                             PyTorch
    Embedding(V, d): params W (V, d)            nn.Embedding(V, d): weight (V, d), same layout
    W[ids]; backward with np.add.at             emb(ids); autograd does the scatter-add
    SoftmaxCrossEntropy (phase 02)              F.cross_entropy(logits, targets): log-softmax
                                                and the mean negative log-likelihood in one call
    MLPLanguageModel: C, mlp.0.W ... mlp.2.b    TorchMLPLM: C.weight, mlp.0.weight ... (Linear
                                                layers transposed, as in mlp_torch.py)

Each rebuild comes with its converter pair (to PyTorch and back) and a parity check in
float64. Then the neural bigram is trained in PyTorch, with phase 03's settings, and reaches
the counting model's loss, as the NumPy one did.

Run:  python phase-06-pytorch/code/lm_torch.py --steps 2000 --batch 1024
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from phase00.corpus import add_corpus_flags, load_text
from phase00.flags import add_seed_flag, check_fits_in_memory, script_parser
from phase00.gradient_descent import check_loss
from phase02.layers import SoftmaxCrossEntropy
from phase03.bigram import add_step_flags, bigram_counts, bigram_probs, log_of, mean_nll
from phase03.char_tokenizer import training_tokenizer
from phase03.embeddings import Embedding, one_hot
from phase03.mlp_lm import MLPLanguageModel
from phase06.device import limit_cpu_threads
from phase06.tensors import Parity, max_abs_diff, to_array, to_tensor

MIN_CHARS = 40  # the embedding, bigram and MLP demos each take windows of the text's start


def embedding_to_torch(layer: Embedding) -> nn.Embedding:
    """An nn.Embedding holding a copy of phase 03's table (same layout: no transpose)."""
    emb = nn.Embedding(layer.vocab_size, layer.dim, dtype=torch.float64)
    emb.load_state_dict({"weight": to_tensor(layer.params["W"])})
    return emb


def embedding_to_numpy(emb: nn.Embedding) -> Embedding:
    """Phase 03's Embedding holding a copy of the nn.Embedding's table."""
    return Embedding.from_weights(to_array(emb.weight))


class TorchBigram(nn.Module):
    """The neural bigram: logits for the next id are row W[previous id] of a (V, V) table."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.W = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.W.weight)  # every row uniform at the start, as in phase 03

    def forward(self, prev: torch.Tensor) -> torch.Tensor:
        """prev (B,) ids -> logits (B, V) of the next id."""
        return self.W(prev)


class TorchMLPLM(nn.Module):
    """Embedding C (V, d) -> concatenate n vectors -> Linear(n*d, H) -> tanh -> Linear(H, V)."""

    def __init__(self, vocab_size: int, context: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.vocab_size, self.context, self.dim = vocab_size, context, dim
        self.C = nn.Embedding(vocab_size, dim)
        self.mlp = nn.Sequential(nn.Linear(context * dim, hidden), nn.Tanh(),
                                 nn.Linear(hidden, vocab_size))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Contexts X (B, n) of ids -> logits (B, V) of the id that follows each."""
        if X.ndim != 2 or X.shape[1] != self.context:
            raise ValueError(f"expected contexts of shape (B, {self.context}), got "
                             f"{tuple(X.shape)}")
        B = X.shape[0]
        E = self.C(X)  # (B, n, d)
        logits = self.mlp(E.reshape(B, self.context * self.dim))  # (B, n*d) -> (B, V)
        assert logits.shape == (B, self.vocab_size)
        return logits


def mlp_lm_to_torch(model: MLPLanguageModel) -> TorchMLPLM:
    """A TorchMLPLM with exactly phase 03's weights: C as is, each Linear's W transposed."""
    hidden = model.params["mlp.0.W"].shape[1]
    torch_model = TorchMLPLM(model.vocab_size, model.context, model.dim, hidden).double()
    state = {"C.weight": to_tensor(model.params["C"])}
    for i in (0, 2):
        state[f"mlp.{i}.weight"] = to_tensor(model.params[f"mlp.{i}.W"].T)
        state[f"mlp.{i}.bias"] = to_tensor(model.params[f"mlp.{i}.b"])
    torch_model.load_state_dict(state)
    return torch_model


def mlp_lm_to_numpy(torch_model: TorchMLPLM) -> MLPLanguageModel:
    """Phase 03's MLPLanguageModel with exactly the weights of `torch_model`."""
    hidden = torch_model.mlp[0].out_features
    model = MLPLanguageModel(torch_model.vocab_size, torch_model.context, torch_model.dim,
                             hidden, np.random.default_rng(0))
    params = model.params  # the layers' own arrays: write into them
    params["C"][...] = to_array(torch_model.C.weight)
    for i in (0, 2):
        params[f"mlp.{i}.W"][...] = to_array(torch_model.mlp[i].weight).T
        params[f"mlp.{i}.b"][...] = to_array(torch_model.mlp[i].bias)
    return model


def compare_embedding(layer: Embedding, ids: np.ndarray, rng: np.random.Generator) -> Parity:
    """Lookup and table gradient (for a random upstream gradient), NumPy against PyTorch."""
    emb = embedding_to_torch(layer)
    out = layer.forward(ids)
    dout = rng.normal(size=out.shape)
    layer.backward(dout)  # np.add.at: repeated ids add up
    out_t = emb(torch.as_tensor(ids))
    (out_t * to_tensor(dout)).sum().backward()  # d(sum(out * dout))/d(out) = dout
    return Parity(f"phase 03 embedding {layer.vocab_size}x{layer.dim}",
                  max_abs_diff(out, out_t), {"W": max_abs_diff(layer.grads["W"], emb.weight.grad)})


def compare_bigram(layer: Embedding, prev: np.ndarray, nxt: np.ndarray) -> Parity:
    """The neural bigram's loss and table gradient: phase 02's SoftmaxCrossEntropy with phase
    03's Embedding, against nn.Embedding with F.cross_entropy."""
    model = TorchBigram(layer.vocab_size).double()
    model.W.load_state_dict({"weight": to_tensor(layer.params["W"])})
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(layer.forward(prev), nxt)
    layer.backward(loss_fn.backward())
    loss_t = F.cross_entropy(model(torch.as_tensor(prev)), torch.as_tensor(nxt))
    loss_t.backward()
    return Parity(f"phase 03 neural bigram {layer.vocab_size}x{layer.vocab_size}",
                  abs(loss - loss_t.item()),
                  {"W": max_abs_diff(layer.grads["W"], model.W.weight.grad)})


def compare_mlp_lm(model: MLPLanguageModel, X: np.ndarray, Y: np.ndarray) -> Parity:
    """Logits and every gradient of the MLP language model, NumPy against PyTorch."""
    torch_model = mlp_lm_to_torch(model)
    loss_fn = SoftmaxCrossEntropy()
    logits = model.forward(X)
    loss_fn.forward(logits, Y)
    model.backward(loss_fn.backward())
    logits_t = torch_model(torch.tensor(X))  # a copy: X may be a read-only view
    F.cross_entropy(logits_t, torch.as_tensor(Y)).backward()
    theirs = {"C": torch_model.C.weight.grad}
    for i in (0, 2):
        theirs[f"mlp.{i}.W"] = torch_model.mlp[i].weight.grad.T
        theirs[f"mlp.{i}.b"] = torch_model.mlp[i].bias.grad
    return Parity(f"phase 03 MLP LM (n={model.context}, d={model.dim})",
                  max_abs_diff(logits, logits_t),
                  {k: max_abs_diff(g, theirs[k]) for k, g in model.grads.items()})


def train_torch_bigram(train_ids: np.ndarray, vocab_size: int, steps: int, batch: int,
                       lr: float, seed: int) -> tuple[TorchBigram, list[float]]:
    """Phase 03's neural bigram recipe in PyTorch: Adam, lr decayed linearly to 0, random pairs.

    Returns the model and the loss of every batch.
    """
    torch.manual_seed(seed)
    model = TorchBigram(vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ids = torch.as_tensor(train_ids)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        for group in opt.param_groups:  # the same linear decay as phase 03
            group["lr"] = lr * (1 - step / steps)
        t = torch.randint(0, len(ids) - 1, (batch,), generator=g)  # random positions
        loss = F.cross_entropy(model(ids[t]), ids[t + 1])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        check_loss(losses[-1], f"at step {step + 1}", lr, ceiling=100 * (1 + np.log(vocab_size)))
    return model, losses


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text, source = load_text(args.corpus, args.path)
        tok = training_tokenizer(text, source)  # refuses one repeated character
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    if len(text) < MIN_CHARS:  # the demos below slice the first 40 characters
        parser.exit(2, f"error: {source} has {len(text):,} characters: this script needs at "
                       f"least {MIN_CHARS}; use a longer text\n")
    V = tok.vocab_size
    try:  # the (V, V) tables: counts, probabilities and logs in NumPy (float64), the neural
        # bigram's weights, gradient and Adam's moments (float32); a batch's positions and ids
        # (int64) and its logits, 3 copies
        check_fits_in_memory(8 * 3 * V * V + 4 * 4 * V * V
                             + args.batch * (8 * 3 + 4 * 3 * V),
                             f"the neural bigram of {V:,} distinct characters with --batch "
                             f"{args.batch}")
    except ValueError as err:
        parser.error(str(err))
    limit_cpu_threads(1)  # small tensors: one thread is faster (device.py explains)
    rng = np.random.default_rng(args.seed)
    ids = np.array(tok.encode(text))

    print(f"1. The embedding table: {source}, V = {V}")
    layer = Embedding(V, 8, rng)
    sample_ids = ids[:12]
    emb = embedding_to_torch(layer)
    print(f"   phase 03 W {layer.params['W'].shape} -> nn.Embedding weight "
          f"{tuple(emb.weight.shape)} (same layout, no transpose)")
    via_onehot = F.one_hot(torch.as_tensor(sample_ids), V).double() @ emb.weight
    print(f"   one_hot(ids) @ weight == emb(ids) in PyTorch too: "
          f"{torch.equal(via_onehot, emb(torch.as_tensor(sample_ids)))}; NumPy one_hot agrees: "
          f"{np.array_equal(one_hot(sample_ids, V) @ layer.params['W'], to_array(via_onehot))}")
    parity = compare_embedding(layer, sample_ids.reshape(3, 4), rng)
    print(f"   lookup max |diff| {parity.forward:.1e}; table gradient (np.add.at against "
          f"autograd) {parity.grads['W']:.1e}")
    print(f"   round trip keeps the table: "
          f"{np.array_equal(embedding_to_numpy(emb).params['W'], layer.params['W'])}")

    print("\n2. The neural bigram: loss and gradient, phase 02's SoftmaxCrossEntropy against "
          "F.cross_entropy")
    table = Embedding(V, V, rng, std=0.5)
    t = rng.integers(0, len(ids) - 1, size=256)
    parity = compare_bigram(table, ids[t], ids[t + 1])
    print(f"   loss max |diff| {parity.forward:.1e}; gradient of the ({V}, {V}) table "
          f"{parity.grads['W']:.1e}")

    n_train = int(len(ids) * 0.9)
    train_ids, val_ids = ids[:n_train], ids[n_train:]
    print(f"   training it in PyTorch: Adam, lr {args.lr:g} decayed to 0, {args.steps} steps of "
          f"{args.batch} pairs")
    start = time.perf_counter()
    try:
        model, losses = train_torch_bigram(train_ids, V, args.steps, args.batch, args.lr,
                                           args.seed)
    except FloatingPointError as err:
        parser.exit(1, f"error: {err}\n")
    seconds = time.perf_counter() - start
    log_P = F.log_softmax(model.W.weight.detach().double(), dim=-1).numpy()
    floor = mean_nll(log_of(bigram_probs(bigram_counts(train_ids, V), 0.0)), train_ids)
    print(f"   batch loss {losses[0]:.4f} (ln {V} = {np.log(V):.4f}) -> {losses[-1]:.4f} in "
          f"{seconds:.1f} s")
    print(f"   NLL on the training split {mean_nll(log_P, train_ids):.4f}, validation "
          f"{mean_nll(log_P, val_ids):.4f}; the counting model's floor on training: "
          f"{floor:.4f}")

    print("\n3. Bengio's MLP language model (context 3, d 10, hidden 64), rebuilt")
    lm = MLPLanguageModel(V, 3, 10, 64, rng)
    torch_lm = mlp_lm_to_torch(lm)
    for name, p in torch_lm.state_dict().items():
        print(f"   {name:14s} {str(tuple(p.shape)):10s}")
    X = np.lib.stride_tricks.sliding_window_view(ids[:40], 3)[:32]
    Y = ids[3:35]
    parity = compare_mlp_lm(lm, X, Y)
    print(f"   logits max |diff| {parity.forward:.1e}; gradients: "
          + ", ".join(f"{k} {v:.1e}" for k, v in parity.grads.items()))
    back = mlp_lm_to_numpy(torch_lm)
    print(f"   round trip keeps every weight: "
          f"{all(np.array_equal(v, back.params[k]) for k, v in lm.params.items())}")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser("phase 03's embedding, bigram and MLP LM in PyTorch.")
    add_step_flags(parser, steps=2000, batch=1024, lr=0.1, batch_of="character pairs")
    add_corpus_flags(parser)
    add_seed_flag(parser)
    return parser


if __name__ == "__main__":
    main()
