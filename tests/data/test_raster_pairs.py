import json

import numpy as np
import pytest
import torch

from crossspec.data import build_dataset
from crossspec.data.raster_pairs import RasterPairs
from crossspec.data.rs_scaling import radiometry
from crossspec.data.scenes import from_rgbn_manifest, guess_preset, input_roles, load_manifest
from crossspec.errors import ConfigError, DataError
from tests.data.rs_fixtures import H, W, make_scenes, write_manifest


@pytest.fixture
def scenes_root(tmp_path):
    write_manifest(tmp_path)
    return tmp_path


def _ds(root, split="train", **kw):
    kw.setdefault("window", 32)
    return build_dataset("raster-pairs", root=str(root), split=split, manifest=str(root / "scenes.yaml"), **kw)


# ------------------------------------------------------------------------------------ presets
@pytest.mark.parametrize("preset, dn, rho", [
    ("s2-l2a", 2000, 0.1),            # (DN - 1000) / 10000, baseline >= 04.00
    ("s2-pre04", 2000, 0.2),          # DN / 10000
    ("landsat-c2-l2", 10000, 0.075),  # DN * 2.75e-5 - 0.2
    ("landsat-oli-l1", 10000, 0.1),   # DN * 2e-5 - 0.1
    ("aerial-8bit", 51, 0.2),         # DN / 255
])
def test_preset_arithmetic(preset, dn, rho):
    r = radiometry(preset)
    assert r.reflectance(np.array([dn], np.uint16))[0] == pytest.approx(rho, abs=1e-6)
    assert r.display(np.array([dn], np.uint16), "target")[0] == pytest.approx(min(1.0, rho * r.gain), abs=1e-6)
    assert r.display(np.array([dn], np.uint16), "input")[0] == pytest.approx(min(1.0, rho * r.input_gain), abs=1e-6)


def test_display_is_fixed_and_clipped():
    r = radiometry("s2-l2a")
    assert r.gain == 2.5 and r.input_gain == 2.0
    out = r.display(np.array([0, 1000, 5000, 60000], np.uint16))
    assert out.tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0])  # below the offset -> 0; bright -> 1
    c = radiometry("custom", scale=0.5, offset=1.0, gain=0.1)
    assert c.display(np.array([2.0]))[0] == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="custom"):
        radiometry("custom")
    with pytest.raises(ConfigError, match="scale/offset apply to preset 'custom'"):
        radiometry("s2-l2a", scale=1e-4)
    with pytest.raises(ConfigError, match="unknown scaling preset"):
        radiometry("sentinel")


def test_input_band_sets():
    assert input_roles("nir") == ("nir",)
    assert input_roles("nir+swir") == ("nir", "swir")
    assert input_roles("cir") == ("nir", "red", "green")
    assert input_roles(["NIR", "R"]) == ("nir", "red")
    with pytest.raises(ConfigError):
        input_roles("nir+nir")


# ------------------------------------------------------------------------------------ manifest
def test_manifest_band_forms_and_errors(tmp_path, scenes_root):
    scenes = {s.name: s for s in load_manifest(scenes_root / "scenes.yaml")}
    assert scenes["s2"].bands["nir"].path == scenes_root / "s2" / "B08.tif"
    assert scenes["floaty"].bands["red"].band == 1 and "nir" in scenes["floaty"].bands  # R/NIR aliases
    bad = tmp_path / "bad.yaml"
    _refused(bad, "scenes:\n  - {name: x, preset: aerial-8bit, bands: {red: 1, green: 2, nir: 4}, file: a.tif}\n",
             "lacks the target band")
    _refused(bad, "scenes:\n  - {name: x, preset: nope, bands: {red: 1, green: 2, blue: 3}, file: a.tif}\n",
             "scene 'x': unknown scaling preset")


def _refused(manifest, text: str, match: str) -> None:
    """``manifest`` written with ``text`` fails to load with a ConfigError matching ``match``."""
    manifest.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_manifest(manifest)


