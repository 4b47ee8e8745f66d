"""Run configuration: typed dataclasses, layered presets, ``--set`` overrides and a stable hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from .contract.errors import ConfigError


def check(condition: bool, key: str, value: Any, expected: str) -> None:
    """Raise a ConfigError naming ``key``, its bad ``value`` and what was ``expected``."""
    if not condition:
        raise ConfigError(f"invalid value {value!r} for {key}: expected {expected}")


#: the largest float32: a learning rate above it overflows the optimiser's float32 parameters
FLOAT32_MAX = 3.4028234663852886e38


def check_lr(value: Any, key: str) -> None:
    """A learning rate: positive, finite, and representable in float32 (the parameters' type)."""
    check(isinstance(value, (int, float)) and 0 < value <= FLOAT32_MAX, key, value,
          "a positive number no larger than 3.4e38 (float32)")


@dataclass(frozen=True)
class Range:
    """Declared bounds of a numeric field, checked by :func:`build_dataclass` (no ``__post_init__``
    needed): ``temperature: Annotated[float, Range(gt=0)] = 0.2`` or
    ``temperature: float = field(default=0.2, metadata={"range": Range(gt=0)})``. On a list field
    every element is checked."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def expected(self) -> str:
        """The bounds in words, e.g. ``a number > 0 and <= 1``."""
        parts = [f"{op} {bound:g}" for op, bound in ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
                 if bound is not None]
        return "a number " + " and ".join(parts) if parts else "a number"

    def validate(self, value: Any, key: str) -> None:
        """Raise a ConfigError naming ``key`` when ``value`` (or an element of it) is out of bounds."""
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if item is None:
                continue
            ok = isinstance(item, (int, float)) and not isinstance(item, bool) and item == item and \
                (self.gt is None or item > self.gt) and (self.ge is None or item >= self.ge) and \
                (self.lt is None or item < self.lt) and (self.le is None or item <= self.le)
            check(ok, key, item, self.expected())


@dataclass(frozen=True)
class Check:
    """A declared rule of any field: ``Annotated[str, Check(os.path.isabs, "an absolute path")]`` or
    ``field(metadata={"check": Check(...)})``; ``test(value)`` False is a ConfigError saying ``expected``."""

    test: Any
    expected: str

    def validate(self, value: Any, key: str) -> None:
        check(value is None or bool(self.test(value)), key, value, self.expected)


def _constraints(hint: Any, metadata: Mapping[str, Any]) -> list[Any]:
    """The :class:`Range` / :class:`Check` rules declared on a field (``Annotated`` or ``metadata``)."""
    rules = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, (Range, Check))]
    return rules + [metadata[k] for k in ("range", "check") if isinstance(metadata.get(k), (Range, Check))]


@dataclass
class DataConfig:
    """Where the data comes from and how big the inputs are."""

    root: str | None = None
    #: root folder of ``eval_dataset`` when it differs from the pretraining dataset (transfer);
    #: unset, the transfer dataset is looked for under ``root`` too
    eval_root: str | None = None
    input_size: int = 32
    #: loader worker processes per training process; unset (null): the cores available to it
    #: (os.sched_getaffinity / world size); datasets held in memory never use workers
    num_workers: int | None = None
    #: evaluation view of file-backed image datasets: shorter side resized to ``eval_resize``
    #: (0: input_size / 0.875, 256 for 224), then the centre input_size crop (sslbench.image.views)
    eval_resize: int = 0
    #: where training JPEGs are decoded: "cpu" (loader workers) or "cuda" (batched, on the GPU)
    decode: Literal["cpu", "cuda"] = "cpu"
    #: video (thesis 5.4, B.1): frames kept per clip, clip duration in seconds, and the clips x
    #: spatial crops of the evaluation views (10 x 3 = the 30-view test)
    clip_frames: int = 8
    clip_duration: float = 2.56
    eval_clips: int = 10
    eval_crops: int = 3
    #: UCF101 / HMDB51 official split (1-3); Kinetics subsets: a class-list file and a video-list
    #: file ("{split}" in its path is replaced by the split name)
    split_id: int = 1
    class_list: str | None = None
    video_list: str | None = None

    def __post_init__(self) -> None:
        check(self.input_size > 0, "data.input_size", self.input_size, "a positive integer")
        check(self.num_workers is None or self.num_workers >= 0, "data.num_workers", self.num_workers,
              "an integer >= 0 (or null: the cores available per process)")
        check(self.eval_resize == 0 or self.eval_resize >= self.input_size, "data.eval_resize", self.eval_resize,
              f"0 (input_size / 0.875) or a side >= data.input_size ({self.input_size})")
        check(self.clip_frames > 0, "data.clip_frames", self.clip_frames, "a positive integer (8 or 16 in the thesis)")
        check(self.clip_duration > 0, "data.clip_duration", self.clip_duration, "a positive number of seconds")
        check(self.eval_clips > 0, "data.eval_clips", self.eval_clips, "a positive integer")
        check(self.eval_crops > 0, "data.eval_crops", self.eval_crops, "a positive integer")
        check(self.split_id in (1, 2, 3), "data.split_id", self.split_id, "1, 2 or 3 (the official splits)")


@dataclass
class ModelConfig:
    """Encoder and heads (thesis Tables A.2, B.2: projector layers/hidden/out/BN, predictor)."""

    backbone: str = "resnet18"
    backbone_options: dict = field(default_factory=dict)
    projector_layers: int = 2
    projector_hidden: int = 512
    projector_out: int = 128
    projector_bn: Literal["none", "hidden", "all"] = "hidden"
    predictor_layers: int = 0
    predictor_hidden: int = 512
    predictor_bn: Literal["none", "hidden", "all"] = "hidden"

    def __post_init__(self) -> None:
        check(self.projector_layers >= 1, "model.projector_layers", self.projector_layers, ">= 1")
        check(self.projector_hidden > 0, "model.projector_hidden", self.projector_hidden, "> 0")
        check(self.projector_out > 0, "model.projector_out", self.projector_out, "> 0")
        check(self.predictor_layers >= 0, "model.predictor_layers", self.predictor_layers, ">= 0")
        check(self.predictor_hidden > 0, "model.predictor_hidden", self.predictor_hidden, "> 0")


@dataclass
class SSLConfig:
    """The siamese momentum pipeline of thesis 4.3.1 (Fig. 4.1, eq. 4.2): queue, EMA, symmetry, augmentations."""

    queue_size: int = 4096
    momentum: float = 0.99
    symmetric: bool = False
    online_aug: str = "strong"
    target_aug: str = "strong"
    #: colour-jitter magnitude multiplier (brightness, contrast, saturation, hue) of every view
    color_strength: float = 1.0
    #: multi-crop (thesis A.5.2): number of extra low-resolution views, online branch only (0-4)
    local_crops: int = 0
    local_aug: str = "strong-gamma"
    #: video views (thesis 5.4.1): clip duration x U[1 - j, 1 + j] (``jitter``), probability of
    #: reversing a clip (``reverse``) and of its RGB difference (``diff``, 0.2 in the thesis), and
    #: whether the two clips of a video may overlap
    clip_jitter: float = 0.0
    reverse_p: float = 0.0
    diff_p: float = 0.0
    clip_overlap: bool = True

    def __post_init__(self) -> None:
        check(self.queue_size >= 0, "ssl.queue_size", self.queue_size, "an integer >= 0")
        check(0.0 <= self.clip_jitter < 1.0, "ssl.clip_jitter", self.clip_jitter, "a value in [0, 1)")
        check(0.0 <= self.reverse_p <= 1.0, "ssl.reverse_p", self.reverse_p, "a probability")
        check(0.0 <= self.diff_p <= 1.0, "ssl.diff_p", self.diff_p, "a probability")
        check(0.0 <= self.momentum <= 1.0, "ssl.momentum", self.momentum, "a value in [0, 1]")
        check(self.color_strength >= 0, "ssl.color_strength", self.color_strength, "a number >= 0")
        from .contract.augmentations import LOCAL_CROPS, get_augmentation

        get_augmentation(self.local_aug)
        check(0 <= self.local_crops <= len(LOCAL_CROPS), "ssl.local_crops", self.local_crops,
              f"an integer in [0, {len(LOCAL_CROPS)}] (the local views of thesis A.5.2)")


@dataclass
class TrainConfig:
    """Optimisation: SGD/LARS/AdamW, warm-up + cosine LR, linear scaling rule (thesis A.5.1, A.5.2)."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.06
    lr_scaling: Literal["linear", "none"] = "linear"
    optimizer: Literal["sgd", "lars", "adamw"] = "sgd"
    weight_decay: float = 5e-4
    sgd_momentum: float = 0.9
    warmup_epochs: float = 5.0
    min_lr: float = 0.0
    channels_last: bool = True
    device: str = "auto"
    max_steps: int = 0
    sync_bn: bool = False
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    compile: bool = False
    #: keep the last epoch's checkpoint.pt (whole learner + optimizer) once backbone.pt is written;
    #: false drops it (backbone.pt is all evaluation needs); not part of the pretraining's identity
    keep_checkpoint: bool = True
    #: also write loss, lr, momentum, lambda, throughput and data wait to <run>/tensorboard
    #: (needs the ``tensorboard`` extra); not part of the pretraining's identity
    tensorboard: bool = False

    def __post_init__(self) -> None:
        check(self.epochs >= 0, "train.epochs", self.epochs, "an integer >= 0")
        check(self.batch_size > 0, "train.batch_size", self.batch_size, "a positive integer")
        check_lr(self.lr, "train.lr")
        check(self.weight_decay >= 0, "train.weight_decay", self.weight_decay, ">= 0")
        check(0 <= self.sgd_momentum < 1, "train.sgd_momentum", self.sgd_momentum, "a value in [0, 1)")
        check(self.warmup_epochs >= 0, "train.warmup_epochs", self.warmup_epochs, ">= 0")
        check(self.min_lr >= 0, "train.min_lr", self.min_lr, ">= 0")
        check(self.max_steps >= 0, "train.max_steps", self.max_steps, "an integer >= 0 (0 = no cap)")
        check(
            self.device in ("auto", "cpu") or self.device.startswith("cuda"),
            "train.device", self.device, "'auto', 'cpu' or 'cuda[:N]'",
        )

    def scaled_lr(self) -> float:
        """The learning rate after the linear scaling rule lr x batch / 256."""
        return self.lr * self.batch_size / 256 if self.lr_scaling == "linear" else self.lr


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "ssl": SSLConfig, "train": TrainConfig}


