"""``crossspec data``: check a dataset root, list its splits, derive statistics from it."""
from __future__ import annotations

import click

from crossspec.domains import DOMAINS


@click.group("data")
def data_cmd() -> None:
    """Dataset utilities."""


@data_cmd.command("verify")
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--dataset", default="vcip2020", show_default=True, type=click.Choice(["vcip2020", "epfl"]))
@click.option("--checksum", is_flag=True, help="Also check every file's sha256 against the manifest (vcip2020).")
def verify(root: str, dataset: str, checksum: bool) -> None:
    """Check that ROOT holds the dataset in the expected layout.

    vcip2020: every file of every split (training pairs, Validation, Testing) must be present;
    --checksum also compares each file's bytes with the published release.
    """
    if dataset == "vcip2020":
        from crossspec.data.vcip2020 import verify_release

        parts = verify_release(root, checksum=checksum)
        checked = ", ".join(f"{n} {part}" for part, n in parts.items())
        how = "sha256 of every file matches the manifest" if checksum else "contents not checked (add --checksum)"
        click.echo(f"{root}: vcip2020 OK: {2 * sum(parts.values())} files present ({checked} pairs); {how}")
        return
    if checksum:
        raise click.UsageError(f"--checksum: no sha256 manifest ships for the {dataset} dataset")
    from crossspec.data import build_dataset

    ds = build_dataset(dataset, root=root, split="all")
    click.echo(f"{root}: {dataset} OK ({len(ds)} pairs found; contents not checked)")


@data_cmd.command("splits")
@click.argument("root", type=click.Path(file_okay=False))
def splits(root: str) -> None:
    """List the VCIP 2020 splits and their sizes for the dataset at ROOT."""
    from crossspec.data import build_dataset
    from crossspec.data.vcip2020 import VCIP2020

    for name in VCIP2020.splits():
        ds = build_dataset("vcip2020", root=root, split=name)
        click.echo(f"{name:<14} {len(ds):4d}")


@data_cmd.command("ab-prior")
@click.option("--data", "root", required=True, type=click.Path(file_okay=False), help="Dataset root folder.")
@click.option("--dataset", default="vcip2020", show_default=True, type=click.Choice(["vcip2020", "epfl", "rgb-folder"]))
@click.option("--split", default="train-fit", show_default=True,
              help="Split whose RGB targets are counted (vcip2020: train-fit; epfl/rgb-folder: all, train, ...).")
@click.option("--domain", type=click.Choice(DOMAINS),
              help="Domain to open the dataset in (the prior only reads the RGB targets, so both give the same file).")
@click.option("--sigma", default=5.0, show_default=True, help="Width of the Gaussian smoothing over ab (Lab units).")
@click.option("--lam", "lam", default=0.5, show_default=True,
              help="Mixing weight of the uniform distribution in the rebalancing weights (1 = no rebalancing).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Prior file (.npz) to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def ab_prior_cmd(root: str, dataset: str, split: str, domain: str | None, sigma: float, lam: float, output: str,
                 overwrite: bool) -> None:
    """Class-rebalancing prior over the quantized ab gamut (Zhang et al. 2016) from a training split.

    Every RGB target pixel is counted in its nearest ab bin (grid 10, the cells sRGB reaches); the
    distribution is smoothed with a Gaussian of width --sigma over the ab plane, and the per-bin
    loss weights w ~ ((1 - lam) p + lam / Q)^-1 are scaled so that their mean under the smoothed
    prior is 1. Use the file as `loss.options.ab_prior` with the `ab_ce` loss term (model zhang16).

    \b
    Example:
      crossspec data ab-prior --data data/vcip2020 -o priors/vcip2020-train-fit.npz
    """
    import sys

    from crossspec.data import build_dataset
    from crossspec.data.ab_prior import ab_prior_from_dataset, describe
    from crossspec.io.ab_prior import save_ab_prior
    from crossspec.io.atomic import check_writable

    if not output.endswith(".npz"):
        raise click.UsageError(f"{output}: the output must end in .npz")
    if sigma <= 0 or not 0 < lam <= 1:
        raise click.UsageError("--sigma must be positive and --lam in (0, 1]")
    check_writable(output, overwrite)  # before reading the whole split
    ds = build_dataset(dataset, root=root, split=split, **({"domain": domain} if domain else {}))
    prior = ab_prior_from_dataset(ds, sigma=sigma, lam=lam, source=f"{dataset} {root} split {split}",
                                  progress=sys.stderr.isatty())
    save_ab_prior(prior, output, overwrite=overwrite)
    click.echo(f"{output}: {prior.source}; {describe(prior)}")


