"""One line describing the machine a benchmark ran on (every benchmark prints it)."""

from __future__ import annotations

import os
import platform
import sys


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """CPU, cores, GPU and library versions; torch is described only if the benchmark loaded it."""
    parts = [f"{cpu_name()}, {os.cpu_count()} logical CPUs", f"{platform.system()} {platform.release()}",
             f"Python {platform.python_version()}"]
    torch = sys.modules.get("torch")
    if torch is not None:
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}")
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        parts.append(f"numpy {numpy.__version__}")
    parts.append(f"load average {os.getloadavg()[0]:.1f}")
    return ", ".join(parts)
