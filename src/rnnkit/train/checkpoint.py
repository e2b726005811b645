"""Checkpoints that resume a run exactly, written so that a crash never leaves half of one.

A checkpoint is a folder (``checkpoints/best``, ``checkpoints/last``) of three files:

- ``model.safetensors``: the weights, written by :func:`rnnkit.save`, so ``rnnkit.load`` on
  this one file rebuilds the model;
- ``trainer_state.safetensors``: the arrays of the optimiser state (``optimizer.{index}.{name}``)
  and of the task (``task.{name}``, e.g. the hidden state carried between LM windows);
- ``state.json``: everything else: the optimiser's hyper-parameters and step counts (its
  int keys written as strings), the model's random-generator state, the trainer's position
  (epoch, window, step) and history, the SHA-256 of both tensor files and of the run's own
  files it belongs with (``config.json``, the vocabularies: ``run_files``), and the SHA-256 of
  the document itself (``checksum``), so a hand-edited ``state.json`` or a vocabulary that is not
  the checkpoint's is refused rather than used.

:func:`save_checkpoint` writes the three files into a hidden temporary folder and then swaps
it in with two renames; if a crash falls between them, :func:`checkpoint_path` finds the
previous checkpoint under its ``.old`` name. :func:`read_checkpoint` refuses a checkpoint
whose files are missing, unreadable, or do not match the hashes recorded with them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import save_file

from rnnkit.module import Module
from rnnkit.optim.optimizer import COUNT_NAMES, Optimizer
from rnnkit.serialization import load as load_module
from rnnkit.serialization import read_file
from rnnkit.serialization import save as save_module

FORMAT = "rnnkit-checkpoint"
VERSION = 1
MODEL_FILE = "model.safetensors"
TENSOR_FILE = "trainer_state.safetensors"
STATE_FILE = "state.json"
CHECKPOINT_FILES = (MODEL_FILE, TENSOR_FILE, STATE_FILE)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says which file and why."""


# --- small atomic writers -----------------------------------------------------------------
def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error}") from error
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)              # mkstemp makes 0600; a run's files are for reading
        os.replace(temporary, path)
    except OSError as error:                    # name the file asked for, not the temporary one
        if os.path.exists(temporary):
            os.remove(temporary)
        raise OSError(f"cannot write {path}: {error.strerror or error}") from error
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def atomic_write_json(path: str | os.PathLike, document: Any) -> None:
    """Write ``document`` as JSON; NaN or infinite numbers are refused (they are not JSON)."""
    try:
        text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"refusing to write {path}: it would hold a NaN or infinite number ({error})") from error
    atomic_write_text(path, text + "\n")


