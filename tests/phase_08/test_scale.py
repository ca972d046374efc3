"""Phase 08, part 2: GPT-2 small's preset, the budget planner, HellaSwag, the device self-check,
DDP on two CPU processes, and streaming preparation from a local FineWeb-Edu-shaped dataset."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

import phase07.model as model_module
from phase07.model import GPT, GPTConfig
from phase08 import budget, hellaswag
from phase08.config import PRESETS, make_config
from phase08.device_checks import Check, choose_dtype, self_check
from phase08.distributed import World, backend_for, leave, stop, world_from_environment
from phase08.loader import BatchLoader, TokenShards
from phase08.prepare_data import hf_documents, make_codec, prepare_local, prepare_stream
from phase08.runfolder import RunFolderError
from phase08.train import accumulate_gradients, build_model, load_checkpoint, read_log, train

CPU = torch.device("cpu")


# --- GPT-2 small's preset and the planner -----------------------------------------------------

def test_gpt2_124m_preset_builds_and_takes_a_micro_step() -> None:
    cfg = make_config("gpt2-124m")
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context) == (12, 12, 768, 1024)
    assert cfg.micro_batch * cfg.grad_accum * cfg.context == 524_288  # ~0.5M tokens per step
    torch.manual_seed(0)
    model = build_model(cfg, 50_257)
    assert model.n_params() == 124_439_808
    x = torch.randint(0, 50_257, (1, 16))  # a short context: one micro-step on a CPU
    _, loss = model(x, x.roll(-1, dims=1))
    loss.backward()
    # ln(50,257) = 10.82, plus about var(logits) / 2 = 0.15: tied logits at init have a spread
    # of about 0.02 * sqrt(768) = 0.55, which costs a little over uniform guessing
    assert loss.item() == pytest.approx(math.log(50_257) + 0.15, abs=0.15)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_planner_known_case() -> None:
    # GPT-2 small: 6 x 123,653,376 + 12 x 12 x 768 x 1024 FLOPs per token
    assert budget.GPT2_SMALL.flops_per_token() == 6 * 123_653_376 + 113_246_208 == 855_166_464
    with torch.device("meta"):  # the same count as phase 07's model, without allocating it
        gpt = GPT(GPTConfig())
    assert budget.GPT2_SMALL.n_params() == gpt.n_params() == 124_439_808
    assert budget.GPT2_SMALL.flops_per_token() == gpt.flops_per_token(1024)
    # 5,000 tokens/s for 24 hours: 432M tokens, 6,591 whole steps of 65,536
    p = budget.plan(budget.GPT2_SMALL, 24, 5_000)
    assert (p.steps, p.tokens) == (6_591, 6_591 * 65_536)
    assert budget.days_for(10e9, 5_000) == pytest.approx(23.148, abs=1e-3)
    assert budget.sustained_flops(5_000) == pytest.approx(4.276e12, rel=1e-3)
    assert budget.chinchilla_params(120 * 1e16) == pytest.approx(1e8)
    with pytest.raises(ValueError, match="positive"):
        budget.plan(budget.GPT2_SMALL, 0, 5_000)


def test_mac_presets_are_the_planned_runs() -> None:
    for name, p in budget.mac_plans().items():
        cfg = make_config(name)
        assert cfg.steps == p.steps
        assert cfg.micro_batch * cfg.grad_accum * cfg.context == p.tokens_per_step
        assert (cfg.n_layer, cfg.n_embd) == (p.shape.n_layer, p.shape.n_embd)
        assert not cfg.compile  # compile stays off on MPS
    assert set(budget.mac_plans()) <= set(PRESETS)


def test_planner_prints_the_corrected_claim(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    budget.main(["--out", str(tmp_path)])  # never into the repository's scratch folder
    out = capsys.readouterr().out
    assert "23.1 days, not 24-72 hours" in out
    assert "| 24 | 0.43B | 3.5 | 6,591 |" in out


# --- HellaSwag ------------------------------------------------------------------------------

# A unigram "model": the same next-token distribution at every position, so each ending's
# loss is a sum of -log p over its characters, computable by hand.
PROBS = {" ": 0.1, "a": 0.5, "b": 0.25, "c": 0.1, ".": 0.05}


class Unigram(torch.nn.Module):
    def __init__(self, chars: list[str]) -> None:
        super().__init__()
        self.config = SimpleNamespace(context=64)
        self.log_p = torch.log(torch.tensor([PROBS[c] for c in chars]))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.log_p.expand(*idx.shape, -1)


def hellaswag_line(ind: int, ctx: str, endings: list[str], label: int) -> str:
    """One line in HellaSwag's own format (the fields of hellaswag_val.jsonl)."""
    return json.dumps({"ind": ind, "activity_label": "Testing", "ctx_a": ctx, "ctx_b": "",
                       "ctx": ctx, "split": "val", "split_type": "indomain", "label": label,
                       "endings": endings, "source_id": f"test~{ind}"})