@data_cmd.command("fit-gain")
@click.argument("manifest", type=click.Path())
@click.option("--data", "root", type=click.Path(file_okay=False), help="Root of the manifest's relative paths.")
@click.option("--input-bands", default="nir", show_default=True, help="The one input band role.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Weights file (.safetensors) to write: usable as --checkpoint by eval and colorize.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def fit_gain_cmd(manifest: str, root: str | None, input_bands: str, output: str, overwrite: bool) -> None:
    """Fit nir-gain (mean RGB / mean NIR per channel, valid pixels only) on a manifest's training scenes.

    Every scene not marked `split: test` counts, whole, at full resolution.
    """
    from pathlib import Path

    from crossspec.data.scenes import load_manifest
    from crossspec.errors import file_error
    from crossspec.models import save_weights
    from crossspec.raster_eval import fit_gain

    out = Path(output)
    if out.suffix != ".safetensors":
        raise click.UsageError(f"{output}: the output must end in .safetensors")
    if out.exists() and not overwrite:
        raise file_error(out, "exists already (pass --overwrite to replace it)")
    scenes = load_manifest(manifest, root)
    net = fit_gain(scenes, input_bands)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(out, net, extra={"fitted_on": f"{manifest}: {sum(s.split != 'test' for s in scenes)} training scenes"})
    click.echo(f"{out}: nir-gain {', '.join(f'{v:.4f}' for v in net.gain.tolist())} "
               f"(fitted on {sum(s.split != 'test' for s in scenes)} scenes of {manifest})")


@data_cmd.command("rs-manifest")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="YAML manifest to write.")
@click.option("--prefix", default="", help="Prepended to every file path (e.g. rasters-rgbn/ to root it higher up).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def rs_manifest_cmd(source: str, output: str, prefix: str, overwrite: bool) -> None:
    """Convert a rasters-rgbn manifest.json (list with `channels`) into a crossspec scene manifest.

    Scaling presets are guessed from the free-text `scaling`; scenes where that is unclear get
    `preset: null` and a note: review the file before use.
    """
    import json
    from pathlib import Path

    import yaml

    from crossspec.data.scenes import from_rgbn_manifest
    from crossspec.errors import file_error
    from crossspec.io.atomic import atomic_path

    src = Path(source)
    try:
        entries = json.loads(src.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise file_error(src, f"cannot read it as JSON ({exc})") from None
    if not isinstance(entries, list):
        raise file_error(src, "expected a JSON list of band sets (the rasters-rgbn manifest)")
    doc = from_rgbn_manifest(entries)
    for scene in doc["scenes"]:
        for role, (f, b) in scene["bands"].items():
            scene["bands"][role] = [prefix + f, b]
    with atomic_path(output, overwrite=overwrite) as tmp:
        Path(tmp).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120))
    unset = [s["name"] for s in doc["scenes"] if s["preset"] is None]
    click.echo(f"{output}: {len(doc['scenes'])} scenes" + (f"; set the preset by hand for: {', '.join(unset)}" if unset else ""))


@data_cmd.command("audit")
@click.option("--train", "train_spec", required=True, metavar="SOURCE",
              help="Training images: vcip2020:ROOT:SPLIT or a folder (forms above).")
@click.option("--test", "test_spec", required=True, metavar="SOURCE", help="Test images, same forms.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write every number as JSON.")
@click.option("--threshold-db", default=26.0, show_default=True,
              help="PSNR of the aligned images at or above which a test image is the same photograph.")
@click.option("--detail-ncc", default=0.5, show_default=True,
              help="Band-pass luminance NCC at or above which a test image below --threshold-db is the same scene.")
@click.option("--min-overlap", default=0.25, show_default=True,
              help="Smallest fraction of a test image that must lie on a training image to count.")
@click.option("--zoom", "zoom_range", nargs=2, type=float, default=(0.2, 2.0), show_default=True,
              metavar="MIN MAX", help="Zooms searched: test pixels per training pixel.")
@click.option("--candidates", default=5, show_default=True,
              help="Training images per test image refined at full resolution (best coarse NCC first).")
@click.option("--nir/--no-nir", default=True, show_default=True,
              help="Also compare NIR partners: their sha256 and their PSNR at the RGB alignment.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --json file.")
def audit(train_spec: str, test_spec: str, json_path: str | None, threshold_db: float, detail_ncc: float,
          min_overlap: float, zoom_range: tuple[float, float], candidates: int, nir: bool, overwrite: bool) -> None:
    """Leakage audit: find test images that are copies or crops of training images.

    \b
    SOURCE is one of
      vcip2020:ROOT:SPLIT   a VCIP 2020 split (train, test-28, test-clean-20, holdout-23, ...)
      DIR (or folder:DIR)   every image under DIR; *_nir.* / *_nir_reg.* files are the NIR
                            partners of the RGB file with the same name stem
    The RGB images are compared (the target side is what leaks). For each test image:
    (a) byte-identical files by sha256; (b) otherwise a coarse-to-fine search of every training
    image over zooms and all offsets (masked normalized cross-correlation on luminance, partial
    overlaps included), the best candidates refined at full resolution and confirmed by PSNR on
    the coarser image's grid. Verdicts: identical (same bytes or pixels), same photo (PSNR >=
    --threshold-db on an overlap >= --min-overlap), same scene (PSNR below, but the band-pass
    luminance -- fine texture -- correlates >= --detail-ncc: the same view under another tone
    curve, or another shot of it), clean. Zoom is test pixels per training pixel
    (0.376: the test shows a region 2.66x its size, as a 256-px crop of a 680-px-high photograph);
    offset is where the test's top-left corner lies in the training image.

    \b
    Examples:
      crossspec data audit --train vcip2020:data/vcip2020:train --test vcip2020:data/vcip2020:test-28
      crossspec data audit --train data/epfl-rgbnir-country --test vcip2020:data/vcip2020:test-28 --json a.json
    """
    from crossspec.audit import Params, parse_source, run_audit
    from crossspec.audit.report import format_table, write_json
    from crossspec.io.atomic import check_writable

    if json_path:
        check_writable(json_path, overwrite)  # before the search, which takes minutes
    params = Params(threshold_db=threshold_db, detail_ncc=detail_ncc, min_overlap=min_overlap, zoom_min=zoom_range[0],
                    zoom_max=zoom_range[1], candidates=candidates)
    params.check()
    result = run_audit(parse_source(train_spec), parse_source(test_spec), params, with_nir=nir)
    click.echo(format_table(result))
    if json_path:
        write_json(result, json_path, overwrite=overwrite)