def test_manifest_include_adds_other_manifests_scenes(tmp_path, scenes_root):
    extra = scenes_root / "extra.yaml"
    extra.write_text("include: [scenes.yaml]\nscenes:\n"
                     "  - {name: more, preset: aerial-8bit, file: more/x.tif, bands: {red: 1, green: 2, blue: 3, nir: 4}}\n")
    base = [s.name for s in load_manifest(scenes_root / "scenes.yaml")]
    scenes = load_manifest(extra)
    assert [s.name for s in scenes] == [*base, "more"]  # included first, own paths still against their folder
    assert scenes[0].bands["red"].path == load_manifest(scenes_root / "scenes.yaml")[0].bands["red"].path
    assert scenes[-1].bands["red"].path == scenes_root / "more" / "x.tif"
    # with a data root, the included manifest's relative paths resolve against it too
    other = tmp_path / "other"
    assert all(str(s.bands["red"].path).startswith(str(other)) for s in load_manifest(extra, other))
    # the same scene twice, an include loop and a bad include are errors that name the manifest
    _refused(scenes_root / "twice.yaml", "include: [scenes.yaml, scenes.yaml]\n", "twice.yaml.*used twice")
    _refused(scenes_root / "loop.yaml", "include: [loop.yaml]\nscenes: []\n", "loop.yaml.*includes itself")
    _refused(scenes_root / "loop.yaml", "include: {a: 1}\n", "'include' must be")


def test_a_subdataset_of_a_container_file_is_a_scene(tmp_path):
    # HDF5 / NetCDF products keep their bands in named datasets; a GeoPackage with two raster tables is a
    # container GDAL writes everywhere, with the same DRIVER:file:name subdataset naming
    import rasterio
    from rasterio.transform import from_origin

    from crossspec.data.scenes import SceneReader, scene_grid

    cube = (np.arange(4 * 32 * 32) % 251).astype(np.uint8).reshape(4, 32, 32)
    kw = dict(driver="GPKG", width=32, height=32, count=4, dtype="uint8", crs="EPSG:32633",
              transform=from_origin(500000, 6000000, 10, 10))
    with rasterio.open(tmp_path / "c.gpkg", "w", RASTER_TABLE="im10", **kw) as ds:
        ds.write(cube)
    with rasterio.open(tmp_path / "c.gpkg", "w", RASTER_TABLE="im20", APPEND_SUBDATASET="YES", **kw) as ds:
        ds.write(cube[::-1])
    man = tmp_path / "m.yaml"
    man.write_text("scenes:\n"
                   "  - {name: a, preset: aerial-8bit, file: c.gpkg, subdataset: im20, bands: {red: 1, green: 2, blue: 3, nir: 4}}\n"
                   "  - {name: b, preset: aerial-8bit, bands: {red: {file: c.gpkg, band: 1, subdataset: im10},\n"
                   "      green: {file: c.gpkg, band: 2, subdataset: im10}, blue: {file: c.gpkg, band: 3, subdataset: im10},\n"
                   "      nir: {file: c.gpkg, band: 1, subdataset: im20}}}\n")
    a, b = load_manifest(man)
    grid = scene_grid(a)
    assert (grid.height, grid.width, grid.crs, grid.res) == (32, 32, "EPSG:32633", 10.0)
    values, valid = SceneReader(a, grid).read(["red", "nir"], (0, 0, 32, 32))
    assert valid.all()
    np.testing.assert_allclose(values[0] * 255, cube[3], atol=1e-3)  # im20 holds the bands reversed
    np.testing.assert_allclose(values[1] * 255, cube[0], atol=1e-3)
    values, _ = SceneReader(b, scene_grid(b)).read(["red", "nir"], (0, 0, 32, 32))
    np.testing.assert_allclose(values * 255, cube[[0, 3]], atol=1e-3)  # one scene over two subdatasets
    man.write_text("scenes:\n  - {name: a, preset: aerial-8bit, file: c.gpkg, subdataset: im99, "
                   "bands: {red: 1, green: 2, blue: 3, nir: 4}}\n")
    with pytest.raises(DataError, match=r"c.gpkg.*no subdataset 'im99' \(it has: im10, im20\)"):
        scene_grid(load_manifest(man)[0])
    man.write_text("scenes:\n  - {name: a, preset: aerial-8bit, file: c.gpkg, bands: {red: 1, green: 2, blue: 3, nir: 4}}\n")
    with pytest.raises(DataError, match="c.gpkg.*holds no bands.*subdataset"):
        scene_grid(load_manifest(man)[0])


