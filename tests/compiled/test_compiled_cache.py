"""The compiled loops' on-disk cache is dropped whenever any compiled source file changes."""

import os

import pytest

from rnnkit.compiled import cache


def _sources(folder, text):
    os.makedirs(folder, exist_ok=True)
    for name in ("loops.py", "helper.py"):
        with open(os.path.join(folder, name), "w") as source:
            source.write(f"# {name}: {text}\n")


def _cache_files(folder):
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, name) for name in ("loops.f-1.py311.nbi", "loops.f-1.py311.1.nbc")]
    for path in paths:
        with open(path, "wb") as written:
            written.write(b"machine code")
    return paths


def test_cache_written_from_other_sources_is_deleted_and_current_one_kept(tmp_path):
    sources, folder = str(tmp_path / "src"), str(tmp_path / "src" / "__pycache__")
    _sources(sources, "version 1")
    unknown = _cache_files(folder)                       # no fingerprint recorded: origin unknown
    assert cache.drop_stale(folder, sources) is True
    assert not any(os.path.exists(path) for path in unknown)

    current = _cache_files(folder)                       # written from version 1, as recorded
    assert cache.drop_stale(folder, sources) is False
    assert all(os.path.exists(path) for path in current)

    with open(os.path.join(sources, "helper.py"), "a") as helper:   # a helper, not the loop file
        helper.write("# edited\n")
    assert cache.drop_stale(folder, sources) is True
    assert not any(os.path.exists(path) for path in current)
    assert cache.drop_stale(folder, sources) is False    # recorded again: nothing more to drop


def test_fingerprint_follows_names_and_contents(tmp_path):
    sources = str(tmp_path)
    _sources(sources, "a")
    first = cache.fingerprint(sources)
    assert cache.fingerprint(sources) == first
    os.rename(os.path.join(sources, "helper.py"), os.path.join(sources, "other.py"))
    assert cache.fingerprint(sources) != first


def test_the_package_cache_is_recorded_for_its_current_sources():
    from rnnkit import compiled

    if not compiled.available():
        pytest.skip(f"compiled loops unavailable: {compiled.unavailable_reason()}")
    stamp = os.path.join(cache.FOLDER, "__pycache__", cache.STAMP)
    if not os.access(cache.FOLDER, os.W_OK):
        pytest.skip("read-only install: Numba caches elsewhere")
    with open(stamp) as recorded:
        assert recorded.read().strip() == cache.fingerprint()
