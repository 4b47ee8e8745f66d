"""Built-in action spotting: the ``tamap`` protocol and command (t-AmAP of SoccerNet-v2), the
``soccernet`` dataset (its own modality: whole games of frames, labels and feature
banks) and COMEDIAN's video transformers ``vivit-tiny``, ``vivit-small``, ``viswin-tiny``.

The video transformers map windows of frames ``(B, T_g, C, H, W)`` to one token per 1-s window
``(B, T_l, D)``, not pooled image features: they take ``soccernet`` data, and every method that
runs on it (COMEDIAN, ``random``) is compared by the ``tamap`` protocol
(:mod:`sslbench.spotting.protocol`)."""

from __future__ import annotations

import click

from sslbench import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("labels_dir", type=click.Path(file_okay=False))
    @click.argument("predictions_dir", type=click.Path(file_okay=False))
    @click.option("--metric", type=click.Choice(["tight", "loose"]), default="tight", show_default=True,
                  help="Tolerances: tight = 1..5 s (t-AmAP), loose = 5..60 s.")
    @click.option("--json", "as_json", is_flag=True,
                  help="Print one JSON object instead of a table (with each class's AP at each tolerance).")
    def tamap(labels_dir: str, predictions_dir: str, metric: str, as_json: bool) -> None:
        """Average-mAP of action spotting, equal to the official SoccerNet evaluator.

        LABELS_DIR holds <game>/Labels-v2.json and PREDICTIONS_DIR <game>/results_spotting.json;
        games are found recursively and matched by their relative path.
        """
        import json

        from sslbench.spotting.tamap import evaluate_folders, format_table

        result = evaluate_folders(labels_dir, predictions_dir, metric)
        click.echo(json.dumps(result, indent=2) if as_json else format_table(result))

    @cli.command("spotting-nms")
    @click.argument("raw_dir", type=click.Path(file_okay=False))
    @click.argument("output_dir", type=click.Path(file_okay=False))
    @click.option("--nms", type=click.Choice(["hard", "soft", "none"]), default="hard", show_default=True)
    @click.option("--window", type=float, help="NMS window in seconds (default: 5 hard, 10 soft).")
    @click.option("--decay", type=click.Choice(["gaussian", "linear"]), default="gaussian", show_default=True,
                  help="Soft-NMS decay.")
    @click.option("--min-score", type=float, default=0.0, show_default=True, help="Drop lower scores.")
    def spotting_nms(raw_dir: str, output_dir: str, nms: str, window: float | None, decay: str, min_score: float) -> None:
        """Redo NMS on kept raw scores: RAW_DIR/<game>/raw_predictions.npz -> OUTPUT_DIR/<game>/results_spotting.json."""
        from sslbench.contract.errors import SSLBenchError
        from sslbench.spotting.inference import predictions_from_raw

        if window is not None and not window > 0:
            raise SSLBenchError(f"invalid --window {window}: expected seconds > 0")
        games = predictions_from_raw(raw_dir, output_dir, nms, window, decay, min_score)
        if not games:
            raise SSLBenchError(f"{raw_dir}: no <game>/raw_predictions.npz found")
        click.echo(f"wrote {len(games)} results_spotting.json under {output_dir}")

    @cli.command("soccernet-frames")
    @click.argument("root", type=click.Path(file_okay=False))
    @click.option("--height", type=int, default=224, show_default=True)
    @click.option("--width", type=int, default=398, show_default=True)
    def soccernet_frames(root: str, height: int, width: int) -> None:
        """Extract the frames of every <game>/<half>_224p.mkv under ROOT at 2 fps into <game>/<half>/000001.jpg...
        (halves whose frames folder exists are skipped)."""
        from sslbench.spotting.soccernet import extract_all

        written = extract_all(root, size=(height, width))
        click.echo(f"extracted {len(written)} halves under {root}")

    @cli.command("soccernet-pca")
    @click.argument("features_dir", type=click.Path(file_okay=False))
    @click.option("--dim", type=click.IntRange(1), default=512, show_default=True, help="Dimensions kept.")
    @click.option("--features", default="baidu_soccer_embeddings", show_default=True,
                  help="Feature name: files are <half>_<features>.npy.")
    @click.option("--split", default="train", show_default=True,
                  help="The split whose games the PCA is fitted on (ROOT/<split>/ or ROOT/<split>.txt).")
    def soccernet_pca(features_dir: str, dim: int, features: str, split: str) -> None:
        """Reduce a SoccerNet feature bank with PCA (thesis 6.4.1: Baidu features to 512 dims).

        Fits one PCA on the <half>_<features>.npy of the train split's games (streamed, in bounded
        memory) and writes <half>_<features>_PCA<dim>.npy beside every such file under
        FEATURES_DIR (atomically), plus the PCA itself.
        """
        from sslbench.spotting.pca import reduce_bank

        written = reduce_bank(features_dir, dim, features, split)
        click.echo(f"wrote {len(written)} files of {dim}-d features under {features_dir}")


def _video_transformer(name):
    def build(variant, in_chans, **options):
        from sslbench.spotting.models import build_video_transformer

        return build_video_transformer(name, in_chans, **options)

    build.__doc__ = f"COMEDIAN's {name} (Table C.1): spatial timm encoder per 1-s window + 4 temporal ViT blocks"
    build.modality = "soccernet"
    return build


@hookimpl
def register_backbones(register):
    for name in ("vivit-tiny", "vivit-small", "viswin-tiny"):
        register(name, _video_transformer(name))


def _soccernet(root, split, image_size):
    from sslbench.spotting.soccernet import SoccerNetSplit

    return SoccerNetSplit(root, split)


@hookimpl
def register_datasets(register):
    from sslbench.contract.dataset import DatasetSpec

    register(DatasetSpec(name="soccernet", load=_soccernet, num_classes=17, splits=("train", "valid", "test", "challenge"),
                         modality="soccernet", defaults={"model": {"backbone": "vivit-tiny"}},
                         layout="<split>/<league>/<season>/<game>/ with Labels-v2.json, frames 1/000001.jpg... "
                                "and 2/..., features <half>_<name>.npy",
                         description="SoccerNet-v2 action spotting (2 fps frames, Labels-v2.json, 1 fps features); "
                                     "for --protocol tamap"))


@hookimpl
def register_protocols(register):
    from sslbench.spotting.protocol import TAmAP

    register(TAmAP)
