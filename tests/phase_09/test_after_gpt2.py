"""The post-GPT-2 changes of after_gpt2.py: each piece against its formula, the options model
against phase 07's GPT, Muon's update against the SVD, and the ablation in --quick mode."""

import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from phase07.model import GPT, GPTConfig, KVCache
from phase09.after_gpt2 import (
    ROWS,
    ModernConfig,
    ModernGPT,
    ModernQKV,
    Muon,
    RMSNorm,
    build_parser,
    hidden_matrices,
    main,
    make_optimizers,
    newton_schulz,
    rotary_tables,
    rotate,
    singular_value_map,
    verdict,
)
from tests.scripts import refused

SMALL = {"vocab_size": 11, "context": 12, "n_layer": 2, "n_head": 2, "n_embd": 16}
ALL_ON = {"rope": True, "rmsnorm": True, "qk_norm": True, "activation": "relu2",
          "untied": True, "bias": False}
ONE_AT_A_TIME = [{"rope": True}, {"rmsnorm": True}, {"qk_norm": True}, {"activation": "relu2"},
                 {"activation": "swiglu"}, {"untied": True}, {"bias": False}, ALL_ON,
                 {**ALL_ON, "activation": "swiglu"}]


def ids_of(options: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items())


# --- RoPE ------------------------------------------------------------------------------------

def test_rope_scores_depend_only_on_the_offset() -> None:
    """q at position m and k at position n: (R_m q).(R_n k) is the same for every (m, n) with
    the same m - n, and differs between offsets."""
    torch.manual_seed(0)
    d = 8
    q, k = torch.randn(d, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
    cos, sin = rotary_tables(d, 40)

    def score(m: int, n: int) -> float:
        return float(rotate(q, cos[m], sin[m]) @ rotate(k, cos[n], sin[n]))

    for offset in (0, 1, 5, 17):
        scores = [score(n + offset, n) for n in range(0, 40 - offset, 3)]
        assert max(scores) - min(scores) < 1e-12, (offset, scores)
    assert abs(score(5, 0) - score(6, 0)) > 1e-3
    assert abs(score(0, 0) - float(q @ k)) < 1e-12  # position 0 is not turned at all


def test_rope_worked_example_of_note_04() -> None:
    """One pair turning 1 radian per position: q = (1, 2), k = (3, -1) score the same at
    positions (1, 3) and (5, 7), another score at a gap of 3, and q . k = 1 at a gap of 0."""
    cos, sin = rotary_tables(head_dim=2, length=8)
    q = torch.tensor([1.0, 2.0], dtype=torch.float64)
    k = torch.tensor([3.0, -1.0], dtype=torch.float64)

    def score(m: int, n: int) -> float:
        return round(float(rotate(q, cos[m], sin[m]) @ rotate(k, cos[n], sin[n])), 4)

    assert (score(1, 3), score(5, 7), score(1, 4), score(4, 4)) == (5.9489, 5.9489, -0.0022, 1.0)


def test_rope_pairs_each_entry_with_the_one_half_a_vector_away() -> None:
    """d = 4 at position 1: the pair (x0, x2) turns by 1 radian and (x1, x3) by 10000^(-2/4)
    = 0.01. Turning neighbours (x0, x1) instead is another layout of RoPE, one this model's
    weights do not follow: it gives (-1.1426, 1.9221, 2.9599, 4.0298). The tables are float64;
    the result keeps x's float32."""
    cos, sin = rotary_tables(4, 2)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    got = rotate(x, cos[1], sin[1])
    assert got.dtype == torch.float32, "cast cos and sin to x's dtype"
    torch.testing.assert_close(got, torch.tensor([-1.9841, 1.9599, 2.4624, 4.0198]),
                               rtol=0, atol=1e-4)


def test_rope_keeps_lengths() -> None:
    """A rotation: every vector keeps its length."""
    x = torch.randn(3, 10, 8, dtype=torch.float64)
    cos, sin = rotary_tables(8, 10)
    assert torch.allclose(rotate(x, cos, sin).norm(dim=-1), x.norm(dim=-1))


# --- RMSNorm and QK-norm ---------------------------------------------------------------------

def test_rmsnorm_by_hand() -> None:
    """[3, 4]: mean square (9 + 16) / 2 = 12.5, so the output is [3, 4] / sqrt(12.5 + eps)."""
    norm = RMSNorm(2, eps=1e-5)
    out = norm(torch.tensor([[3.0, 4.0]]))
    expected = torch.tensor([[3.0, 4.0]]) / (12.5 + 1e-5) ** 0.5
    torch.testing.assert_close(out, expected)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([2.0, -1.0]))
    torch.testing.assert_close(norm(torch.tensor([[3.0, 4.0]])),
                               expected * torch.tensor([2.0, -1.0]))


