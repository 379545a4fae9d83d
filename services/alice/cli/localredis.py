"""A private redis-server for a command's run (benches): on a free loopback port, no persistence, stopped after."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from alice.cli.mesh import free_port
from alice.errors import ConfigError


@contextmanager
def private_redis(given: str | None = None, purpose: str = "this command") -> Iterator[str]:
    """``given`` (a Redis URL) when set, else the URL of a redis-server started for the run; a clear
    :class:`ConfigError` when none is installed or it does not start."""
    if given:
        yield given
        return
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError(
            f"{purpose} needs Redis: set REDIS_URL or install redis-server (apt-get install redis-server)"
        )
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 (a fixed command)
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise ConfigError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