@pytest.fixture
def hellaswag_file(tmp_path: Path) -> Path:
    path = tmp_path / "hellaswag_val.jsonl"
    path.write_text("\n".join([
        # sums: " a" 2.996, " aa" 3.689, " c" 4.605, " b" 3.689 -> acc picks 0 (wrong);
        # means: 1.498, 1.230, 2.303, 1.845 -> acc_norm picks 1 (right)
        hellaswag_line(0, "ab", ["a", "aa", "c", "b"], 1),
        # " a" is the cheapest both ways -> both right
        hellaswag_line(1, "b", ["c", "b", "a", "."], 2),
        # sums: " b." 6.685, " c" 4.605, " aaaa" 5.075, " a" 2.996 -> acc picks 3 (wrong);
        # means: 2.228, 2.303, 1.015, 1.498 -> acc_norm picks 2 (wrong too)
        hellaswag_line(2, "a", ["b.", "c", "aaaa", "a"], 0),
    ]) + "\n", encoding="utf-8")
    return path


def test_hellaswag_scores_a_sample_file_as_computed_by_hand(hellaswag_file: Path) -> None:
    chars = sorted(PROBS)
    codec = make_codec({"name": "char", "chars": chars, "vocab_size": len(chars)})
    examples = hellaswag.read_examples(hellaswag_file)
    counts = hellaswag.evaluate(Unigram(chars), codec, examples, CPU)
    assert counts == {"n": 3, "correct": 1, "correct_norm": 2}
    assert hellaswag.accuracy(counts) == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    # one example at a time or several padded together: the same answers
    for batch_examples in (1, 2):
        assert hellaswag.evaluate(Unigram(chars), codec, examples, CPU,
                                  batch_examples=batch_examples) == counts
    # two ranks score disjoint halves whose counts add up to the whole
    halves = [hellaswag.evaluate(Unigram(chars), codec, examples, CPU, rank=r, world=2)
              for r in (0, 1)]
    assert {k: halves[0][k] + halves[1][k] for k in counts} == counts
    # the ending's losses, one by one, against the hand numbers
    tokens, mask = hellaswag.render(examples[0], codec, 64)
    total, mean = hellaswag.ending_losses(Unigram(chars), tokens, mask)
    expected_sums = [-math.log(0.1) - math.log(0.5), -math.log(0.1) - 2 * math.log(0.5),
                     -2 * math.log(0.1), -math.log(0.1) - math.log(0.25)]
    torch.testing.assert_close(total, torch.tensor(expected_sums), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mean, torch.tensor(expected_sums) / torch.tensor([2, 3, 2, 2]))


# A bigram "model": the next token's distribution depends on the current one, so a loss read
# from the wrong position (no shift, or the mask not shifted with it) gives other numbers.
NEXT = {"a": {"a": 0.1, "b": 0.6, " ": 0.2, "c": 0.05, ".": 0.05},
        "b": {" ": 0.5, "a": 0.2, "b": 0.1, "c": 0.1, ".": 0.1},
        " ": {"a": 0.4, "b": 0.1, "c": 0.4, " ": 0.05, ".": 0.05},
        "c": {"a": 0.3, "b": 0.3, "c": 0.1, " ": 0.2, ".": 0.1},
        ".": {" ": 0.6, "a": 0.1, "b": 0.1, "c": 0.1, ".": 0.1}}