def test_rmsnorm_eps_sits_inside_the_root_and_a_zero_vector_stays_zero() -> None:
    """Where eps matters: [3e-3, 4e-3] has mean square 1.25e-5, near eps = 1e-5, so the output
    is [3e-3, 4e-3] / sqrt(2.25e-5) = [0.6325, 0.8433]. Without eps it would be [0.8485, 1.1314];
    with eps added after the root, [0.8461, 1.1282]. A zero vector gives zeros, not NaN."""
    norm = RMSNorm(2, eps=1e-5).double()
    got = norm(torch.tensor([[3e-3, 4e-3]], dtype=torch.float64))
    torch.testing.assert_close(got, torch.tensor([[0.6325, 0.8433]], dtype=torch.float64),
                               rtol=0, atol=1e-4)
    zeros = norm(torch.zeros(1, 2, dtype=torch.float64))
    assert torch.equal(zeros, torch.zeros(1, 2, dtype=torch.float64)), zeros


def test_rmsnorm_formula_and_no_mean_subtracted() -> None:
    x = torch.randn(4, 5, 32, dtype=torch.float64) + 3.0
    norm = RMSNorm(32, eps=1e-6).double()
    expected = x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + 1e-6)
    assert torch.allclose(norm(x), expected)
    assert norm(x).mean() > 0.5  # LayerNorm would have centred it at 0


def test_qk_norm_gives_every_head_unit_rms_queries_and_keys() -> None:
    """With qk_norm (and no rope), each head's q and k leave c_attn with mean square 1; v is
    untouched."""
    config = ModernConfig(**SMALL, qk_norm=True)
    torch.manual_seed(1)
    layer = ModernQKV(config).double()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    q, k, v = layer(x).split(16, dim=2)
    raw_q, raw_k, raw_v = torch.nn.functional.linear(x, layer.weight, layer.bias).split(16, dim=2)
    for got, raw in ((q, raw_q), (k, raw_k)):
        heads, raw_heads = got.view(2, 5, 2, 8), raw.view(2, 5, 2, 8)
        expected = raw_heads / torch.sqrt((raw_heads ** 2).mean(-1, keepdim=True) + 1e-5)
        assert torch.allclose(heads, expected)
        assert torch.allclose((heads ** 2).mean(-1), torch.ones(2, 5, 2, dtype=torch.float64),
                              atol=1e-3)
    assert torch.equal(v, raw_v)


# --- the options model against phase 07 ------------------------------------------------------

def test_everything_off_is_phase_07s_gpt_exactly() -> None:
    """Same seed -> the same parameter names, shapes and values, and the same logits; phase
    07's weights load into it and give phase 07's logits (Hugging Face parity carries over)."""
    config = GPTConfig(**SMALL)
    torch.manual_seed(3)
    gpt = GPT(config)
    torch.manual_seed(3)
    modern = ModernGPT(ModernConfig(**asdict(config)))
    ours, theirs = modern.state_dict(), gpt.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)
    idx = torch.randint(0, 11, (2, 12))
    assert torch.equal(modern(idx), gpt(idx))
    torch.manual_seed(4)
    other = ModernGPT(ModernConfig(**SMALL))
    other.load_state_dict(gpt.state_dict())
    assert torch.equal(other(idx), gpt(idx))
    assert modern.n_params() == gpt.n_params()
    assert modern.flops_per_token() == gpt.flops_per_token()


