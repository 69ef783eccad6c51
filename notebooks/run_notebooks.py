#!/usr/bin/python3
"""Executes the notebooks headless on the ringloader Java kernel; `./ringloader notebooks` calls it.

Each notebook runs top to bottom in a fresh kernel. A cell that fails stops its notebook, and the
run ends with exit code 1 after printing which cell failed, its first lines and the kernel's error.
The rapaio kernel sometimes never answers its first request (a start-up race in the kernel), so a
kernel that does not start within --startup-timeout is started again, up to --attempts times; a
failing cell is never retried.

Executed copies go to --out; with --save the outputs (charts included) are also written back into
the notebooks themselves, so that they read well on a repository page.
"""
import argparse
import atexit
import glob
import os
import re
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError


def shm_files():
    return {f for f in os.listdir("/dev/shm") if f.startswith("ringloader-")}


def execute(path, args):
    """Runs one notebook; returns (executed notebook, seconds, None) or (None, seconds, message)."""
    for attempt in range(1, args.attempts + 1):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:  # the committed outputs go: only this run's count, and tell a started kernel
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        client = NotebookClient(nb, kernel_name=args.kernel, timeout=args.cell_timeout,
                                startup_timeout=args.startup_timeout,
                                resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        t0 = time.monotonic()
        # The kernel's own log and the output of its JVM go to a file: cell outputs arrive by the protocol.
        log = open(os.path.join(args.out, os.path.basename(path) + ".kernel.log"), "wb" if attempt == 1 else "ab")
        try:
            client.execute(stdout=log, stderr=subprocess.STDOUT)
            return coalesce(nb), time.monotonic() - t0, None
        except CellExecutionError as e:
            return nb, time.monotonic() - t0, describe_failure(nb, str(e))
        except (RuntimeError, TimeoutError, DeadKernelError) as e:
            started = any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")
            atexit.unregister(client._cleanup_kernel)  # nothing left to clean up, and it would fail noisily
            if started or attempt == args.attempts:
                return None, time.monotonic() - t0, f"the kernel failed: {e}"
            print(f"  kernel did not start ({e}); starting it again (attempt {attempt + 1} of {args.attempts})", flush=True)
        finally:
            log.close()
    return None, 0.0, "unreachable"


def coalesce(nb):
    """Joins the stream outputs that follow one another (the kernel sends a printf in pieces)."""
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            if merged and out.get("output_type") == "stream" and merged[-1].get("output_type") == "stream" \
                    and merged[-1].get("name") == out.get("name"):
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged
    return nb


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe_failure(nb, message):
    """The failing cell (its number and first lines) and the error the kernel reported."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                source = "\n".join("      " + line for line in cell.source.splitlines()[:6])
                lines = ANSI.sub("", "\n".join(out.get("traceback", []))).splitlines()
                trace = "\n".join("      " + line for line in lines[-10:])
                return (f"cell {i + 1} failed: {out.get('ename')}: {out.get('evalue')}\n"
                        f"    the cell:\n{source}\n    what the kernel said:\n{trace}")
    return message


def main():
    p = argparse.ArgumentParser()
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--kernel", default="ringloader-java")
    p.add_argument("--out", required=True, help="folder for the executed copies")
    p.add_argument("--save", action="store_true", help="also write the outputs back into the notebooks")
    p.add_argument("--cell-timeout", type=int, default=900)
    p.add_argument("--startup-timeout", type=int, default=8)
    p.add_argument("--attempts", type=int, default=8)
    args = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    paths = args.notebooks or sorted(glob.glob(os.path.join(here, "*.ipynb")))
    os.makedirs(args.out, exist_ok=True)
    before = shm_files()
    failures = 0
    for path in paths:
        name = os.path.basename(path)
        print(f"notebook {name}: running", flush=True)
        nb, seconds, failure = execute(path, args)
        if nb is not None:
            nbformat.write(nb, os.path.join(args.out, name))
        if failure:
            failures += 1
            print(f"notebook {name}: FAILED after {seconds:.1f} s\n  {failure}", flush=True)
            continue
        if args.save:
            nbformat.write(nb, path)
        print(f"notebook {name}: ok in {seconds:.1f} s", flush=True)
    print(f"notebooks: {len(paths) - failures} of {len(paths)} ran without error; executed copies in {args.out}", flush=True)
    left = shm_files() - before
    if left:
        print(f"notebooks: FAILED: the kernels left files in /dev/shm: {', '.join(sorted(left))}", flush=True)
    sys.exit(1 if failures or left else 0)


if __name__ == "__main__":
    main()
