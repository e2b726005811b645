"""Run directories: writing one, reading one back, who owns it, which data it read.

Everything that reads or writes a run directory's files goes through this module (the
Trainer writes its checkpoints and reports into the folder it is given). What rnnkit
promises about a run directory (``--out``), and how this module keeps it:

- **One owner.** A training run holds ``.rnnkit.lock`` (:mod:`rnnkit.train.run_lock`); a second
  run on the same directory is refused with the holder's name.
- **A marker.** ``.rnnkit-run`` says that rnnkit made the directory. ``--force`` replaces only
  such a directory (or one from an older rnnkit whose ``config.json`` describes a run), and
  only when it holds nothing but a run's own files: a file rnnkit did not write is never deleted.
- **Nothing is lost before there is something new.** A new run is built in a hidden sibling
  (``.NAME.new-PID``) and moved into place once it has its first checkpoint (:meth:`RunDirectory.commit`);
  the old run (with ``--force``) stays whole until then, and a run that fails before its
  first checkpoint leaves no directory behind (:meth:`RunDirectory.abandon`).
- **Names that do not collide.** Without ``--out`` the name carries the time and a random suffix.
- **Known data.** :func:`fingerprint` records a data file's absolute path, size and SHA-256 in
  ``config.json``; ``--resume`` reads that path and refuses a file that differs (:func:`check_data`).
- **Checked on reading.** :func:`read_document` and :func:`load_run` refuse a missing, corrupt or
  mismatched ``config.json``, vocabulary or checkpoint with the reason (``generate``,
  ``evaluate``, ``predict``, ``export`` and ``--resume`` read runs through them).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from rnnkit.train import checkpoint, report
from rnnkit.train.checkpoint import CHECKPOINT_FILES, atomic_write_json, file_sha256
from rnnkit.train.options import DATA_OPTIONS
from rnnkit.train.run_lock import LOCK_FILE, RunDirectoryError, acquire_lock, process_alive, release_lock
from rnnkit.train.tasks import TASKS, task_fields
from rnnkit.train.trainer import CHECKPOINT_FOLDER

if TYPE_CHECKING:
    from rnnkit.train.trainer import Trainer

__all__ = ["CONFIG_FILE", "DATA_OPTIONS", "LOCK_FILE", "RUN_FILES", "RunContents", "RunDirectory",
           "RunDirectoryError", "check_data", "load_run", "read_document", "record_data"]

CONFIG_FILE = "config.json"
MARKER_FILE = ".rnnkit-run"
MARKER_FORMAT = "rnnkit-run"
# Everything a run writes into --out; --force replaces a run directory that holds only these.
RUN_FILES = (CONFIG_FILE, CHECKPOINT_FOLDER, report.METRICS_FILE, report.PLOT_FILE, report.SUMMARY_JSON,
             report.SUMMARY_MARKDOWN, *sorted({name for module in TASKS.values() for name in module.VOCAB_FILES}))


def default_path(task: str) -> Path:
    """``runs/TASK-YYYYmmdd-HHMMSS-xxxxxx``: the time and a random suffix, so two runs never share one."""
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


# --- what a run directory may hold -------------------------------------------------------------
def _is_temporary(name: str) -> bool:
    """The hidden temporary files of an atomic write (``.config.json.x1y2.tmp``, ``.tmp-x.safetensors``)."""
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith(".tmp-"))


def foreign_entries(folder: Path, run_files: Iterable[str]) -> list[str]:
    """The entries of ``folder`` that rnnkit's runs do not write (relative paths)."""
    known = {*run_files, MARKER_FILE, LOCK_FILE}
    checkpoint_names = {"best", "last", ".best.old", ".last.old", ".best.tmp", ".last.tmp"}
    foreign = []
    for entry in sorted(folder.iterdir()):
        if entry.name not in known and not _is_temporary(entry.name):
            foreign.append(entry.name)
        elif entry.name == "checkpoints" and entry.is_dir():
            for child in sorted(entry.iterdir()):
                if child.name not in checkpoint_names or not child.is_dir():
                    foreign.append(f"checkpoints/{child.name}")
                    continue
                foreign.extend(f"checkpoints/{child.name}/{item.name}" for item in sorted(child.iterdir())
                               if item.name not in CHECKPOINT_FILES and not _is_temporary(item.name))
    return foreign


