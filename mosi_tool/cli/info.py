"""`mosi-tool info`: what a checkpoint or engine is, from its own metadata."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .options import handle_errors


def describe(path: Path, meta: Any, info: Any) -> list[str]:
    """Readable lines for a ModelMeta and (for exported artifacts) an ExportInfo."""
    kind = "checkpoint" if info is None else info.format
    lines = [
        f"file       {path} ({kind}, {path.stat().st_size / 1e6:.1f} MB)",
        f"model      {meta.arch} width {meta.width}, {meta.num_classes} classes ({meta.task}), features {meta.feature_dim}",
        f"model id   {meta.model_id or '-'}",
        f"input      {meta.frames} frames x {meta.crop}x{meta.crop} RGB uint8; mean {list(meta.mean)} std {list(meta.std)}",
    ]
    if meta.task == "mosi":
        speeds = " ".join(f"({x},{y})" for x, y in meta.speed_table())
        pan = f", camera pan {meta.camera} px" if meta.camera else ""
        lines.append(f"classes    speeds {meta.speeds}, axes {meta.axes}, mask {meta.mask}{pan}: {speeds}")
    elif meta.class_names:
        lines.append(f"classes    {', '.join(meta.class_names[:10])}{' ...' if len(meta.class_names) > 10 else ''}")
    if meta.training:
        text = json.dumps(meta.training, sort_keys=True)
        lines.append(f"training   {text[:200]}" + (" ... (--json shows all)" if len(text) > 200 else ""))
    if info is not None:
        lines.append(f"precision  {info.precision}; runs on {info.device}" + (f", opset {info.opset}" if info.opset else ""))
        lines.append(f"batch      {_range(info.batch)}; H and W {_range(info.hw)}")
        for key, value in sorted(info.target.items()):
            lines.append(f"built for  {key}: {value}")
        lines.append(f"exported   {info.created} by mosi-tool {info.exporter_version}, torch {info.torch_version}")
    return lines


def _range(bounds: list[int] | None) -> str:
    return "any" if not bounds else f"{bounds[0]}..{bounds[2]} (tuned for {bounds[1]})"


def register(app: typer.Typer) -> None:
    @app.command("info")
    @handle_errors
    def info(
        model: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors) or engine (.onnx, .engine, .pt2).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the raw metadata as JSON.")] = False,
    ) -> None:
        """Print the metadata a checkpoint or engine carries; a checkpoint's weights are checked against the
        digest it records (exit code 2 when they do not match)."""
        from ..artifact import read_artifact
        from ..checkpoint import CheckpointError, verified_state

        meta, export_info = read_artifact(model)
        damage = None
        if export_info is None:
            try:
                verified_state(model, meta)
            except CheckpointError as e:
                damage = str(e)
        if as_json:
            doc = {"mosi_tool": dataclasses.asdict(meta), "export": dataclasses.asdict(export_info) if export_info else None}
            typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        else:
            for line in describe(model, meta, export_info):
                typer.echo(line)
            if export_info is None and damage is None:
                typer.echo("weights    match the digest in the metadata" if meta.weights_sha256 else "weights    no digest recorded")
        if damage is not None:
            typer.echo(f"error: {damage}", err=True)
            raise typer.Exit(2)
