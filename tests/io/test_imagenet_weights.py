import pytest
import torch

from crossspec.errors import CrossspecError
from crossspec.io import imagenet_weights as iw


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    for name in iw.TRUNKS["vgg16"].env:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"


def test_lookup_order_path_env_hub(tmp_path, hub, monkeypatch):
    f = tmp_path / "mine.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, f)
    with pytest.raises(CrossspecError) as info:
        iw.resolve_trunk_weights("vgg16")
    assert str(hub) in str(info.value) and "CROSSSPEC_VGG16" in str(info.value) and "download" in str(info.value)
    hub.parent.mkdir(parents=True)
    hub.write_bytes(f.read_bytes())
    assert iw.resolve_trunk_weights("vgg16") == hub
    monkeypatch.setenv("CROSSSPEC_VGG16", str(f))
    assert iw.resolve_trunk_weights("vgg16") == f
    monkeypatch.setenv("CROSSSPEC_VGG16", str(tmp_path / "typo.pth"))
    with pytest.raises(CrossspecError, match=r"typo.pth: .*\$CROSSSPEC_VGG16"):
        iw.resolve_trunk_weights("vgg16")
    with pytest.raises(CrossspecError, match="nope.pth: ImageNet vgg16 weights not found"):
        iw.resolve_trunk_weights("vgg16", tmp_path / "nope.pth")


def test_nothing_downloads_unless_asked(hub, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        torch.save({"features.0.weight": torch.zeros(1)}, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    with pytest.raises(CrossspecError):
        iw.resolve_trunk_weights("vgg16")
    assert calls == []
    assert iw.resolve_trunk_weights("vgg16", download=True) == hub
    # torchvision's hash prefix is checked by the download
    assert calls == [("https://download.pytorch.org/models/vgg16-397923af.pth", "397923af")]


def test_failed_download_is_one_clear_error(hub, monkeypatch):
    def bad(url, dst, hash_prefix=None, progress=True):
        raise RuntimeError('invalid hash value (expected "397923af", got "deadbeef")')

    monkeypatch.setattr(torch.hub, "download_url_to_file", bad)
    with pytest.raises(CrossspecError, match="vgg16-397923af.pth: download .* failed: invalid hash"):
        iw.resolve_trunk_weights("vgg16", download=True)


def test_features_state_strips_prefix_and_rejects_other_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({"state_dict": {"features.0.weight": torch.ones(2), "classifier.0.bias": torch.ones(1)}}, good)
    assert list(iw.load_features_state(good)) == ["0.weight"]
    other = tmp_path / "other.pth"
    torch.save({"encoder.0.weight": torch.ones(2)}, other)
    with pytest.raises(CrossspecError, match="other.pth: has no 'features.\\*' keys"):
        iw.load_features_state(other)
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(CrossspecError, match="notes.pth: cannot be read as a torch state dict"):
        iw.load_features_state(text)


def test_unknown_trunk():
    with pytest.raises(CrossspecError, match="no ImageNet weights known for trunk 'resnet9'"):
        iw.resolve_trunk_weights("resnet9")