def document_checksum(document: dict[str, Any]) -> str:
    """The SHA-256 of a JSON document without its own ``checksum`` key (keys sorted)."""
    rest = {key: value for key, value in document.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the optimiser state as JSON + arrays ---------------------------------------------------
def split_optimizer_state(optimizer: Optimizer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``optimizer.state_dict()`` as a JSON-ready dict (string keys) and a dict of arrays."""
    state = optimizer.state_dict()
    counts: dict[str, dict[str, int]] = {}
    arrays: dict[str, np.ndarray] = {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            if name in COUNT_NAMES:
                counts.setdefault(str(index), {})[name] = int(value)
            else:
                arrays[f"optimizer.{index}.{name}"] = np.ascontiguousarray(value)
    hyper = {name: (list(value) if isinstance(value, tuple) else value)
             for name, value in state["hyperparameters"].items()}
    document = {"optimizer": state["optimizer"], "hyperparameters": hyper, "step_count": state["step_count"],
                "num_parameters": state["num_parameters"], "counts": counts,
                "arrays": sorted({name.rsplit(".", 1)[0] for name in arrays})}
    return document, arrays


def join_optimizer_state(document: dict[str, Any], tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    """The inverse of :func:`split_optimizer_state`: a dict for ``Optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for index, entries in document["counts"].items():
        state.setdefault(int(index), {}).update(entries)
    for name, array in tensors.items():
        if name.startswith("optimizer."):
            _, index, entry = name.split(".", 2)
            state.setdefault(int(index), {})[entry] = array
    return {"optimizer": document["optimizer"], "hyperparameters": document["hyperparameters"],
            "step_count": document["step_count"], "num_parameters": document["num_parameters"], "state": state}


# --- whole checkpoints ----------------------------------------------------------------------
def checkpoint_path(folder: str | os.PathLike, name: str) -> Path | None:
    """The folder of checkpoint ``name`` under ``folder``, or None if there is none.

    Falls back to ``.{name}.old``, the previous checkpoint, when a crash interrupted the swap.
    """
    folder = Path(folder)
    for candidate in (folder / name, folder / f".{name}.old"):
        if (candidate / STATE_FILE).is_file():
            return candidate
    return None


def save_checkpoint(folder: str | os.PathLike, name: str, model: Module, optimizer: Optimizer,
                    trainer_state: dict[str, Any], task_arrays: dict[str, np.ndarray],
                    run_files: dict[str, str] | None = None) -> Path:
    """Write checkpoint ``folder/name`` (a folder of three files) and return its path.

    ``trainer_state`` must be JSON-ready; ``task_arrays`` are stored as ``task.{key}``;
    ``run_files`` maps files of the run directory (``folder``'s parent) to their SHA-256, which
    :func:`read_checkpoint` checks again.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final, temporary, old = folder / name, folder / f".{name}.tmp", folder / f".{name}.old"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        save_module(model, temporary / MODEL_FILE)
        optimizer_document, arrays = split_optimizer_state(optimizer)
        arrays.update({f"task.{key}": np.ascontiguousarray(value) for key, value in task_arrays.items()})
        save_file(arrays, str(temporary / TENSOR_FILE), metadata={"format": FORMAT})
        os.chmod(temporary / TENSOR_FILE, 0o644)        # safetensors writes 0600; a run's files are for reading
        document = {
            "format": FORMAT, "version": VERSION,
            "model": {"class": type(model).__name__, "config": model.config, "dtype": model.dtype.name},
            "files": {MODEL_FILE: file_sha256(temporary / MODEL_FILE),
                      TENSOR_FILE: file_sha256(temporary / TENSOR_FILE)},
            "optimizer": optimizer_document,
            "rng": model.rng.bit_generator.state,
            "trainer": trainer_state,
            "run_files": dict(run_files or {}),
        }
        document["checksum"] = document_checksum(document)
        atomic_write_json(temporary / STATE_FILE, document)
    except (OSError, SafetensorError) as error:
        shutil.rmtree(temporary, ignore_errors=True)     # no half-written checkpoint left behind
        reason = getattr(error, "strerror", None) or str(error).replace(str(temporary), "its temporary folder")
        raise OSError(f"cannot save checkpoint {final}: {reason}") from error
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(temporary, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and verify a checkpoint folder: returns its ``state.json`` document.

    Raises :class:`CheckpointError` naming the file and the reason when a file is missing,
    is not valid, or its hash differs from the one recorded (a corrupt or mixed checkpoint).
    """
    path = Path(path)
    state_path = path / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint: {STATE_FILE} is missing")
    try:
        document = json.loads(state_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{state_path} is corrupt: not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{state_path} is not an rnnkit checkpoint (expected \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise CheckpointError(f"{state_path}: unsupported checkpoint version {document.get('version')!r} "
                              f"(this rnnkit reads {VERSION})")
    if "checksum" in document and document["checksum"] != document_checksum(document):
        raise CheckpointError(f"{state_path} was changed after it was written (its checksum differs): a "
                              f"hand-edited or damaged checkpoint is not used")
    for key in ("model", "files", "optimizer", "rng", "trainer"):
        if key not in document:
            raise CheckpointError(f"{state_path} is incomplete: the key {key!r} is missing")
    if not isinstance(document["files"], dict) or not isinstance(document["optimizer"], dict):
        raise CheckpointError(f"{state_path}: \"files\" and \"optimizer\" must be JSON objects")
    check_trainer_state(document["trainer"], state_path)
    for file_name in (MODEL_FILE, TENSOR_FILE):
        file_path = path / file_name
        if not file_path.is_file():
            raise CheckpointError(f"checkpoint {path} is incomplete: {file_name} is missing")
        if file_sha256(file_path) != document["files"].get(file_name):
            raise CheckpointError(f"{file_path} is corrupt or from another checkpoint: its SHA-256 differs from "
                                  f"the one recorded in {STATE_FILE}")
    run_files = document.get("run_files", {})
    if not isinstance(run_files, dict):
        raise CheckpointError(f"{state_path}: \"run_files\" must be a JSON object")
    run_folder = path.parent.parent
    for file_name, digest in run_files.items():
        file_path = run_folder / file_name
        if file_path.is_file() and file_sha256(file_path) != digest:
            raise CheckpointError(f"{file_path} does not match checkpoint {path}: its SHA-256 differs from the "
                                  f"one recorded in {STATE_FILE} (the file was changed or replaced after training)")
    return document


def load_model(path: str | os.PathLike, model: Module | None = None) -> Module:
    """The model of the verified checkpoint ``path`` (rebuilt, or loaded into ``model``)."""
    read_checkpoint(path)
    try:
        return load_module(Path(path) / MODEL_FILE, model)
    except (ValueError, TypeError, FileNotFoundError) as error:
        raise CheckpointError(f"cannot use checkpoint {path}: {error}") from error


def restore_checkpoint(path: str | os.PathLike, model: Module, optimizer: Optimizer) -> tuple[dict, dict]:
    """Load a verified checkpoint into ``model`` and ``optimizer`` (and the model's RNG).

    Returns the trainer state and the task arrays. A model or optimiser that does not match
    is refused with the reason, and a refused checkpoint leaves the model's weights and random
    generator and the optimiser's state as they were.
    """
    document = read_checkpoint(path)
    weights, optimizer_state, rng_state = model.state_dict(), optimizer.state_dict(), model.rng.bit_generator.state
    try:
        load_model(path, model)
        tensors, _ = read_file(Path(path) / TENSOR_FILE)
        try:
            optimizer.load_state_dict(join_optimizer_state(document["optimizer"], tensors))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            raise CheckpointError(f"cannot use checkpoint {path}: its optimiser state does not fit: "
                                  f"{error}") from error
        try:
            model.rng.bit_generator.state = document["rng"]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            raise CheckpointError(f"cannot use checkpoint {path}: bad random-generator state ({error})") from error
    except CheckpointError:
        model.load_state_dict(weights)
        optimizer.load_state_dict(optimizer_state)
        model.rng.bit_generator.state = rng_state
        raise
    task_arrays = {name[len("task."):]: array for name, array in tensors.items() if name.startswith("task.")}
    return document["trainer"], task_arrays


# --- the trainer's fields, checked before anything uses them -------------------------------------------
def _number(value: Any) -> bool:
    """A finite int or float (not a bool, not an int too large for a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_trainer_state(state: Any, source: str | os.PathLike) -> None:
    """Refuse a trainer state whose fields have the wrong type or range, naming the field.

    The position (epoch, window, step, tokens) must be whole numbers >= 0, the scores finite
    numbers or null, the running sums lists of the right length, the logs lists of rows.
    """
    def bad(field: str, expected: str) -> CheckpointError:
        shown = json.dumps(state.get(field)) if isinstance(state, dict) else ""
        return CheckpointError(f"{source}: trainer field {field!r} must be {expected}, got {shown[:80]}")

    if not isinstance(state, dict):
        raise CheckpointError(f"{source}: the trainer state must be a JSON object")
    for field in ("epoch", "window", "step", "tokens", "bad_epochs"):
        if field in state and not _count(state[field]):
            raise bad(field, "a whole number >= 0")
    if "elapsed_s" in state and not (_number(state["elapsed_s"]) and state["elapsed_s"] >= 0):
        raise bad("elapsed_s", "a finite number >= 0")
    for field in ("best_loss", "patience_best", "start_loss", "start_val_loss"):
        if state.get(field) is not None and not _number(state[field]):
            raise bad(field, "a finite number or null")
    step = state.get("step", 0)
    for field in ("best_step", "last_validation_step"):
        if state.get(field) is not None and not (_count(state[field]) and state[field] <= step):
            raise bad(field, f"null or a step between 0 and the checkpoint's step ({step})")
    shapes = {"this_epoch": (_number, _number, _count), "since_log": (_number, _count)}
    for field, kinds in shapes.items():
        value = state.get(field, [0] * len(kinds))
        if not (isinstance(value, list) and len(value) == len(kinds)
                and all(is_kind(item) for is_kind, item in zip(kinds, value))):
            raise bad(field, f"a list of {len(kinds)} numbers")
    train_log = state.get("train_log", [])
    if not isinstance(train_log, list) or not all(isinstance(row, list) and len(row) == 2 and _count(row[0])
                                                  and _number(row[1]) for row in train_log):
        raise bad("train_log", "a list of [step, loss] rows")
    history = state.get("history", [])
    if not isinstance(history, list) or not all(isinstance(row, dict) and _count(row.get("step")) for row in history):
        raise bad("history", "a list of validation rows, each with a \"step\"")