@pytest.mark.parametrize("options", ONE_AT_A_TIME, ids=[ids_of(o) for o in ONE_AT_A_TIME])
def test_each_option_changes_the_model(options: dict) -> None:
    torch.manual_seed(5)
    gpt = GPT(GPTConfig(**SMALL))
    torch.manual_seed(5)
    modern = ModernGPT(ModernConfig(**SMALL, **options))
    idx = torch.randint(0, 11, (1, 12))
    assert not torch.allclose(modern(idx), gpt(idx))


@pytest.mark.parametrize("options", ONE_AT_A_TIME, ids=[ids_of(o) for o in ONE_AT_A_TIME])
def test_options_model_is_causal(options: dict) -> None:
    """Changing the tokens after position t changes no logit at positions <= t."""
    torch.manual_seed(6)
    model = ModernGPT(ModernConfig(**SMALL, **options)).double().eval()
    idx = torch.randint(0, 11, (2, 12))
    changed = idx.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 11
    a, b = model(idx), model(changed)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-12)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


@pytest.mark.parametrize("options", [ALL_ON, {"rope": True}], ids=["all", "rope"])
def test_kv_cache_and_hand_path_agree_with_the_full_pass(options: dict) -> None:
    """Rotary positions continue after the cached ones: one token at a time through the cache
    gives the full pass's logits; the hand attention path gives the fast path's."""
    torch.manual_seed(7)
    config = ModernConfig(**SMALL, **options)
    model = ModernGPT(config).double().eval()
    idx = torch.randint(0, 11, (2, 12))
    full = model(idx)
    cache = KVCache(config, 2, idx.device, torch.float64)
    steps = [model(idx[:, :5], cache=cache)] + [model(idx[:, t:t + 1], cache=cache)
                                                 for t in range(5, 12)]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-10)
    for block in model.transformer.h:
        block.attn.attention = "hand"
    assert torch.allclose(model(idx), full, atol=1e-10)


def test_options_structure() -> None:
    """RoPE drops the position table, untied gets its own head, SwiGLU keeps GPT-2's MLP size."""
    torch.manual_seed(8)
    gpt = GPT(GPTConfig(**SMALL))
    rope = ModernGPT(ModernConfig(**SMALL, rope=True, untied=True))
    assert not any("wpe" in name for name in rope.state_dict())
    assert rope.lm_head.weight is not rope.transformer.wte.weight
    assert rope.n_params() == gpt.n_params() - 12 * 16 + 11 * 16
    swiglu = ModernGPT(ModernConfig(**{**SMALL, "n_embd": 24}, activation="swiglu"))
    mlp = swiglu.transformer.h[0].mlp
    assert mlp.c_fc.weight.shape == (2 * 64, 24) and mlp.c_proj.weight.shape == (24, 64)
    assert mlp.c_fc.weight.numel() + mlp.c_proj.weight.numel() == 8 * 24 * 24
    with pytest.raises(ValueError, match="activation"):
        ModernConfig(**SMALL, activation="tanh")
    with pytest.raises(ValueError, match="even"):
        ModernConfig(vocab_size=5, n_embd=6, n_head=2, rope=True)


@pytest.mark.parametrize("activation", ["relu2", "swiglu"])
def test_the_mlp_computes_its_formula(activation: str) -> None:
    """relu2: W2 relu(x W1 + b1)^2 + b2. swiglu: W2 (silu(x W) * (x V)), W and V the two halves
    of c_fc's output; checked by hand on one block's MLP."""
    torch.manual_seed(11)
    mlp = ModernGPT(ModernConfig(**SMALL, activation=activation, bias=False)).transformer.h[0].mlp
    x = torch.randn(3, 5, SMALL["n_embd"])
    h = x @ mlp.c_fc.weight.T
    if activation == "relu2":
        hidden = torch.relu(h) ** 2
    else:
        gate, value = h.chunk(2, dim=-1)
        hidden = gate * torch.sigmoid(gate) * value
    assert torch.allclose(mlp(x), hidden @ mlp.c_proj.weight.T, atol=1e-6)


# --- Muon ------------------------------------------------------------------------------------