class Bigram(torch.nn.Module):
    def __init__(self, chars: list[str]) -> None:
        super().__init__()
        self.config = SimpleNamespace(context=64)
        self.log_p = torch.log(torch.tensor([[NEXT[a][b] for b in chars] for a in chars]))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.log_p[idx]  # (B, L, V): row t scores the token at t + 1


def test_hellaswag_ending_losses_read_each_token_from_the_position_before_it() -> None:
    """Context "ab"; each ending's tokens scored by the logits one position earlier: " aa" is
    P(" " | b) P(a | " ") P(a | a) = 0.5 x 0.4 x 0.1, and so on (the context's own b | a does
    not count). A unigram model cannot tell a missing shift; this one can."""
    chars = sorted(NEXT)
    codec = make_codec({"name": "char", "chars": chars, "vocab_size": len(chars)})
    example = json.loads(hellaswag_line(0, "ab", ["aa", "b", "c.", "ab"], 3))
    tokens, mask = hellaswag.render(example, codec, 64)
    total, mean = hellaswag.ending_losses(Bigram(chars), tokens, mask)
    ln = math.log
    expected = [-ln(0.5) - ln(0.4) - ln(0.1), -ln(0.5) - ln(0.1), -ln(0.5) - ln(0.4) - ln(0.1),
                -ln(0.5) - ln(0.4) - ln(0.6)]  # 3.912, 2.996, 3.912, 2.120 nats
    torch.testing.assert_close(total, torch.tensor(expected), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mean, torch.tensor(expected) / torch.tensor([3, 2, 3, 3]))
    counts = hellaswag.evaluate(Bigram(chars), codec, [example], CPU)
    assert counts == {"n": 1, "correct": 1, "correct_norm": 1}  # " ab" is the cheapest


def test_hellaswag_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="raw.githubusercontent.com/rowanz/hellaswag"):
        hellaswag.hellaswag_file("val", tmp_path / "hs", download=True)  # no network in tests
    assert not list((tmp_path / "hs").glob("*"))  # nothing half-written
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"ctx": "x", "endings": ["a", "b"], "label": 0}) + "\n")
    with pytest.raises(ValueError, match="4 endings"):
        hellaswag.read_examples(bad)
    bad.write_text(json.dumps({"ctx": "x"}) + "\n")
    with pytest.raises(ValueError, match="missing"):
        hellaswag.read_examples(bad)


def test_hellaswag_during_training_is_logged(tmp_path: Path, book: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "tokens" / "book-gpt2"
    prepare_local([book], "gpt2", folder, "a made-up book", verbose=False, download=False)
    hs_dir = tmp_path / "hellaswag"
    hs_dir.mkdir()
    (hs_dir / "hellaswag_val.jsonl").write_text("\n".join(
        hellaswag_line(i, "The cat sat on the", ["mat.", "moon and sang.", "dog.", "roof."], 0)
        for i in range(4)) + "\n")
    monkeypatch.setattr(hellaswag, "HELLASWAG_DIR", hs_dir)
    cfg = make_config("cpu-smoke", {"data": str(folder), "tokenizer": "gpt2", "steps": 4,
                                    "warmup": 1, "eval_every": 2, "hellaswag_every": 2,
                                    "sample_tokens": 0})
    train(cfg, tmp_path / "run", offline=True, verbose=False)
    scores = [r for r in read_log(tmp_path / "run" / "log.jsonl") if r["kind"] == "hellaswag"]
    assert [r["step"] for r in scores] == [2, 4]
    assert all(r["n"] == 4 and 0 <= r["acc_norm"] <= 1 for r in scores)
    with pytest.raises(ValueError, match="tokenizer=gpt2"):
        train(make_config("cpu-smoke", {"data": str(folder), "hellaswag_every": 2}),
              tmp_path / "run2", offline=True, verbose=False)


# --- the device self-check --------------------------------------------------------------------

def small_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, context=32, n_layer=2, n_head=2, n_embd=16))


