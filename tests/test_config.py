import pytest

from crossspec.config import Config, apply_override, dump_config, from_dict, load_config
from crossspec.errors import ConfigError


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_yaml_and_overrides_are_typed(tmp_path):
    p = _write(tmp_path, "model: {name: unet, kwargs: {base: 8}}\ntrain: {steps: 10, lr: 1e-4}\n")
    cfg = load_config(p, ["train.lr=2e-4", "data.batch_size=4", "train.betas=0.9,0.99", "train.bf16=false",
                          "model.kwargs.depth=3", "loss.weights.mse=2", "train.grad_clip=null"])
    assert cfg.train.lr == pytest.approx(2e-4) and isinstance(cfg.train.lr, float)
    assert cfg.data.batch_size == 4
    assert cfg.train.betas == (0.9, 0.99)
    assert cfg.train.bf16 is False
    assert cfg.model.kwargs == {"base": 8, "depth": 3}
    assert cfg.loss.weights == {"l1": 1.0, "mse": 2.0}
    assert cfg.train.grad_clip is None


def test_yaml_1_1_exponent_string_becomes_float(tmp_path):
    # PyYAML reads "1e-4" (no dot) as a string; a float field must still accept it.
    cfg = load_config(_write(tmp_path, "train: {steps: 1, lr: 1e-4}\n"))
    assert cfg.train.lr == pytest.approx(1e-4)


def test_wrong_type_names_key_and_type():
    cfg = from_dict({"train": {"steps": 3}})
    with pytest.raises(ConfigError, match=r"train\.lr: expected float, got 'fast'"):
        apply_override(cfg, "train.lr=fast")
    with pytest.raises(ConfigError, match=r"data\.batch_size: expected int"):
        apply_override(cfg, "data.batch_size=2.5")
    with pytest.raises(ConfigError, match=r"train\.bf16: expected bool"):
        apply_override(cfg, "train.bf16=maybe")


def test_unknown_key_suggests_closest(tmp_path):
    cfg = from_dict({"train": {"steps": 3}})
    with pytest.raises(ConfigError, match=r"train\.lrr: unknown key \(did you mean 'train\.lr'\?\)"):
        apply_override(cfg, "train.lrr=1")
    with pytest.raises(ConfigError, match=r"trian: unknown key \(did you mean 'train'\?\)"):
        apply_override(cfg, "trian.lr=1")
    p = _write(tmp_path, "train: {steps: 3, bacth: 2}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: train\.bacth: unknown key"):
        load_config(p)


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="exactly one"):
        from_dict({"train": {"steps": 3, "epochs": 2}})
    with pytest.raises(ConfigError, match="train.schedule"):
        from_dict({"train": {"steps": 3, "schedule": "linear"}})
    with pytest.raises(ConfigError, match="domain"):
        from_dict({"domain": "thermal", "train": {"steps": 3}})


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "train: [1, 2\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, "- 1\n- 2\n"))
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ConfigError, match=r"picture\.png: not a text file \(byte 0x89 at offset 0"):
        load_config(png)


def test_no_code_execution(tmp_path):
    p = _write(tmp_path, "train: {steps: 1}\nmodel: {name: !!python/object/apply:os.system ['echo hi']}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_resolved_yaml_round_trips(tmp_path):
    cfg = load_config(None, ["train.steps=5", "train.betas=[0.5,0.999]", "model.kwargs={base: 8}"])
    p = tmp_path / "resolved.yaml"
    p.write_text(dump_config(cfg))
    assert load_config(p) == cfg
    assert isinstance(cfg, Config)


@pytest.mark.parametrize("path", ["configs/quickstart.yaml", "configs/nir/colormamba.yaml",
                                  "configs/nir/colormamba-small.yaml", "configs/gray/colormamba-small.yaml",
                                  "configs/nir/cooperative.yaml", "configs/nir/colormamba-small-vgg16.yaml",
                                  "configs/nir/cooperative-vgg16.yaml"])
def test_shipped_configs_load(path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / path)
    assert cfg.model.name


def _staged(**over):
    data = {"model": {"name": "cocolor-small"}, "train": {},
            "stages": [{"name": "warmup", "steps": 3, "weights": {"nir_color": 1.0, "translate": 1.0}},
                       {"name": "joint", "steps": 4, "weights": {"nir_color": 1.0, "pixel_consistency": 0.5},
                        "frozen": ["translators"]}]}
    data.update(over)
    return data


def test_stages_fill_steps_and_take_overrides():
    from crossspec.config import apply_override, check_config, from_dict

    cfg = from_dict(_staged())
    assert cfg.train.steps == 7 and cfg.stages[1].frozen == ["translators"]
    apply_override(cfg, "stages.joint.steps=10")
    apply_override(cfg, "stages.0.lr=5e-4")
    apply_override(cfg, "train.steps=13")
    check_config(cfg)
    assert cfg.stages[1].steps == 10 and cfg.stages[0].lr == 5e-4
    with pytest.raises(ConfigError, match="stages.nope: no such entry; use an index 0..1 or a name"):
        apply_override(cfg, "stages.nope.steps=1")
    apply_override(cfg, "data.gray_sources=[{dataset: rgb-folder, root: photos}]")
    assert cfg.data.gray_sources[0].root == "photos"


@pytest.mark.parametrize("change, message", [
    ({"stages": [{"name": "a", "steps": 0, "weights": {"nir_color": 1.0}}]}, r"steps: must be positive"),
    ({"train": {"steps": 5}}, r"train.steps: 5 differs from the sum of stages\[\*\].steps \(7\)"),
    ({"stages": [{"name": "a", "steps": 1, "weights": {"nir_color": 1}}, {"name": "a", "steps": 1,
                                                                         "weights": {"nir_color": 1}}]},
     "names must be unique"),
    ({"data": {"gray_sources": [{"dataset": "rgb-folder", "rooot": "x"}]}},
     r"data.gray_sources\[0\].rooot: unknown key \(did you mean 'data.gray_sources\[0\].root'\?\)"),
])
def test_stage_errors(change, message):
    from crossspec.config import from_dict

    with pytest.raises(ConfigError, match=message):
        from_dict(_staged(**change))