@dataclass
class RunConfig:
    """The effective configuration of one ``sslbench run``."""

    method: str
    dataset: str
    protocols: list[str]
    seed: int = 0
    eval_dataset: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    method_params: Any = None
    protocol_params: dict[str, Any] = field(default_factory=dict)
    #: facts, not settings (``resolve_config`` fills them): whether the method trains
    #: (``Method.trains``) and how many processes pretrain (torchrun's WORLD_SIZE, else 1)
    trains: bool = True
    world_size: int = 1
    #: ``section.field`` keys the method never reads (``Method.unused_config``): left out of
    #: :meth:`to_dict`, hence of ``--dry-run``, the stored config and every hash
    unused: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict in the same shape as a ``--config`` YAML file; ``trains: false`` and
        ``world_size`` appear only when they differ from a 1-process training method (so the
        hashes of such runs are those of earlier versions)."""
        out: dict[str, Any] = {
            "method": self.method,
            "dataset": self.dataset,
            "protocols": list(self.protocols),
            "seed": self.seed,
            "eval_dataset": self.eval_dataset,
        }
        if not self.trains:
            out["trains"] = False
        if self.world_size != 1:
            out["world_size"] = self.world_size
        for name in SECTIONS:
            out[name] = dataclasses.asdict(getattr(self, name))
        for key in self.unused:
            section, _, name = key.partition(".")
            out[section].pop(name, None)
        if self.method_params is not None:
            out[self.method] = dataclasses.asdict(self.method_params)
        for name, params in self.protocol_params.items():
            out[name] = dataclasses.asdict(params)
        return out

    def pretrain_dict(self) -> dict[str, Any]:
        """The part of the config that determines the pretrained weights."""
        d = self.to_dict()
        for key in ("protocols", "eval_dataset", *self.protocol_params):
            d.pop(key, None)
        d["data"].pop("num_workers", None)
        d["data"].pop("decode", None)  # where JPEGs are decoded, like train.device
        d["data"].pop("eval_resize", None)  # evaluation views only
        from .contract.augmentations import CROP_PIPELINE

        d["data"]["crops"] = CROP_PIPELINE  # training crops: torchvision's rule on the full image (sslbench.image)
        d["train"].pop("tensorboard", None)
        d["data"].pop("eval_root", None)  # where the transfer dataset lives
        d["data"].pop("eval_clips", None)  # evaluation views only
        d["data"].pop("eval_crops", None)
        d["train"].pop("device", None)
        d["train"].pop("keep_checkpoint", None)  # what is kept on disk, not what is trained
        return d

    @property
    def is_transfer(self) -> bool:
        """True when the protocols evaluate another dataset than the pretraining one."""
        return bool(self.eval_dataset) and self.eval_dataset != self.dataset

    def evaluation_root(self) -> str | None:
        """Root folder of the evaluated dataset: ``data.eval_root`` for a transfer, else ``data.root``."""
        if self.is_transfer:
            return self.data.eval_root or self.data.root
        return self.data.root

    def pretrain_hash(self) -> str:
        """Stable hash of :meth:`pretrain_dict` (as :func:`identity` sees it): equal hashes reuse a
        finished pretraining; the world size is part of it."""
        return stable_hash(identity(self.pretrain_dict()))

    def config_hash(self) -> str:
        """Stable hash of the whole effective config (as :func:`identity` sees it)."""
        return stable_hash(identity(self.to_dict()))


def unused_keys(method: type) -> tuple[str, ...]:
    """``method.unused_config`` checked: each a ``section.field`` of the run config (a typo would
    otherwise leave a used key in the hash while the method believes it gone)."""
    keys = tuple(getattr(method, "unused_config", ()) or ())
    for key in keys:
        section, _, name = key.partition(".") if isinstance(key, str) else ("", "", "")
        fields = {f.name for f in dataclasses.fields(SECTIONS[section])} if section in SECTIONS else set()
        if name not in fields:
            from .contract.loading import plugin_error

            raise plugin_error("method", getattr(method, "name", method.__name__),
                               f"unused_config names {key!r}, expected section.field keys of the run config "
                               f"(e.g. 'ssl.queue_size')")
    return keys


def warn_unused(user: Mapping[str, Any], unused: tuple[str, ...], method: str) -> None:
    """Say once that a value the user set for a key ``method`` never reads is ignored."""
    import logging

    for key in unused:
        section, _, name = key.partition(".")
        if isinstance(user.get(section), Mapping) and name in user[section]:
            logging.getLogger("sslbench").warning("sslbench: method %r does not use %s: the value set is ignored",
                                                  method, key)


#: what cannot change a method that does not train: the training sections, the heads, the world size
UNTRAINED_IGNORES = ("train", "ssl", "world_size")
HEAD_KEYS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name not in ("backbone", "backbone_options"))


def identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config dict (:meth:`RunConfig.to_dict` or a stored ``config_json``) without what cannot
    change the numbers of its method: a method that does not train (``trains: false``, e.g.
    ``random``) ignores ``train.*``, ``ssl.*``, the projector/predictor and the world size."""
    out = json.loads(json.dumps(dict(config), default=str))
    if out.get("trains") is False:
        for key in UNTRAINED_IGNORES:
            out.pop(key, None)
        for key in HEAD_KEYS:
            (out.get("model") or {}).pop(key, None)
    return out