def leaky_attention(real):  # noqa: ANN001, ANN201 (a test double)
    """scaled_dot_product_attention that ignores is_causal: future tokens leak into the past."""
    def leak(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):  # noqa: ANN001, ANN202
        return real(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=False)
    return leak


def test_self_check_passes_on_a_sound_device() -> None:
    path, micro_batch, checks = self_check(small_gpt(), CPU, torch.float32, 8, say=lambda s: None)
    assert (path, micro_batch) == ("fast", 8)
    assert len(checks) == 3 and all(c.ok for c in checks)


def test_self_check_falls_back_when_the_fast_path_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    real = model_module.F.scaled_dot_product_attention
    monkeypatch.setattr(model_module.F, "scaled_dot_product_attention", leaky_attention(real))
    said: list[str] = []
    model = small_gpt()
    path, micro_batch, checks = self_check(model, CPU, torch.float32, 8, say=said.append)
    assert path == "hand" and micro_batch == 8
    assert not checks[0].ok  # the full window sees the leak
    assert all(block.attn.attention == "hand" for block in model.transformer.h)
    assert any("HAND path" in line for line in said)


def test_self_check_shrinks_a_micro_batch_whose_head_is_wrong() -> None:
    def wrong_when_large(x, weight, device, dtype):  # noqa: ANN001, ANN202
        out = x @ weight.T
        return out + 1.0 if x.shape[0] > 2 * 32 else out  # wrong above 2 sequences of 32

    path, micro_batch, checks = self_check(small_gpt(), CPU, torch.float32, 8,
                                           say=lambda s: None, project=wrong_when_large)
    assert (path, micro_batch) == ("fast", 2)
    assert [c.ok for c in checks[2:]] == [False, False, True]  # 8, then 4, then 2


def test_choose_dtype_takes_bfloat16_only_when_measured_faster() -> None:
    def timer(times):  # noqa: ANN001, ANN202
        return lambda model, device, dtype, micro_batch: times[dtype]
    said: list[str] = []
    slow = {torch.float32: 1.0, torch.bfloat16: 0.97}  # 3% faster: not enough
    assert choose_dtype(small_gpt(), CPU, 2, said.append, timer(slow)) == torch.float32
    fast = {torch.float32: 1.0, torch.bfloat16: 0.80}
    assert choose_dtype(small_gpt(), CPU, 2, said.append, timer(fast)) == torch.bfloat16
    assert "float32 1000 ms, bfloat16 autocast 970 ms" in said[0]


