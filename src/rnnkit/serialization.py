"""Saving and loading modules as safetensors files (no pickle).

A file holds every parameter under its PyTorch name (``weight_ih_l0``, ...) and, in the
metadata, the module's class and constructor arguments, so ``rnnkit.load`` rebuilds the
module and ``safetensors.torch.load_file`` + ``load_state_dict`` loads the same file into the
matching ``torch.nn`` module.

>>> import tempfile, os
>>> from rnnkit import LSTM
>>> lstm = LSTM(3, 4, seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "lstm.safetensors")
>>> save(lstm, path)
>>> again = load(path)
>>> bool(np.array_equal(again.weight_hh_l0.data, lstm.weight_hh_l0.data))
True
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from rnnkit.module import MODULE_REGISTRY, Module

FORMAT_KEY = "rnnkit.format"
FORMAT_VERSION = "1"
# Constructor arguments that size the weights: each must show up in the file's tensors (as a
# dimension, or for layer counts as a number of tensors) before a module is built from them.
SIZE_ARGUMENTS = frozenset({
    "hidden_size", "input_size", "embedding_dim", "num_embeddings", "vocab_size", "source_vocab_size",
    "target_vocab_size", "num_layers", "decoder_layers", "proj_size", "in_features", "out_features", "num_classes",
    "num_tags", "num_chars", "num_filters", "kernel_size", "horizon", "output_size", "query_size", "key_size"})


def save(module: Module, path: str | os.PathLike) -> None:
    """Write ``module``'s parameters and constructor arguments to ``path`` atomically.

    The file is written under a temporary name in the same folder and renamed into place,
    so an interrupted save never leaves a half-written file, and an existing file is only
    replaced by a complete one. Non-finite weights are refused.
    """
    if not isinstance(module, Module):
        raise TypeError(f"save expected an rnnkit Module, got {type(module).__name__}")
    tensors = {}
    for name, parameter in module.named_parameters():
        if not np.all(np.isfinite(parameter.data)):
            raise ValueError(f"refusing to save {type(module).__name__}: parameter {name} contains NaN or infinite values")
        tensors[name] = np.ascontiguousarray(parameter.data)
    metadata = {
        FORMAT_KEY: FORMAT_VERSION,
        "rnnkit.class": type(module).__name__,
        "rnnkit.config": json.dumps(module.config),
        "rnnkit.dtype": module.dtype.name,
        "format": "pt",
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=folder)
    except OSError as error:
        raise OSError(f"cannot save {path}: cannot write in {folder} ({error.strerror or error})") from error
    os.close(handle)
    try:
        try:
            save_file(tensors, temporary, metadata=metadata)
            os.chmod(temporary, 0o644)              # mkstemp makes 0600; a checkpoint is for reading
            os.replace(temporary, path)
        except (OSError, SafetensorError) as error:   # name the file the caller asked for, not our temporary one
            reason = getattr(error, "strerror", None) or str(error).replace(temporary, "its temporary file")
            raise OSError(f"cannot save {path}: {reason}") from error
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def read_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and metadata of a safetensors file, with a clear error if it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    try:
        with safe_open(path, framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from error
    return tensors, metadata


def load(path: str | os.PathLike, module: Module | None = None) -> Module:
    """Rebuild the module saved in ``path`` (or load its weights into ``module``) and return it.

    Checks that the file was written by ``rnnkit.save``, that its class is known, and that the
    names, shapes and dtype of its tensors match what the module expects; any difference is
    reported and nothing is loaded.
    """
    tensors, metadata = read_file(path)
    if metadata.get(FORMAT_KEY) != FORMAT_VERSION:
        raise ValueError(f"{os.fspath(path)} was not written by rnnkit.save (metadata {FORMAT_KEY!r} is "
                         f"{metadata.get(FORMAT_KEY)!r}, expected {FORMAT_VERSION!r})")
    class_name = metadata.get("rnnkit.class", "")
    try:
        config = json.loads(metadata.get("rnnkit.config", ""))
    except json.JSONDecodeError as error:
        raise ValueError(f"{os.fspath(path)}: the constructor arguments in its metadata are not valid JSON") from error
    if not isinstance(config, dict):
        raise ValueError(f"{os.fspath(path)}: the constructor arguments in its metadata must be a JSON object, "
                         f"got {type(config).__name__}")
    try:
        dtype = np.dtype(metadata.get("rnnkit.dtype", "float32"))
    except TypeError as error:
        raise ValueError(f"{os.fspath(path)}: its metadata names an unknown dtype "
                         f"{metadata.get('rnnkit.dtype')!r}") from error
    if module is None:
        check_sizes_against_tensors(config, tensors, os.fspath(path))
        if class_name not in MODULE_REGISTRY:
            raise ValueError(f"{os.fspath(path)} holds a {class_name!r}, which is not a known rnnkit module class")
        try:
            module = MODULE_REGISTRY[class_name](**config, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{os.fspath(path)}: cannot rebuild {class_name} from its metadata "
                             f"(arguments {config}, dtype {dtype}): {error}") from error
        except MemoryError as error:            # e.g. sizes in the metadata far beyond the file's tensors
            held = sum(int(array.size) for array in tensors.values())
            raise ValueError(f"{os.fspath(path)}: cannot rebuild {class_name} from its metadata (arguments "
                             f"{config}): the weights they describe do not fit in memory (the file holds "
                             f"{held:,} values)") from error
    elif type(module).__name__ != class_name or module.config != config:
        raise ValueError(f"{os.fspath(path)} holds a {class_name}({config}), which does not match the given "
                         f"{type(module).__name__}({module.config})")
    wrong_dtype = [f"{name}: {array.dtype}" for name, array in tensors.items() if array.dtype != module.dtype]
    if wrong_dtype:
        raise ValueError(f"{os.fspath(path)}: expected {module.dtype} tensors, got {', '.join(wrong_dtype)}")
    try:
        module.load_state_dict(tensors, strict=True)
    except ValueError as error:
        raise ValueError(f"{os.fspath(path)}: {error}") from error
    return module


def check_sizes_against_tensors(config: dict[str, Any], tensors: dict[str, np.ndarray], source: str) -> None:
    """Refuse constructor arguments that describe weights far larger than the file holds, before building them.

    Each size argument (:data:`SIZE_ARGUMENTS`) must be at most the largest tensor dimension in
    the file, or (layer counts) the number of tensors: a 32 KB file whose metadata claims
    ``hidden_size`` 8000 is refused here instead of allocating gigabytes first.
    """
    if not tensors:
        return
    largest = max((max(array.shape, default=1) for array in tensors.values()), default=1)
    bound = max(largest, len(tensors))
    for name, value in config.items():
        if name in SIZE_ARGUMENTS and isinstance(value, int) and not isinstance(value, bool) and value > bound:
            raise ValueError(f"{source}: its metadata says {name}={value}, but the largest tensor in the file has "
                             f"{largest} rows or columns ({len(tensors)} tensors): the metadata does not describe "
                             f"these weights")