def matrix_with_singular_values(s: torch.Tensor, rows: int, cols: int,
                                 seed: int) -> torch.Tensor:
    """U diag(s) V^T with random orthonormal U (rows x k) and V (cols x k), k = len(s)."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(rows, len(s), dtype=torch.float64, generator=g))
    V, _ = torch.linalg.qr(torch.randn(cols, len(s), dtype=torch.float64, generator=g))
    return U @ torch.diag(s) @ V.T


@pytest.mark.parametrize("shape", [(32, 32), (48, 16), (16, 48)], ids=["square", "tall", "wide"])
def test_newton_schulz_maps_each_singular_value_and_keeps_u_and_v(
        shape: tuple[int, int]) -> None:
    """NS(U S V^T) = U f(S) V^T, f the scalar map of 5 quintic steps on S / ||S||: every value
    above about 1/700 of the Frobenius norm lands in [0.6, 1.21]; a tiny one stays small."""
    k = min(shape)
    s = torch.cat([torch.logspace(0, -1.5, k - 1, dtype=torch.float64),
                   torch.tensor([1e-7], dtype=torch.float64)])
    G = matrix_with_singular_values(s, *shape, seed=9)
    U, _, Vt = torch.linalg.svd(G, full_matrices=False)
    expected = torch.from_numpy(singular_value_map((s / s.norm()).numpy()))
    X = newton_schulz(G)
    assert X.shape == G.shape
    got = torch.linalg.svdvals(X)  # largest first; the map does not keep the order
    want = expected.sort(descending=True).values
    assert torch.allclose(got, want, atol=1e-6), (
        f"singular values after newton_schulz:\n{got}\nexpected (the map of each):\n{want}")
    assert torch.allclose(X, U @ torch.diag(expected) @ Vt, atol=1e-6)  # 1e-7 added to the norm
    assert expected[:-1].min() > 0.6 and expected[:-1].max() < 1.21, expected
    assert expected[-1] < 1e-3  # 1e-7 of the norm, times about 485: still tiny


def test_the_classical_cubic_converges_to_u_vt() -> None:
    G = matrix_with_singular_values(torch.linspace(1, 0.2, 16, dtype=torch.float64), 24, 16, 3)
    U, _, Vt = torch.linalg.svd(G, full_matrices=False)
    exact = newton_schulz(G, steps=60, coefficients=(1.5, -0.5, 0.0))
    assert torch.allclose(exact, U @ Vt, atol=1e-6)


def test_singular_value_map_by_hand() -> None:
    """One quintic step on s = 0.5: 3.4445 * 0.5 - 4.7750 * 0.125 + 2.0315 * 0.03125."""
    assert singular_value_map(np.array([0.5]), 1)[0] == pytest.approx(1.188859375, abs=1e-12)
    assert singular_value_map(np.array([1e-5]))[0] == pytest.approx(3.4445**5 * 1e-5, rel=1e-3)


def test_newton_schulz_does_not_care_about_the_gradient_s_size() -> None:
    G = torch.randn(8, 6, dtype=torch.float64)
    assert torch.allclose(newton_schulz(G), newton_schulz(1000 * G), atol=1e-9)
    zero = newton_schulz(torch.zeros(4, 3, dtype=torch.float64))  # 0 / (0 + 1e-7), not 0 / 0
    assert torch.equal(zero, torch.zeros(4, 3, dtype=torch.float64)), zero


def test_muon_step_is_the_orthogonalised_momentum() -> None:
    """First step: m = g, u = g + mu g, so W moves by -lr * sqrt(max(1, rows/cols)) * NS(g);
    the second step uses the momentum of both gradients."""
    torch.manual_seed(10)
    W = torch.nn.Parameter(torch.randn(12, 4, dtype=torch.float64))
    before = W.detach().clone()
    opt = Muon([W], lr=0.1, momentum=0.9)
    g1 = torch.randn(12, 4, dtype=torch.float64)
    W.grad = g1.clone()
    opt.step()
    assert torch.allclose(W.detach(), before - 0.1 * 3 ** 0.5 * newton_schulz(g1), atol=1e-12)
    g2 = torch.randn(12, 4, dtype=torch.float64)
    W.grad = g2.clone()
    middle = W.detach().clone()
    opt.step()
    m = 0.9 * g1 + g2
    assert torch.allclose(W.detach(), middle - 0.1 * 3 ** 0.5 * newton_schulz(g2 + 0.9 * m),
                          atol=1e-12)


@pytest.mark.parametrize(("settings", "says"), [
    ({"lr": -1.0}, "lr must be a finite number >= 0"),
    ({"lr": float("nan")}, "lr must be a finite number >= 0"),
    ({"momentum": 5.0}, "momentum must be in [0, 1)"),
    ({"momentum": -0.1}, "momentum must be in [0, 1)"),
    ({"ns_steps": -2}, "ns_steps must be a whole number >= 1"),
    ({"ns_steps": 0}, "ns_steps must be a whole number >= 1"),
    ({"ns_steps": 2.5}, "ns_steps must be a whole number >= 1")])
def test_muon_refuses_settings_that_cannot_train(settings: dict, says: str) -> None:
    W = torch.nn.Parameter(torch.ones(3, 2))
    with pytest.raises(ValueError, match=re.escape(says)):
        Muon([W], **settings)
    Muon([W], lr=0.0, momentum=0.0, ns_steps=1)  # the edges that make sense are accepted


def test_muon_takes_only_the_hidden_matrices() -> None:
    model = ModernGPT(ModernConfig(**SMALL, untied=True))
    muon, adamw = make_optimizers(model, True, 1e-3, 0.02, 0.1)
    in_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    in_adamw = {id(p) for g in adamw.param_groups for p in g["params"]}
    assert in_muon == {id(p) for p in hidden_matrices(model)}
    assert not in_muon & in_adamw
    assert in_muon | in_adamw == {id(p) for p in model.parameters()}
    for name in ("transformer.wte.weight", "lm_head.weight", "transformer.wpe.weight",
                 "transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.bias"):
        assert id(model.get_parameter(name)) in in_adamw, name
    with pytest.raises(ValueError, match="matrices only"):
        Muon([torch.nn.Parameter(torch.ones(3))])


# --- the ablation script ---------------------------------------------------------------------

def test_ablation_quick(tmp_path: Path, tiny_text: str,
                        capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "tiny.txt"
    text.write_text(tiny_text * 2, encoding="utf-8")
    main(["--quick", "--path", str(text), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| model | parameters | val loss | change | seconds |" in out
    for row in ("GPT-2 (phase 07)", "only RoPE", "stack: + Muon (all)", "same seconds as 'all'"):
        assert row in out
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| ")][1:]
    base = float(rows[0][2].split(" ± ")[0])
    for row in rows:  # each change is its row's mean minus GPT-2's, to the printed rounding
        assert float(row[3]) == pytest.approx(float(row[2].split(" ± ")[0]) - base, abs=1.5e-3)
    equal_steps = int(rows[-1][0].split("(")[1].split(" steps")[0])
    assert f"GPT-2 gets {equal_steps} steps for the same seconds" in out
    assert (tmp_path / "after_gpt2.png").is_file()


def test_ablation_refuses_a_text_too_short(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.txt"
    short.write_text("abcab" * 10, encoding="utf-8")
    line = refused(main, ["--quick", "--path", str(short), "--out", str(tmp_path)], capsys)
    assert "too short" in line


def test_quick_refuses_the_flags_it_sets(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(main, ["--quick", "--steps", "680"], capsys)
    assert "--quick sets its own --steps" in line


def test_parallel_jobs_give_the_losses_of_one_thread(tmp_path: Path, tiny_text: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "tiny.txt"
    text.write_text(tiny_text * 2, encoding="utf-8")
    tables = []
    for extra in (["--threads", "1"], ["--jobs", "2"]):
        main(["--quick", "--core", "--seeds", "1", "--path", str(text), "--out", str(tmp_path),
              *extra])
        out = capsys.readouterr().out
        tables.append([line.split("|")[3] for line in out.splitlines()
                       if line.startswith("| ") and "same seconds" not in line][1:])
    assert tables[0] == tables[1] and len(tables[0]) == len(ROWS) - 3


def test_newton_schulz_mode_prints_the_worked_example_and_draws(
        tmp_path: Path, tiny_text: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "tiny.txt"
    text.write_text(tiny_text * 2, encoding="utf-8")
    main(["--quick", "--newton-schulz", "--path", str(text), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "s = (0.9994, 0.0333)" in out and "after step 5: (0.6970, 1.1288)" in out
    assert "newton_schulz(G) = diag(0.6970, 1.1288)" in out  # the function agrees with the map
    assert "transformer.h.0.attn.c_attn.weight" in out and "| model |" not in out
    assert (tmp_path / "newton_schulz.png").is_file()


@pytest.mark.parametrize(("mode", "flags", "named"), [
    ("--newton-schulz", ["--seeds", "3", "--jobs", "2", "--core", "--lr", "0.01"],
     "--seeds, --lr, --core, --jobs"),
    ("--newton-schulz", ["--steps", "5"], "--steps"),  # not the warmup check's complaint
    ("--norms", ["--muon-lr", "0.05"], "--muon-lr"),
    ("--norms", ["--path", "any.txt"], "--path")])
def test_the_one_off_modes_refuse_the_flags_of_a_run(mode: str, flags: list[str], named: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(main, [mode, *flags], capsys)
    assert f"{mode} trains nothing, so it does not use {named}: leave" in line


def test_the_two_modes_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(main, ["--newton-schulz", "--norms"], capsys)
    assert "not allowed with argument" in line


def test_norms_mode_times_the_three_norms(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--norms", "--quick"])
    out = capsys.readouterr().out
    assert "| norm | ms per pass (median) | fastest-slowest (ms) | time / LayerNorm's |" in out
    assert "| nn.LayerNorm (one fused kernel) |" in out and "| 1.00x |" in out
    assert "| our RMSNorm (six plain operations) |" in out
    assert "| PyTorch's nn.RMSNorm (F.rms_norm) |" in out or "has no nn.RMSNorm" in out
    assert "(4, 16, 16)" in out  # --quick's batch, context and width


def test_a_bare_run_uses_one_thread_as_the_published_table_did() -> None:
    assert build_parser().parse_args([]).threads == 1


def test_a_run_that_blows_up_is_named_in_one_line(tmp_path: Path, tiny_text: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "tiny.txt"
    text.write_text(tiny_text * 2, encoding="utf-8")
    line = refused(main, ["--quick", "--lr", "1e9", "--path", str(text), "--out",
                          str(tmp_path)], capsys, code=1)
    assert "GPT-2 (phase 07), seed 1337" in line and "try a smaller --lr" in line


def test_a_warmup_longer_than_the_run_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(main, ["--steps", "40"], capsys)
    assert "--warmup 50 is longer than the run" in line


def test_verdict_waits_for_a_gap_larger_than_the_seeds_spread() -> None:
    assert verdict(-0.138, [1.606, 1.614], [1.745, 1.751]) == "better"
    assert verdict(-0.003, [1.606, 1.614], [1.609, 1.617]).startswith("within the seeds'")
    assert verdict(0.05, [1.7, 1.7], [1.65, 1.65]) == "worse"
    assert verdict(-0.1, [1.6], [1.7]).startswith("one seed")


def test_no_positions_follows_the_model_s_dtype() -> None:
    model = ModernGPT(ModernConfig(**SMALL, rope=True, rmsnorm=True)).to(torch.bfloat16)
    ids = torch.zeros(1, 5, dtype=torch.long)
    logits, loss = model(ids, ids)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    assert "like" not in "".join(model.state_dict())  # nothing new in a checkpoint


def test_jobs_refuses_another_thread_count(capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(main, ["--quick", "--jobs", "2", "--threads", "2"], capsys)
    assert "--jobs runs every training on one thread" in line


def test_an_untied_head_adds_parameters_but_no_flops() -> None:
    tied = ModernGPT(ModernConfig(**SMALL, bias=False))
    untied = ModernGPT(ModernConfig(**SMALL, bias=False, untied=True))
    assert untied.n_params() == tied.n_params() + SMALL["vocab_size"] * SMALL["n_embd"]
    assert untied.flops_per_token() == tied.flops_per_token()
