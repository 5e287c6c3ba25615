"""Streamlit's own static files (JS, CSS, fonts) laid out for nginx: a mirror with gzip copies made ahead of time.

    python deploy/static_assets.py DEST        # DEST/index.html, DEST/static/js/..., and a .gz beside each text file

nginx serves DEST with `gzip_static on`, so no replica spends Python (or a compressor) on these files.
The installed streamlit package is only read: DEST holds links to its files plus the .gz copies.
Run again after upgrading streamlit; a DEST made for another version is rebuilt (see STAMP).
"""

import argparse
import gzip
import os
import shutil
import sys
from pathlib import Path

COMPRESS = {".js", ".css", ".html", ".json", ".svg", ".txt", ".map", ".ttf", ".otf", ".eot", ".wasm", ".mjs"}
MIN_BYTES, MIN_SAVING = 256, 0.9  # keep a .gz only when the file is worth it and it shrinks by 10 % or more
STAMP = ".streamlit-static"  # names the source folder and streamlit's version


def streamlit_static():  # -> (Path of the installed package's static folder, version)
    import streamlit
    from streamlit import file_util

    return Path(file_util.get_static_dir()), streamlit.__version__


def stamp_text(source, version):  # -> str
    return f"{source}\nstreamlit {version}\n"


def compressed(data):  # bytes -> bytes | None: gzip at level 9, or None when it does not pay
    if len(data) < MIN_BYTES:
        return None
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    return packed if len(packed) <= MIN_SAVING * len(data) else None


def build(dest, source=None, version=None):  # -> (files, gz files) written under dest
    """Mirror `source` into `dest` (symlinks to the package's files) and write FILE.gz beside each text file."""
    if source is None:
        source, version = streamlit_static()
    dest = Path(dest)
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text() == stamp_text(source, version):
        return None  # already built for this streamlit
    if dest.exists():
        shutil.rmtree(dest)
    n_files = n_gz = 0
    for path in sorted(Path(source).rglob("*")):
        if not path.is_file() or path.suffix == ".gz":
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path.resolve(), target)
        n_files += 1
        if path.suffix.lower() in COMPRESS and (packed := compressed(path.read_bytes())) is not None:
            target.with_name(target.name + ".gz").write_bytes(packed)
            n_gz += 1
    for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)  # nginx workers started by root run as another user
    stamp.write_text(stamp_text(source, version))
    return n_files, n_gz


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="folder to build (created; rebuilt if made for another streamlit)")
    args = parser.parse_args(argv)
    source, version = streamlit_static()
    if not (source / "index.html").is_file():
        sys.exit(f"streamlit's static folder not found at {source}; reinstall streamlit (bash scripts/setup.sh)")
    done = build(args.dest, source, version)
    print(f"{args.dest}: " + ("up to date" if done is None else f"{done[0]} files, {done[1]} gzip copies") +
          f" (streamlit {version})")  # fmt: skip


if __name__ == "__main__":
    main()
