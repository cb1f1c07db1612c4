"""``crossspec data``: check a dataset root and list its splits."""
from __future__ import annotations

import click


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