def is_run_directory(folder: Path) -> bool:
    """True for a directory rnnkit made: its marker, or (older runs) a ``config.json`` that describes a run."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
        return isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT
    except (OSError, ValueError):
        pass
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and isinstance(config.get("task"), str) and isinstance(config.get("options"), dict)


def check_replaceable(folder: Path, run_files: Iterable[str]) -> None:
    """Refuse ``--force`` on a directory that is not an rnnkit run, or that holds files rnnkit did not write."""
    if not is_run_directory(folder):
        raise RunDirectoryError(f"--out {folder} is not an rnnkit run directory (no {MARKER_FILE} and no config.json "
                                f"of a run), so --force will not replace it: choose another --out, or empty it "
                                f"yourself")
    foreign = foreign_entries(folder, run_files)
    if foreign:
        shown = ", ".join(foreign[:10]) + (", ..." if len(foreign) > 10 else "")
        raise RunDirectoryError(f"--force would replace the run in {folder}, but it also holds files rnnkit did not "
                                f"write: {shown}. Move them out first, or choose another --out")


def remove_abandoned_builds(path: Path, log: Callable[[str], None] = print) -> None:
    """Remove ``.NAME.new-PID`` siblings of ``path`` left by runs killed while building (their process is gone)."""
    for sibling in path.parent.glob(f".{path.name}.new-*"):
        pid = sibling.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)
            log(f"note: removed {sibling}, the unfinished build of a run that was killed before its first checkpoint")


# --- the directory of one run ---------------------------------------------------------------------
class RunDirectory:
    """The directory a training run owns: ``folder`` is where it writes now, ``path`` where it ends up.

    Use :meth:`create` for a new run and :meth:`open_existing` for ``--resume``; then
    :meth:`commit` once the first checkpoint exists, and :meth:`close` (or :meth:`abandon` on failure).
    """

    def __init__(self, path: Path, building: Path | None, created: bool):
        self.path = path                    # the final place (--out)
        self.building = building            # the hidden sibling a new run is built in, until commit()
        self.created = created              # whether this run made ``path`` (removed again on failure)

    @property
    def folder(self) -> Path:
        return self.building if self.building is not None else self.path

    @classmethod
    def create(cls, out: str | os.PathLike | None, task: str, force: bool, run_files: Iterable[str] = RUN_FILES,
               log: Callable[[str], None] = print) -> "RunDirectory":
        """Own ``out`` (or a new default name), check that it may be used, and start building the run beside it."""
        path = Path(os.path.normpath(out)) if out else default_path(task)
        resolved = path.resolve()
        if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents or path.name in ("", ".."):
            raise RunDirectoryError(f"--out {out} is the current directory or one above it; a run is built beside "
                                    f"its directory and moved into place, so give a directory below this one "
                                    f"(e.g. --out runs/NAME)")
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"--out {path} is a file, not a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir()
            created = True
        except FileExistsError:
            created = False
        try:
            acquire_lock(path, log)
        except BaseException:
            if created:                  # only while empty: a run that won the lock first has its lock file in it
                try:
                    path.rmdir()
                except OSError:
                    pass
            raise
        run = cls(path, None, created)
        try:
            if any(entry.name != LOCK_FILE for entry in path.iterdir()):
                if not force:
                    raise FileExistsError(f"--out {path} already exists and is not empty: choose another directory, "
                                          f"pass --force to replace the run in it, or --resume to continue it")
                check_replaceable(path, run_files)
            remove_abandoned_builds(path, log)
            building = path.parent / f".{path.name}.new-{os.getpid()}"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            run.building = building
            shutil.copyfile(path / LOCK_FILE, building / LOCK_FILE)       # the owner moves in with the run
            atomic_write_json(building / MARKER_FILE, {"format": MARKER_FORMAT, "version": 1, "task": task,
                                                       "created": time.strftime("%Y-%m-%d %H:%M:%S")})
        except BaseException:
            run.abandon()
            raise
        return run

    @classmethod
    def open_existing(cls, out: str | os.PathLike, log: Callable[[str], None] = print) -> "RunDirectory":
        """Own the existing run directory ``out`` (for --resume)."""
        path = Path(out)
        if not path.is_dir():
            raise FileNotFoundError(f"run directory not found: {path}")
        acquire_lock(path, log)
        return cls(path, None, False)

    def write_start(self, document: dict[str, Any], vocabs: dict[str, Any]) -> None:
        """Write ``config.json`` (``document``, with ``options.out`` set to the final path) and the
        vocabularies (file name -> vocabulary) into the run; on failure the run is abandoned."""
        try:
            for name, vocab in vocabs.items():
                vocab.save(self.folder / name)
            document["options"]["out"] = str(self.path)
            atomic_write_json(self.folder / CONFIG_FILE, document)
        except BaseException:
            self.abandon()
            raise

    def bind(self, trainer: "Trainer", vocab_files: Iterable[str]) -> None:
        """Make every checkpoint of ``trainer`` record the hashes of config.json and the vocabularies,
        and the first one commit the run (from then on the trainer writes into ``path``)."""
        trainer.run_files = {name: file_sha256(self.folder / name) for name in (CONFIG_FILE, *vocab_files)}

        def commit(trainer: "Trainer", name: str) -> None:
            if self.building is not None:
                self.commit()
                trainer.run_dir = self.path
        trainer.on_checkpoint = commit

    def commit(self) -> None:
        """Move the new run into place (replacing the old one, if any); from now on ``folder`` is ``path``."""
        if self.building is None:
            return
        old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(self.path, old)
        try:
            os.replace(self.building, self.path)
        except BaseException:
            os.replace(old, self.path)                 # put the old run back
            raise
        self.building = None
        shutil.rmtree(old, ignore_errors=True)

    def abandon(self) -> None:
        """A run that failed before its first checkpoint: remove what it built; the old run (if any) stays."""
        if self.building is not None:
            shutil.rmtree(self.building, ignore_errors=True)
            self.building = None
            release_lock(self.path)
            if self.created:
                try:
                    self.path.rmdir()
                except OSError:
                    pass
        else:
            release_lock(self.path)

    def close(self) -> None:
        """The run is over: give up ownership (a run never committed is abandoned)."""
        if self.building is not None:
            self.abandon()
        else:
            release_lock(self.path)


# --- reading a run back ---------------------------------------------------------------------------
def read_document(folder: str | os.PathLike, task: str | None = None) -> tuple[dict[str, Any], Path]:
    """A run's ``config.json`` document and folder, checked (and of the given ``task``, when one is given)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"run directory not found: {folder}")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"{folder} is not a training run: {CONFIG_FILE} is missing")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_path} is corrupt: not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("task") not in TASKS or not isinstance(
            document.get("options"), dict):
        raise ValueError(f"{config_path} does not describe a training run (expected \"task\" to be one of "
                         f"{list(TASKS)} and \"options\")")
    if task is not None and document["task"] != task:
        raise ValueError(f"{config_path} describes a {document['task']} run, not a {task} run")
    unknown = set(document["options"]) - set(task_fields(document["task"]))
    if unknown:
        raise ValueError(f"{config_path}: unknown options {sorted(unknown)}")
    return document, folder