def test_a_run_with_a_leaky_fast_path_trains_on_the_hand_path(
        char_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = model_module.F.scaled_dot_product_attention
    monkeypatch.setattr(model_module.F, "scaled_dot_product_attention", leaky_attention(real))
    cfg = make_config("cpu-smoke", {"data": str(char_data), "steps": 2, "warmup": 1,
                                    "sample_tokens": 0, "self_check": "on"})
    result = train(cfg, tmp_path / "run", verbose=False)
    assert result["config"].attention == "hand"
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["attention"] == "hand"


def test_check_repr_and_nan() -> None:
    assert not Check("x", float("nan"), 1e-3).ok
    assert "DIFFERENT" in str(Check("x", 1.0, 1e-3))


# --- several processes ----------------------------------------------------------------------

def test_world_comes_from_torchrun_variables() -> None:
    assert world_from_environment({}) == World()
    assert world_from_environment({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}) == \
        World(1, 1, 2)
    with pytest.raises(ValueError, match="not in 0..WORLD_SIZE-1"):
        world_from_environment({"RANK": "2", "WORLD_SIZE": "2"})
    assert backend_for("cuda") == "nccl" and backend_for("cpu") == "gloo"
    with pytest.raises(ValueError, match="no NCCL on a Mac"):
        backend_for("mps")


def smoke_2x(data: Path, micro_batch: int) -> dict:
    return {"data": str(data), "steps": 3, "warmup": 1, "micro_batch": micro_batch,
            "grad_accum": 2, "eval_every": 3, "sample_tokens": 0, "device": "cpu",
            "threads": 1}


def ddp_worker(rank: int, world_size: int, init_file: str, data: str, out: str) -> None:
    """One rank of the 2-process test (a spawned process: it starts from a fresh interpreter)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)
    world = World(rank, rank, world_size)
    # 1. no_sync: count the all-reduces of one accumulated step, with and without it
    calls = []
    for use_no_sync in (True, False):
        ddp = torch.nn.parallel.DistributedDataParallel(small_gpt().double())
        count = [0]

        def hook(state, bucket, count=count):  # noqa: ANN001, ANN202
            count[0] += 1
            return allreduce_hook(state, bucket)

        ddp.register_comm_hook(dist.group.WORLD, hook)
        loader = BatchLoader(TokenShards(Path(data)), 2, 32, rank, world_size)
        accumulate_gradients(ddp, loader, 3, CPU, torch.float32,
                             ddp.no_sync if use_no_sync else None)
        calls.append(count[0])
        if use_no_sync and rank == 0:  # the averaged gradient every rank now holds
            torch.save([p.grad for p in ddp.module.parameters()], Path(out) / "grads.pt")
    # 2. a whole training run on two ranks, micro-batch 2 each
    cfg = make_config("cpu-smoke", smoke_2x(Path(data), 2))
    train(cfg, Path(out) / "ddp", verbose=False, world=world)
    # 3. a new run into that folder is refused on every rank (none waits for a partner that left)
    try:
        train(cfg, Path(out) / "ddp", verbose=False, world=world)
        refused = "no"
    except RunFolderError as err:
        refused = str(err)
    (Path(out) / f"refused{rank}.txt").write_text(refused)
    (Path(out) / f"calls{rank}.json").write_text(json.dumps(calls))
    stop()
    leave(world)  # skips a gloo shutdown crash of some PyTorch releases (distributed.leave)


def test_two_ddp_processes_take_the_same_step_as_one_on_the_combined_batch(
        char_data: Path, tmp_path: Path) -> None:
    mp.spawn(ddp_worker, args=(2, str(tmp_path / "init"), str(char_data), str(tmp_path)),
             nprocs=2, join=True)
    # one process, micro-batch 4: the same 4 sequences per micro-step as 2 ranks x 2
    single = train(make_config("cpu-smoke", smoke_2x(char_data, 4)), tmp_path / "one",
                   verbose=False)
    # the gradient of one accumulated step, in float64: 2 ranks x 2 sequences == 1 x 4
    model = small_gpt().double()
    accumulate_gradients(model, BatchLoader(TokenShards(char_data), 4, 32), 3, CPU)
    for averaged, alone in zip(torch.load(tmp_path / "grads.pt"), model.parameters(),
                               strict=True):
        torch.testing.assert_close(averaged, alone.grad, rtol=0, atol=1e-12)
    # three whole training steps in float32: the same weights, up to float32 round-off (Adam
    # divides each gradient by its own size, so entries whose gradient is almost 0 may differ
    # by up to ~1e-5 after three steps of lr 3e-3: 1/300 of one step)
    both = load_checkpoint(tmp_path / "ddp" / "last.pt")
    one = load_checkpoint(tmp_path / "one" / "last.pt")
    assert both["step"] == one["step"] == 3
    difference = torch.cat([(both["model"][name] - weight).abs().flatten()
                            for name, weight in one["model"].items()])
    assert difference.max() < 3e-5 and (difference > 1e-6).float().mean() < 0.01
    assert both["val_loss"] == pytest.approx(single["val_loss"], abs=1e-5)
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in both["model"])
    # rank 0 alone wrote the log; the all-reduce ran once per step with no_sync, 3x without
    assert len([r for r in read_log(tmp_path / "ddp" / "log.jsonl") if r["kind"] == "step"]) == 3
    for rank in (0, 1):
        with_no_sync, without = json.loads((tmp_path / f"calls{rank}.json").read_text())
        assert with_no_sync > 0 and without == 3 * with_no_sync
    for rank in (0, 1):  # every rank looked at the folder, and every rank stopped
        assert "already holds a run" in (tmp_path / f"refused{rank}.txt").read_text()
    # the checkpoint says 2 processes x 2 x 2 x 32 tokens: one process must keep that per step
    assert (both["world_size"], both["tokens_per_step"]) == (2, 256)
    with pytest.raises(RunFolderError, match="trained by 2 process.*--grad-accum 4"):
        train(None, tmp_path / "ddp", resume=tmp_path / "ddp" / "last.pt", verbose=False)


# --- streaming preparation ----------------------------------------------------------------

def test_streaming_preparation_of_a_local_fineweb_edu_shaped_dataset(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    texts = [f"Document {i}: plants make sugar from light, water and air. " * (i + 1)
             for i in range(12)]
    # FineWeb-Edu's columns, in a folder laid out as its sample-10BT config is
    rows = {"text": texts, "id": [f"<urn:uuid:{i}>" for i in range(12)],
            "dump": ["CC-MAIN-2024-10"] * 12,
            "url": [f"https://example.org/{i}" for i in range(12)],
            "file_path": ["s3://x"] * 12, "language": ["en"] * 12,
            "language_score": [0.95] * 12, "token_count": [len(t) // 4 for t in texts],
            "score": [3.2] * 12, "int_score": [3] * 12}
    shard = tmp_path / "fineweb-edu" / "sample" / "10BT" / "000_00000.parquet"
    shard.parent.mkdir(parents=True)
    pq.write_table(pa.table(rows), shard)
    docs = hf_documents(str(tmp_path / "fineweb-edu"), None, "train", "text")
    folder = tmp_path / "tokens" / "fineweb-gpt2"
    meta = prepare_stream(docs, folder, "a local FineWeb-Edu sample", val_tokens=100,
                          max_tokens=600, verbose=False, download=False)
    codec = make_codec(meta["tokenizer"], download=False)
    val, train_split = TokenShards(folder, "val"), TokenShards(folder, "train")
    assert len(val) >= 100 and len(val) + len(train_split) >= 600
    first = val.read(0, 40).tolist()
    assert first[0] == codec.eot  # every document opens with <|endoftext|>
    assert codec.decode(first[1:]).startswith("Document 0: plants make sugar")
    with pytest.raises(KeyError, match="no field 'content'"):
        next(hf_documents(str(tmp_path / "fineweb-edu"), None, "train", "content"))


# --- the part-2 scripts, end to end -------------------------------------------------------------

def test_part2_scripts_run(tmp_path: Path, book: str, capsys: pytest.CaptureFixture[str],
                           hellaswag_file: Path) -> None:
    from phase08 import benchmark, device_checks, distributed

    benchmark.main(["--quick", "--threads", "1", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "| eager, float32 |" in out and "warm-up" in out
    device_checks.main(["--device", "cpu", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
                        "--context", "32", "--vocab", "50", "--micro-batch", "2"])
    out = capsys.readouterr().out
    assert "all agree: attention path 'fast', micro-batch 2" in out
    distributed.main([])  # one process: it says how to start two
    assert "torchrun --standalone --nproc_per_node=2" in capsys.readouterr().out
    # HellaSwag on a checkpoint trained on GPT-2 tokens, from a local copy of the file
    folder = tmp_path / "tokens" / "book-gpt2"
    prepare_local([book], "gpt2", folder, "a made-up book", verbose=False, download=False)
    cfg = make_config("cpu-smoke", {"data": str(folder), "tokenizer": "gpt2", "steps": 2,
                                    "warmup": 1, "sample_tokens": 0})
    train(cfg, tmp_path / "run", offline=True, verbose=False)
    hellaswag.main(["--checkpoint", str(tmp_path / "run" / "last.pt"), "--path",
                    str(hellaswag_file), "--device", "cpu", "--offline"])
    out = capsys.readouterr().out
    assert "3 HellaSwag examples" in out and "acc_norm" in out
