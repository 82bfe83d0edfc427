"""One reader of /proc/cpuinfo, and the cache folder from platformdirs."""

from __future__ import annotations

from pathlib import Path

from mosi_tool import cache, hardware
from mosi_tool.runtimes.cpu import cpu_info

TWO_CPUS = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model name\t: AMD EPYC 7B13
cpu MHz\t\t: 2450.000
flags\t\t: fpu avx2 fma

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: other
flags\t\t: fpu
"""


def test_parse_cpuinfo_reads_the_first_processor():
    fields = hardware.parse_cpuinfo(TWO_CPUS)
    assert fields["model name"] == "AMD EPYC 7B13"
    assert fields["flags"].split() == ["fpu", "avx2", "fma"]
    assert fields["cpu family"] == "25" and fields["cpu MHz"] == "2450.000"


def test_runtime_cpu_facts_come_from_the_one_reader(monkeypatch):
    monkeypatch.setattr(hardware, "cpuinfo", lambda: hardware.parse_cpuinfo(TWO_CPUS))
    cpu_info.cache_clear()
    try:
        cpu = cpu_info()
        assert (cpu.name, cpu.vendor, cpu.family, cpu.mhz) == ("AMD EPYC 7B13", "AuthenticAMD", 25, 2450.0)
        assert cpu.flags == hardware.cpu_flags() == frozenset({"fpu", "avx2", "fma"})
        assert hardware.cpu_name() == "AMD EPYC 7B13"
    finally:
        cpu_info.cache_clear()


def test_cache_root_follows_the_platform_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("MOSI_TOOL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_root() == tmp_path / "mosi-tool"
    monkeypatch.setenv("MOSI_TOOL_CACHE", str(tmp_path / "mine"))
    assert cache.cache_root() == Path(tmp_path / "mine")
