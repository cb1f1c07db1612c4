"""``crossspec models``: list the registered models, or show one (a pretrained model's card)."""
from __future__ import annotations

import click

SCORE_SPLIT = "test-clean-20"
SCORES = (("psnr", "PSNR", "{:.2f}"), ("ssim", "SSIM", "{:.3f}"), ("lpips", "LPIPS", "{:.3f}"))


def _params(name: str) -> float:
    import torch

    from crossspec.models import create_model

    with torch.device("meta"):  # counts without allocating or loading weights
        model = create_model(name, pretrained=False)
    return sum(p.numel() for p in model.parameters()) / 1e6


def _scores(entry) -> list[str]:
    row = entry.pretrained.split_metrics(SCORE_SPLIT) if entry.pretrained is not None else {}
    return [fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in SCORES]


def _show(name: str, params: bool) -> None:
    from crossspec.models import get_entry, pretrained_names

    entry = get_entry(name)
    if entry.pretrained is not None:
        spec = entry.pretrained
        click.echo(spec.card_text().rstrip("\n"))
        click.echo(f"\n---\n{name}: {spec.architecture} {spec.kwargs}, domain {spec.domain} ({spec.imagery} imagery"
                   f"{', the default' if spec.default else ''}), weights {spec.weights} "
                   f"(sha256 {spec.sha256})" + (f", {_params(name):.2f} M parameters" if params else ""))
        return
    with_weights = [n for n in pretrained_names() if get_entry(n).pretrained.architecture == name]
    click.echo(f"{name}: {entry.description}")
    click.echo(f"  domains: {', '.join(entry.domains)}; task: {entry.task}; trainable: {'yes' if entry.trainable else 'no'}")
    if params:
        click.echo(f"  parameters: {_params(name):.2f} M")
    click.echo(f"  pretrained weights: {', '.join(with_weights) if with_weights else 'none shipped'}")


@click.command("models")
@click.argument("name", required=False)
@click.option("--params", is_flag=True, help="Also build each model (full size, on the meta device) and count its parameters.")
def models_cmd(name: str | None, params: bool) -> None:
    """List registered models with their domains and descriptions; with NAME, show that model
    (for a pretrained model: its card).

    Models marked `*` ship with trained weights (loaded by `--model NAME` in `eval` and
    `colorize`); their measured test-clean-20 scores are shown.
    """
    from crossspec.models import get_entry, list_models

    if name is not None:
        _show(name, params)
        return
    names = list_models()
    shipped = bool(list_models(pretrained=True))  # score columns only when some model has scores to show
    width = max(len(n) for n in names)
    header = "  ".join(f"{h:>6}" for _, h, _ in SCORES) + "  " if shipped else ""
    click.echo(f"{'model':<{width}}  {'domains':<8}{'   params' if params else ''}  {header}description")
    for n in names:
        entry = get_entry(n)
        mark = "*" if entry.pretrained is not None else ""
        extra = f"  {_params(n):6.2f}M" if params else ""
        scores = "  ".join(f"{s:>6}" for s in _scores(entry)) + "  " if shipped else ""
        click.echo(f"{n + mark:<{width + 1}} {'/'.join(entry.domains):<8}{extra}  {scores}{entry.description}")
    if shipped:
        click.echo(f"* ships with trained weights (`--model NAME` in eval and colorize); scores: VCIP 2020 "
                   f"{SCORE_SPLIT} measured on those weights (overhead models: held-out rasters, on their card); "
                   "`crossspec models NAME` shows the card")
