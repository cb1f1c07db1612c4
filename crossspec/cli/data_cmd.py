"""``crossspec data``: check a dataset root and list its splits."""
from __future__ import annotations

import click


@click.group("data")
def data_cmd() -> None:
    """Dataset utilities."""


@data_cmd.command("verify")
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--dataset", default="vcip2020", show_default=True, type=click.Choice(["vcip2020", "epfl"]))
@click.option("--checksum", is_flag=True, help="Also check every file's sha256 against the manifest.")
def verify(root: str, dataset: str, checksum: bool) -> None:
    """Check that ROOT holds the dataset in the expected layout."""
    from crossspec.data import build_dataset

    kwargs = {"checksum": True} if checksum else {}
    split = "train" if dataset == "vcip2020" else "all"
    ds = build_dataset(dataset, root=root, split=split, **kwargs)
    click.echo(f"{root}: {dataset} OK ({len(ds)} pairs in split {split!r}{', checksums match' if checksum else ''})")


@data_cmd.command("splits")
@click.argument("root", type=click.Path(file_okay=False))
def splits(root: str) -> None:
    """List the VCIP 2020 splits and their sizes for the dataset at ROOT."""
    from crossspec.data import build_dataset
    from crossspec.data.vcip2020 import VCIP2020

    for name in VCIP2020.splits():
        ds = build_dataset("vcip2020", root=root, split=name)
        click.echo(f"{name:<14} {len(ds):4d}")