def test_rgbn_manifest_conversion():
    entries = [
        {"path": "a/x.tif", "scaling": "uint16; reflectance = DN×0.0000275 − 0.2; nodata 0", "sensor": "Landsat 8",
         "dtype": "uint16", "nodata": 0.0, "channels": {"R": ["a/x.tif", 4], "G": ["a/x.tif", 3],
                                                         "B": ["a/x.tif", 2], "NIR": ["a/x.tif", 5]}},
        {"path": "b.mat", "scaling": "", "channels": {"R": ["b.mat::im10", 1]}},  # arrays are left out
        {"path": "c.tif", "scaling": "float64 holding 11-bit DN (0–2047); 0 = outside image", "sensor": "WV2",
         "dtype": "float64", "nodata": None,
         "channels": {"R": ["c.tif", 3], "G": ["c.tif", 2], "B": ["c.tif", 1], "NIR": ["c.tif", 4]}},
    ]
    doc = from_rgbn_manifest(entries)
    assert [s["preset"] for s in doc["scenes"]] == ["landsat-c2-l2", "dn-11bit"]
    assert doc["scenes"][0]["bands"]["nir"] == ["a/x.tif", 5] and doc["scenes"][1]["fill_zero"] is True
    assert guess_preset("uint16, BOA_ADD_OFFSET −1000: reflectance = (DN − 1000)/10000") == "s2-l2a"
    assert guess_preset("uint8 DN", sensor="NAIP aerial") == "aerial-8bit"
    assert guess_preset("something odd") is None


# ------------------------------------------------------------------------------------ samples
def test_sample_layout_mask_and_nodata(scenes_root):
    ds = _ds(scenes_root, "test", window=W)
    s = ds.read_window(ds.entries[0], 0, 0)
    assert s["input"].shape == (1, W, W) and s["target"].shape == (3, W, W) and s["mask"].shape == (1, W, W)
    assert s["input"].dtype == torch.float32 and s["domain"] == "nir" and s["name"] == "rgbn"
    m = s["mask"][0]
    assert not m[:20, :24].any() and m[20:H, 24:].all()  # declared nodata corner is invalid
    assert not m[H:].any() if W > H else True  # outside the scene: invalid padding
    assert (s["input"][:, m == 0] == 0).all() and (s["target"][:, m == 0] == 0).all()
    assert float(s["target"].max()) <= 1.0 and float(s["input"].min()) >= 0.0


def test_fill_zero_nan_and_per_band_files_in_another_crs(scenes_root):
    ds = _ds(scenes_root, "all", window=W, input_bands="nir+swir")
    by = {e.scene.name: e for e in ds.entries}
    assert by["s2"].grid.crs == "EPSG:3857" and by["s2"].grid.res == 20.0
    s = ds.read_window(by["s2"], 0, 0)
    assert s["input"].shape == (2, W, W)
    assert not s["mask"][0, :, :10].any() and s["mask"][0, :, 10:W].all()  # undeclared 0 fill masked
    # the half-resolution SWIR file is read onto the 20 m grid of the other bands
    assert float(s["input"][1, :, 10:].std()) > 0
    assert set(by) == {"s2"}  # the scenes without a SWIR band are left out
    nir_only = _ds(scenes_root, "all", window=W)
    f = nir_only.read_window({e.scene.name: e for e in nir_only.entries}["floaty"], 0, 0)
    assert not f["mask"][0, 50:60, 30:50].any() and f["mask"][0, :50].all()
    assert torch.isfinite(f["input"]).all() and torch.isfinite(f["target"]).all()  # NaN holes become 0