def vocab_names(document: dict[str, Any]) -> list[str]:
    """The vocabulary files of a run (language-model runs saved before "vocabs" was recorded: vocab.json)."""
    return list(document.get("vocabs", TASKS[document["task"]].VOCAB_FILES))


def load_vocabs(folder: Path, document: dict[str, Any]) -> dict[str, Any]:
    """The run's vocabularies by file name; a missing file is refused."""
    from rnnkit.data.vocab import Vocab

    vocabs = {}
    for name in vocab_names(document):
        if not (folder / name).is_file():
            raise ValueError(f"{folder} is incomplete: {name} is missing")
        vocabs[name] = Vocab.load(folder / name)
    return vocabs


@dataclass
class RunContents:
    """What a finished (or running) run directory holds, read back and verified."""

    task: str
    document: dict[str, Any]            # config.json
    vocabs: dict[str, Any]              # file name -> Vocab
    model: Any                          # the verified model of the checkpoint asked for
    folder: Path


def load_run(folder: str | os.PathLike, which: str = "best", task: str | None = None) -> RunContents:
    """The config, vocabularies and verified model of checkpoint ``which`` (best or last) of a run."""
    document, folder = read_document(folder, task)
    vocabs = load_vocabs(folder, document)
    path = checkpoint.checkpoint_path(folder / CHECKPOINT_FOLDER, which)
    if path is None:
        raise FileNotFoundError(f"{folder} has no checkpoint {CHECKPOINT_FOLDER}/{which}")
    model = checkpoint.load_model(path)
    module = TASKS[document["task"]]
    if not isinstance(model, module.MODEL_CLASS):
        raise checkpoint.CheckpointError(f"{path} holds a {type(model).__name__}, not a "
                                         f"{module.MODEL_CLASS.__name__}")
    if hasattr(module, "check_model"):
        module.check_model(model, vocabs, path, folder)
    return RunContents(document["task"], document, vocabs, model, folder)


