import json

import pytest
import torch

from crossspec.errors import CrossspecError
from crossspec.io import shipped_weights as P
from crossspec.models import (create_model, default_pretrained, get_entry, list_models, load_model, model_info,
                              pretrained_names, save_weights)

UNET = {"base": 4, "depth": 2}


def ship(folder, name="unet-test", *, domain="nir", kwargs=UNET, dtype=torch.float32, default=None, seed=1, edit=None):
    """Write the three files of a shipped model (random weights) into ``folder``; returns the saved model."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = create_model("unet", **kwargs).to(dtype)
    save_weights(folder / f"{name}.safetensors", model, domain=domain)
    (folder / f"{name}.md").write_text(f"# {name}\n\nA test card.\n")
    manifest = {"format": 1, "name": name, "architecture": "unet", "kwargs": kwargs, "domain": domain,
                "weights": f"{name}.safetensors", "sha256": P.sha256_file(folder / f"{name}.safetensors"),
                "card": f"{name}.md", "description": "a test model",
                "metrics": {"splits": {"test-clean-20": {"psnr": 17.5, "ssim": 0.61, "lpips": 0.35}}}}
    if default is not None:
        manifest["default"] = default
    manifest.update(edit or {})
    (folder / f"{name}.json").write_text(json.dumps(manifest))
    return model


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_pretrained_name_loads_shipped_weights(weights_dir):
    saved = ship(weights_dir)
    assert list_models(pretrained=True) == ["unet-test"] and "unet-test" in list_models()
    assert "unet-test" not in list_models(pretrained=False) and "unet" in list_models(pretrained=False)
    model = create_model("unet-test")
    assert_same_weights(model, saved)
    assert model_info(model).pretrained["sha256"] == P.sha256_file(weights_dir / "unet-test.safetensors")
    assert_same_weights(create_model("unet-test", pretrained=True), saved)
    # load_model (used by eval and colorize) takes the name too, ready for inference
    loaded = load_model("unet-test")
    assert not loaded.training
    assert_same_weights(loaded, saved)
    # the architecture without weights is still there
    untrained = create_model("unet-test", pretrained=False)
    assert any(not torch.equal(v, saved.state_dict()[k]) for k, v in untrained.state_dict().items())
    entry = get_entry("unet-test")
    assert entry.domains == ("nir",) and not entry.trainable and entry.pretrained.architecture == "unet"


def test_missing_weights_name_the_path_and_hash(weights_dir):
    ship(weights_dir)
    expected = json.loads((weights_dir / "unet-test.json").read_text())["sha256"]
    (weights_dir / "unet-test.safetensors").unlink()
    with pytest.raises(CrossspecError) as err:
        create_model("unet-test")
    assert str(weights_dir / "unet-test.safetensors") in str(err.value) and expected in str(err.value)
    assert "missing" in str(err.value)


def test_altered_weights_are_refused_before_loading(weights_dir):
    ship(weights_dir)
    expected = json.loads((weights_dir / "unet-test.json").read_text())["sha256"]
    # other weights of the same model: a valid file, but not the one the manifest names
    save_weights(weights_dir / "unet-test.safetensors", create_model("unet", **UNET))
    actual = P.sha256_file(weights_dir / "unet-test.safetensors")
    with pytest.raises(CrossspecError, match=f"sha256 is {actual}, expected {expected}") as err:
        load_model("unet-test")
    assert str(err.value).startswith(str(weights_dir / "unet-test.safetensors"))


def test_weights_of_another_architecture_are_refused(weights_dir):
    ship(weights_dir, kwargs={"base": 4, "depth": 3})
    manifest = json.loads((weights_dir / "unet-test.json").read_text())
    manifest["kwargs"] = UNET  # the manifest lies about the kwargs the file holds
    (weights_dir / "unet-test.json").write_text(json.dumps(manifest))
    with pytest.raises(CrossspecError, match="holds 'unet' weights with kwargs .*but the manifest"):
        create_model("unet-test")


def test_fp16_weights_load_strictly_into_fp32(weights_dir):
    saved = ship(weights_dir, dtype=torch.float16)
    model = create_model("unet-test")
    for k, v in model.state_dict().items():
        assert v.dtype == saved.state_dict()[k].dtype or v.dtype == torch.float32
        assert torch.equal(v, saved.state_dict()[k].to(v.dtype)), k


def test_pretrained_requests_that_cannot_be_met(weights_dir):
    ship(weights_dir)
    with pytest.raises(CrossspecError, match="'unet' has no pretrained weights; models with weights: unet-test"):
        create_model("unet", pretrained=True)
    with pytest.raises(CrossspecError, match="build 'unet' to change depth"):
        create_model("unet-test", depth=3)
    create_model("unet-test", depth=2)  # restating the manifest's kwargs is fine
    with pytest.raises(CrossspecError, match="tiny=True"):
        create_model("unet-test", tiny=True, pretrained=True)
    tiny = create_model("unet-test", tiny=True)  # the test-size variant, untrained
    assert model_info(tiny).pretrained is None


@pytest.mark.parametrize("change, message", [
    ({"name": "other"}, "must equal the file stem"),
    ({"architecture": "no-such-net"}, "architecture 'no-such-net' is not a registered architecture"),
    ({"weights": "../unet-test.safetensors"}, "weights: expected a file name beside the manifest"),
    ({"domain": "sar"}, "domain: 'sar'"),
    ({"sha256": "abc"}, "sha256: 'abc' is not 64"),
])
def test_bad_manifests_name_the_manifest(weights_dir, change, message):
    ship(weights_dir, edit=change)
    with pytest.raises(CrossspecError, match=message) as err:
        list_models()
    assert str(weights_dir / "unet-test.json") in str(err.value)


def test_name_of_an_architecture_is_refused(weights_dir):
    ship(weights_dir, name="unet")
    with pytest.raises(CrossspecError, match="'unet' is a registered architecture"):
        get_entry("unet")


def test_domains_and_defaults(weights_dir):
    ship(weights_dir, name="a-nir")
    assert default_pretrained("nir") == "a-nir" and default_pretrained("gray") is None
    ship(weights_dir, name="b-nir")
    ship(weights_dir, name="c-gray", domain="gray")
    assert pretrained_names("nir") == ["a-nir", "b-nir"] and pretrained_names("gray") == ["c-gray"]
    assert default_pretrained("nir") is None  # two and neither marked: no guess
    ship(weights_dir, name="b-nir", default=True)
    assert default_pretrained("nir") == "b-nir"
    ship(weights_dir, name="a-nir", default=True)
    with pytest.raises(CrossspecError, match="several pretrained models are the default for nir: a-nir, b-nir"):
        default_pretrained("nir")


def test_overhead_models_have_their_own_default(weights_dir):
    ship(weights_dir, name="a-nir", default=True)
    ship(weights_dir, name="b-rs", edit={"imagery": "overhead"})
    assert get_entry("b-rs").pretrained.imagery == "overhead" and get_entry("a-nir").pretrained.imagery == "photo"
    assert pretrained_names("nir", "overhead") == ["b-rs"] and pretrained_names("nir", "photo") == ["a-nir"]
    assert default_pretrained("nir") == "a-nir"  # a photo default is not taken over by the overhead one
    assert default_pretrained("nir", "overhead") == "b-rs"  # the only overhead model
    ship(weights_dir, name="c-rs", edit={"imagery": "overhead", "default": True})
    assert default_pretrained("nir", "overhead") == "c-rs" and default_pretrained("nir") == "a-nir"
    ship(weights_dir, name="b-rs", edit={"imagery": "overhead", "default": True})
    with pytest.raises(CrossspecError, match=r"default for nir \(overhead imagery\): b-rs, c-rs"):
        default_pretrained("nir", "overhead")


def test_unknown_imagery_names_the_manifest(weights_dir):
    ship(weights_dir, edit={"imagery": "sar"})
    with pytest.raises(CrossspecError, match="imagery: 'sar' is not one of 'photo', 'overhead'") as err:
        list_models()
    assert str(weights_dir / "unet-test.json") in str(err.value)


def test_no_weights_folder_means_no_pretrained_models(weights_dir):
    assert not weights_dir.exists()
    assert list_models(pretrained=True) == [] and default_pretrained("nir") is None


@pytest.mark.parametrize("name", sorted(P.discover()))
def test_shipped_models_match_their_manifests(name):
    """Every model shipped in crossspec/weights has its card, its hash and loads strictly."""
    spec = P.discover()[name]
    assert spec.card_text().strip()
    # the card's measured scores were measured on these very weights
    assert f"sha256 `{spec.sha256[:16]}" in spec.card_text(), "card and weights disagree: export again"
    if spec.imagery == "overhead":  # scored on held-out rasters, beside the bar it has to clear
        mean = next(row for split, row in spec.metrics["splits"].items() if split.startswith("mean ("))
        assert mean["psnr"] is not None and spec.metrics["reference"]["model"] == "nir-gain", "export with --rasters"
    else:
        assert spec.split_metrics("test-clean-20").get("psnr") is not None, "run the export with --data"
    model = create_model(name)
    assert model(torch.rand(1, 1, 64, 64)).shape == (1, 3, 64, 64)
    assert spec.weights.stat().st_size < 50e6


def test_create_model_loads_a_checkpoint_and_records_where_from(tmp_path):
    src = create_model("unet", **UNET)
    path = save_weights(tmp_path / "w.safetensors", src, step=3)
    model = create_model("unet", checkpoint_path=path, **UNET)
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), model.state_dict().values()))
    info = model_info(model)
    assert info.name == "unet" and info.checkpoint["path"] == str(path) and info.checkpoint["step"] == "3"
    with pytest.raises(CrossspecError, match="weights do not fit model 'unet'"):
        create_model("unet", checkpoint_path=path, base=4, depth=3)
    # the registry, not forward's signature, says who takes a domain
    assert get_entry("cocolor-small").takes_domain and not get_entry("unet").takes_domain