def test_gsd_resampling_reads_a_wider_footprint(scenes_root):
    ds = _ds(scenes_root, "all", window=16, gsd=40.0)  # s2 is at 20 m: a 16 px window covers 32 source px
    e = {x.scene.name: x for x in ds.entries}["s2"]
    assert e.span == 32
    s = ds.read_window(e, 0, 40)
    assert s["input"].shape == (1, 16, 16) and bool(s["mask"].all())


def test_windows_with_too_much_nodata_are_redrawn(tmp_path):
    doc = make_scenes(tmp_path)
    doc["scenes"] = [dict(doc["scenes"][0], split=None)]  # rgbn only: a 20x24 nodata corner
    path = tmp_path / "one.yaml"
    write_manifest(tmp_path, doc).rename(path)
    ds = build_dataset("raster-pairs", root=str(tmp_path), split="all", manifest=str(path), window=24,
                       max_nodata=0.1, eval_length=40)
    fracs = [1 - float(ds[i]["mask"].mean()) for i in range(40)]
    assert max(fracs) <= 0.1
    loose = build_dataset("raster-pairs", root=str(tmp_path), split="all", manifest=str(path), window=24,
                          max_nodata=0.99, eval_length=80)
    assert max(1 - float(loose[i]["mask"].mean()) for i in range(80)) > 0.1  # such windows exist


def test_eval_windows_are_fixed_train_windows_follow_torch_seed(scenes_root):
    val = _ds(scenes_root, "all")
    assert val[3]["key"] == val[3]["key"]
    train = _ds(scenes_root, "train", split_mode="file", val_fraction=0.01)
    torch.manual_seed(1)
    a = [train[i]["key"] for i in range(5)]
    torch.manual_seed(1)
    assert [train[i]["key"] for i in range(5)] == a


# ------------------------------------------------------------------------------------ splits
def test_file_split_never_shares_a_scene_and_test_is_held_out(scenes_root):
    names = {}
    for frac in (0.2, 0.5, 0.8):
        sides = {}
        for split in ("train", "val"):
            try:
                sides[split] = set(_ds(scenes_root, split, split_mode="file", val_fraction=frac).keys)
            except DataError:
                sides[split] = set()
        assert not sides["train"] & sides["val"]
        assert sides["train"] | sides["val"] == {"s2", "floaty"}  # "rgbn" is split: test
        names[frac] = sides
    assert _ds(scenes_root, "test").keys == ["rgbn"]


def test_manifest_split_val_is_honoured(tmp_path):
    doc = make_scenes(tmp_path)
    doc["scenes"][1]["split"] = "val"
    write_manifest(tmp_path, doc)
    assert _ds(tmp_path, "val", split_mode="file").keys == ["s2"]
    assert _ds(tmp_path, "train", split_mode="file").keys == ["floaty"]


