"""The command line in this process: core.cli.main as `python -m core` runs it
(core/__main__.py only calls it and exits with its status), with what it wrote to stdout
and stderr.  A subprocess would cost each test a Python and torch start (~5 s on this
machine); tests/test_cli.py keeps one that runs `python -m core` itself."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from core import cli


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str) -> Done:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return Done(code, out.getvalue(), err.getvalue())
