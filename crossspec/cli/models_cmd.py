"""``crossspec models``: list the registered models."""
from __future__ import annotations

import click


@click.command("models")
@click.option("--params", is_flag=True, help="Also build each model (full size, on the meta device) and count its parameters.")
def models_cmd(params: bool) -> None:
    """List registered models with their domains and descriptions."""
    import torch

    from crossspec.models import create_model, get_entry, list_models

    names = list_models()
    width = max(len(n) for n in names)
    for name in names:
        entry = get_entry(name)
        extra = ""
        if params:
            with torch.device("meta"):
                model = create_model(name)
            extra = f"  {sum(p.numel() for p in model.parameters()) / 1e6:8.2f} M"
        click.echo(f"{name:<{width}}  {'/'.join(entry.domains):<8}{extra}  {entry.description}")
