"""tga_keras.runtime.machine: the CPU's name, SIMD flags and class from /proc/cpuinfo."""

import pytest

from tga_keras.runtime import machine


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse4_2 avx avx2 fma", "AVX2"),
        ("sse4_2 avx avx2 avx512f avx512bw", "AVX-512"),
        ("avx2 avx512f avx512_vnni", "AVX512-BF16/VNNI"),
        ("avx2 avx512f avx512_bf16 amx_tile amx_bf16", "AMX"),
        ("fp asimd asimddp", "ARM"),
        ("fpu sse4_2", "older x86"),
        ("", "unknown"),
    ],
)
def test_class_from_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("Test CPU", frozenset(flags.split())))
    assert machine.cpu_class() == expected
    assert all(f in flags.split() for f in machine.cpu_flags())
    assert machine.describe_cpu().startswith(f"Test CPU ({expected}")


def test_this_machine_reads():
    assert machine.cpu_name()
    assert isinstance(machine.cpu_flags(), tuple)
