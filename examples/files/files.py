"""Files and directories: inputs given as URIs are downloaded before the call; outputs are uploaded
under the raw output data prefix and reported by URI.

    kubetask run examples/files/files.py:word_count -i document=examples/files/poem.txt
    kubetask run examples/files/files.py:shout -i document=examples/files/poem.txt
    kubetask run examples/files/files.py:split_lines -i document=examples/files/poem.txt
"""

import os
import pathlib
import tempfile

import kubetask


@kubetask.task
def word_count(document: kubetask.File) -> int:
    """Words in a text file."""
    return len(document.read_text().split())


@kubetask.task
def shout(document: pathlib.Path) -> pathlib.Path:
    """An upper-cased copy of a text file (pathlib.Path works as well as kubetask.File)."""
    target = pathlib.Path(tempfile.mkdtemp()) / document.name
    target.write_text(document.read_text().upper())
    return target


@kubetask.task
def split_lines(document: kubetask.File) -> kubetask.Directory:
    """A directory with one file per non-empty line."""
    folder = tempfile.mkdtemp()
    lines = [line for line in document.read_text().splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        with open(os.path.join(folder, f"line-{number:03d}.txt"), "w") as stream:
            stream.write(line + "\n")
    return kubetask.Directory(folder)


@kubetask.task
def total_size(folder: kubetask.Directory) -> int:
    """Bytes in all files of a directory."""
    return sum(os.path.getsize(file.path) for file in folder.files())