def launch_world_size() -> int:
    """The number of processes torchrun launched this one with (1 outside torchrun), read from the
    environment before any process group exists (the rule of ``distributed.init_from_env``)."""
    if "RANK" not in os.environ:
        return 1
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        raise ConfigError(f"invalid WORLD_SIZE {os.environ['WORLD_SIZE']!r} in the environment: expected an "
                          f"integer (set by torchrun)") from None


#: the config's single values (not sections): ``--set seed=1`` sets one, ``seed.x=1`` is an error
TOP_LEVEL_KEYS = ("method", "dataset", "protocols", "seed", "eval_dataset")


def top_level_section_error(name: str, key: str) -> ConfigError:
    """``method.lambda=1.5`` would be dropped without a word: ``method`` holds a name, not settings."""
    if name == "method":
        hint = "a method's settings go under its own name, e.g. sce.lam=0.3 (see --dry-run)"
    else:
        hint = f"set it as {name}=VALUE"
    return ConfigError(f"invalid config key {key!r}: {name!r} is a single value, not a section; {hint}")


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (first 16 hex digits)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- building


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["train.epochs=5", "knn.k=[10,20]"]`` -> nested dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"invalid --set {item!r}: expected key=value, e.g. train.epochs=10")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"invalid --set key {key!r}: expected section.field, e.g. train.epochs")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        if len(parts) > 1 and parts[0] in TOP_LEVEL_KEYS:
            raise top_level_section_error(parts[0], key)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"invalid --set key {key!r}: {part!r} is not a section")
        node[parts[-1]] = value
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a ``--config`` YAML file: a mapping in the shape of :meth:`RunConfig.to_dict`."""
    p = Path(path)
    if not p.is_file():
        problem = "is a directory" if p.is_dir() else "does not exist"
        raise ConfigError(f"config file {str(p)!r} {problem}: expected a YAML file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text (byte {exc.start}): expected a YAML file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r}: expected a mapping at the top level")
    return data


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Annotated:  # Annotated[float, Range(gt=0)]: the type, then its rules
        value = _coerce(value, args[0], key)
        for rule in _constraints(tp, {}):
            rule.validate(value, key)
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"invalid value {value!r} for {key}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(
                f"invalid value {value!r} for {key}: expected one of {', '.join(map(repr, args))}"
            )
        return value
    if origin in (list, tuple):
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"invalid value {value!r} for {key}: expected a list")
        inner = args[0] if args else Any
        return [_coerce(v, inner, key) for v in value]
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"invalid value {value!r} for {key}: expected a mapping")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"invalid value {value!r} for {key}: expected true or false")
    if tp in (int, float) and isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" as a string
            value = float(value) if tp is float else int(value)
        except ValueError:
            pass
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"invalid value {value!r} for {key}: expected an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"invalid value {value!r} for {key}: expected a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"invalid value {value!r} for {key}: expected a string")
    return value


def build_dataclass(cls: type, values: Mapping[str, Any] | None, prefix: str) -> Any:
    """Instantiate ``cls`` from ``values``, rejecting unknown keys and coercing types."""
    if values is not None and not isinstance(values, Mapping):  # e.g. `train: 5` in a --config file
        raise ConfigError(f"invalid value {values!r} for {prefix}: expected a mapping of {prefix}.* keys")
    values = dict(values or {})
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f"; did you mean {prefix}.{close[0]}?" if close else ""
        raise ConfigError(
            f"unknown config key {prefix}.{unknown[0]}{hint} (valid keys: {', '.join(sorted(fields))})"
        )
    kwargs = {name: _coerce(v, hints[name], f"{prefix}.{name}") for name, v in values.items()}
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"invalid {prefix}: {exc}") from None
    for name, f in fields.items():  # defaults too: a declared rule holds whatever set the value
        for rule in _constraints(hints.get(name), f.metadata):
            rule.validate(getattr(obj, name, None), f"{prefix}.{name}")
    return obj
