"""The device helper, with the machine's hardware faked: MPS present, CUDA present, neither,
a device forced by flag or by environment variable, unknown and unavailable names."""

import platform

import pytest
import torch

from phase06 import device as dev
from phase06.device import (
    DEVICE_CHOICES,
    autocast_dtype,
    describe_device,
    memory_report,
    mps_fallback_enabled,
    pick_device,
    synchronize,
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> "Fake":
    """Set which accelerators PyTorch reports; the environment starts clean."""
    monkeypatch.delenv("TFS_DEVICE", raising=False)
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK", raising=False)
    return Fake(monkeypatch)


class Fake:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def __call__(self, mps: bool, cuda: bool) -> None:
        self.monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        self.monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)


def test_choices_are_the_flag_choices() -> None:
    assert DEVICE_CHOICES == ("auto", "cpu", "cuda", "mps")


@pytest.mark.parametrize("mps, cuda, expected", [(True, False, "mps"), (False, True, "cuda"),
                                                 (True, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_mps_then_cuda_then_cpu(fake: Fake, mps: bool, cuda: bool,
                                              expected: str) -> None:
    fake(mps, cuda)
    assert pick_device() == torch.device(expected)
    assert pick_device("auto") == torch.device(expected)


def test_flag_forces_a_device(fake: Fake) -> None:
    fake(mps=True, cuda=True)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("cuda") == torch.device("cuda")


def test_environment_variable_overrides_auto_only(fake: Fake,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake(mps=True, cuda=True)
    monkeypatch.setenv("TFS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("mps") == torch.device("mps")  # an explicit flag wins
    monkeypatch.setenv("TFS_DEVICE", "CUDA")
    assert pick_device() == torch.device("cuda")


def test_unknown_names_list_the_valid_ones(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake(mps=False, cuda=False)
    with pytest.raises(ValueError, match="auto, cpu, cuda, mps"):
        pick_device("gpu")
    monkeypatch.setenv("TFS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="TFS_DEVICE"):
        pick_device()


def test_unavailable_device_says_what_is_available(fake: Fake) -> None:
    fake(mps=False, cuda=True)
    with pytest.raises(RuntimeError, match="'mps'.*not available.*available: cuda, cpu"):
        pick_device("mps")
    fake(mps=False, cuda=False)
    with pytest.raises(RuntimeError, match="available: cpu"):
        pick_device("cuda")


def test_device_script_refuses_a_missing_device_before_printing_anything(
        fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    from phase06.device import main
    fake(mps=False, cuda=False)
    with pytest.raises(SystemExit) as stop:
        main(["--device", "cuda"])
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and "available: cpu" in err and out == ""


def test_mps_fallback_is_announced(fake: Fake, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    fake(mps=True, cuda=False)
    assert not mps_fallback_enabled()
    pick_device()
    assert "FALLBACK" not in capsys.readouterr().out
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    assert mps_fallback_enabled()
    assert pick_device() == torch.device("mps")
    assert "PYTORCH_ENABLE_MPS_FALLBACK=1" in capsys.readouterr().out


def test_memory_report_per_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = memory_report("cpu")
    assert set(cpu) <= {"max_rss"} and all(v > 0 for v in cpu.values())
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 100)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 300)
    assert memory_report("mps") == {"current_allocated_memory": 100,
                                    "driver_allocated_memory": 300}
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 7)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 9)
    assert memory_report("cuda") == {"memory_allocated": 7, "max_memory_allocated": 9}


def test_synchronize_waits_on_the_right_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    synchronize("cpu")
    synchronize(torch.device("cuda"))
    synchronize("mps")
    assert calls == ["cuda", "mps"]


def test_autocast_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    assert autocast_dtype("cpu") == torch.float32
    assert autocast_dtype("cpu", cpu_bf16=True) == torch.bfloat16
    for native, emulated, expected in ((True, True, torch.bfloat16),  # Ampere and later
                                       (False, True, torch.float32),  # T4, V100: emulation only
                                       (False, False, torch.float32)):
        def is_bf16_supported(including_emulation: bool = True, native: bool = native,
                              emulated: bool = emulated) -> bool:
            return native or (including_emulation and emulated)  # torch's own rule

        monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
        assert autocast_dtype("cuda") == expected
    monkeypatch.setattr(platform, "mac_ver", lambda: ("14.5", ("", "", ""), "arm64"))
    assert autocast_dtype("mps") == torch.bfloat16  # this torch is >= 2.6
    monkeypatch.setattr(dev, "_torch_version", lambda: (2, 5))
    assert autocast_dtype("mps") == torch.float32
    monkeypatch.setattr(dev, "_torch_version", lambda: (2, 6))
    monkeypatch.setattr(platform, "mac_ver", lambda: ("13.6", ("", "", ""), "arm64"))
    assert autocast_dtype("mps") == torch.float32


def test_describe_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert describe_device("cpu").startswith("cpu:")
    monkeypatch.setattr(platform, "mac_ver", lambda: ("15.1", ("", "", ""), "arm64"))
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    text = describe_device("mps")
    assert text.startswith("mps:") and "15.1" in text and "fallback" in text


def test_main_refuses_an_unavailable_device(fake: Fake,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    fake(mps=False, cuda=False)
    with pytest.raises(SystemExit) as stop:
        dev.main(["--device", "mps"])
    assert stop.value.code == 2 and "available: cpu" in capsys.readouterr().err


def test_main_times_with_and_without_synchronize(capsys: pytest.CaptureFixture[str]) -> None:
    dev.main(["--device", "cpu", "--size", "64", "--repeats", "2"])
    out = capsys.readouterr().out
    assert "with synchronize" in out and "without synchronize" in out and "max_rss" in out