def test_block_split_windows_never_cross_blocks_or_sides(scenes_root):
    block = 32
    owners = {}
    for split in ("train", "val"):
        ds = _ds(scenes_root, split, split_mode="block", block=block, window=16, val_fraction=0.3, length=100,
                 eval_length=100)
        for i in range(100):
            s = ds[i]
            name, rc = s["key"].split("@")
            r, c = map(int, rc.split(","))
            b = (name, r // block, c // block)
            # the valid part of the window stays inside one block
            m = s["mask"][0]
            rows = torch.nonzero(m.any(1)).flatten()
            cols = torch.nonzero(m.any(0)).flatten()
            if len(rows):
                assert (r + int(rows.max())) // block == b[1] and (c + int(cols.max())) // block == b[2]
            owners.setdefault(b, set()).add(split)
    assert all(len(v) == 1 for v in owners.values())
    assert {"train", "val"} <= set().union(*owners.values())


def test_bad_options_are_config_errors(scenes_root):
    with pytest.raises(ConfigError, match="block"):
        _ds(scenes_root, split_mode="block", block=16, window=32)
    with pytest.raises(DataError, match="split is empty.*2 scene\\(s\\) lack a band of nir\\+swir"):
        _ds(scenes_root, "test", input_bands="nir+swir")
    with pytest.raises(ConfigError, match="unknown option"):
        _ds(scenes_root, bogus=1)


def test_transforms_carry_the_mask(scenes_root):
    from crossspec.data import transforms as T

    ds = _ds(scenes_root, "test", window=W, transforms=T.Compose([T.RandomCrop(40), T.RandomHorizontalFlip(1.0)]))
    torch.manual_seed(0)
    s = ds[0]
    assert s["mask"].shape == (1, 40, 40)
    assert (s["input"][:, s["mask"][0] == 0] == 0).all()


# ------------------------------------------------------------------------------------ real data
@pytest.mark.shared_data
def test_shipped_manifest_reads_the_shared_rasters(shared_data):
    scenes = load_manifest("shared-rgbn", shared_data)
    test = [s for s in scenes if s.split == "test"]
    assert {s.group for s in test} == {"naip", "landsat", "sentinel2"} and len(test) == 6
    ds = RasterPairs(shared_data, "train", manifest="shared-rgbn", window=64, split_mode="block", block=256)
    assert not {s.name for s in test} & set(ds.keys)
    s = ds[0]
    assert s["input"].shape == (1, 64, 64) and float(s["mask"].mean()) > 0
    rgbn = json.loads((shared_data / "rasters-rgbn" / "manifest.json").read_text())
    assert len(load_manifest(shared_data / "rasters-rgbn" / "manifest.json")) == len(from_rgbn_manifest(rgbn)["scenes"])


def test_overhead_plus_holds_out_the_same_scenes_and_reads_the_dsen2_crops(shared_data):
    from crossspec.data.scenes import SceneReader, scene_grid

    plus = load_manifest("overhead-plus", shared_data)
    base = load_manifest("shared-rgbn", shared_data)
    assert [s.name for s in plus if s.split == "test"] == [s.name for s in base if s.split == "test"]
    assert {s.name for s in base} < {s.name for s in plus}
    dsen2 = [s for s in plus if s.bands["red"].subdataset]  # the two DSen2 MATLAB (HDF5) files
    assert len(dsen2) == 2
    for s in dsen2:
        grid = scene_grid(s)
        values, valid = SceneReader(s, grid).read(["red", "nir"], (0, 0, 64, 64), kind="input")
        assert (grid.height, grid.width) == (600, 600) and valid.all() and 0 < values.mean() < 1


def test_a_vrt_of_band_files_reads_like_the_band_files(tmp_path):
    doc = make_scenes(tmp_path)
    bands = "".join(
        f'<VRTRasterBand dataType="UInt16" band="{i}"><SimpleSource>'
        f'<SourceFilename relativeToVRT="1">s2/{name}.tif</SourceFilename><SourceBand>1</SourceBand>'
        f"</SimpleSource></VRTRasterBand>"
        for i, name in enumerate(("B04", "B03", "B02", "B08"), 1))
    (tmp_path / "s2.vrt").write_text(
        f'<VRTDataset rasterXSize="{W}" rasterYSize="{H}"><SRS>EPSG:3857</SRS>'
        f"<GeoTransform>1000000, 20, 0, 6000000, 0, -20</GeoTransform>{bands}</VRTDataset>")
    doc["scenes"].append({"name": "s2-vrt", "preset": "s2-l2a", "fill_zero": True, "file": "s2.vrt",
                          "bands": {"red": 1, "green": 2, "blue": 3, "nir": 4}})
    write_manifest(tmp_path, doc)
    ds = _ds(tmp_path, "all", window=W)
    by = {e.scene.name: e for e in ds.entries}
    a, b = ds.read_window(by["s2"], 0, 0), ds.read_window(by["s2-vrt"], 0, 0)
    for k in ("input", "target", "mask"):
        assert torch.equal(a[k], b[k])