# --- where the data came from -----------------------------------------------------------------------
def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path": absolute path, "size": bytes, "sha256": hex}`` of a data file."""
    file = Path(path).resolve()
    return {"path": str(file), "size": file.stat().st_size, "sha256": file_sha256(file)}


def record_data(options: Any) -> dict[str, dict[str, Any]]:
    """Make the data paths of ``options`` (:data:`~rnnkit.train.options.DATA_OPTIONS`) absolute; return their
    fingerprints by option."""
    records = {}
    for name in DATA_OPTIONS:
        value = getattr(options, name, None)
        if value is not None and Path(value).is_file():
            records[name] = fingerprint(value)
            setattr(options, name, records[name]["path"])
    return records


def data_differences(recorded: dict[str, Any], path: str | os.PathLike) -> list[str]:
    """How the file at ``path`` differs from a recorded fingerprint (empty: the same data)."""
    file = Path(path).resolve()
    differences = []
    if str(file) != recorded.get("path"):
        differences.append(f"the run read {recorded.get('path')}, this is {file}")
    if not file.is_file():
        return differences + [f"{file} does not exist or is not a file"]
    size = file.stat().st_size
    if size != recorded.get("size"):
        differences.append(f"size {size:,} bytes, the run's data had {recorded.get('size'):,}")
    elif file_sha256(file) != recorded.get("sha256"):
        differences.append("same size but different contents (SHA-256 differs)")
    return differences


def check_data(recorded: dict[str, dict[str, Any]], paths: dict[str, str | None], allow_other: bool,
               log: Callable[[str], None] = print) -> None:
    """Refuse to resume on data other than the run's (unless ``allow_other``), saying what differs."""
    if not recorded:
        named = {name: path for name, path in paths.items() if path is not None}
        if named:
            log(f"note: this run was saved by an rnnkit that did not record its data files, so they cannot be "
                f"checked; resuming on {', '.join(str(Path(path).resolve()) for path in named.values())}")
        return
    problems = []
    for name, print_ in recorded.items():
        path = paths.get(name)
        differences = [f"no --{name.replace('_', '-')} given"] if path is None else data_differences(print_, path)
        if differences:
            problems.append(f"--{name.replace('_', '-')}: {'; '.join(differences)}")
    if not problems:
        return
    if not allow_other:
        raise RunDirectoryError(f"--resume would train on other data than the run was started on: "
                                f"{' | '.join(problems)}. Pass --allow-other-data to continue on it anyway")
    log(f"note: resuming on other data (--allow-other-data): {' | '.join(problems)}")
