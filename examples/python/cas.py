#!/usr/bin/env python3
"""Volt's Stellarium store from Python: the scenario the Rust and C examples also run.

    python cas.py ROOT DIR

Opens a store with every path under ROOT, stores DIR as a tree named "examples/python", prints
the store's status, checks the tree out (hardlinks) to ROOT/checkout, verifies the store, stores
and reads back a few bytes, and shows a missing ref raising NotFoundError. Exits 1 if any check
fails, 2 on bad arguments.
"""

import os
import sys

import volt


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} ROOT DIR", file=sys.stderr)
        return 2
    root, source = argv[1], argv[2]
    failures = 0

    def check(ok: bool, what: str) -> None:
        nonlocal failures
        print(f"{'ok' if ok else 'FAILED'}: {what}")
        failures += 0 if ok else 1

    store = volt.Store(root)
    print(f"volt {volt.__version__}, store at {store.root}")

    built = store.build(source, ref="examples/python")
    print(f"built {built['root']}: {built['entries']} entries, {built['files']} files, {built['bytes']} bytes")
    check(built["reference"] == "examples/python", "build named the tree examples/python")

    status = store.status()
    print(
        f"status: {status['objects']} objects, {status['refs']} refs, {status['stored_bytes']} bytes stored, "
        f"dedup ratio {status['dedup_ratio']:.2f}"
    )

    dest = os.path.join(root, "checkout")
    co = store.checkout("examples/python", dest, mode="hardlink")
    print(f"checked out {co['entries']} entries to {co['dest']} ({co['linked']} linked, {co['copied']} copied)")
    check(co["root"] == built["root"], "checkout is the tree that was built")

    report = store.verify()
    clean = not (report["corrupt"] or report["missing"] or report["broken_refs"])
    print(f"verify: {report['checked']} files, {report['bytes']} bytes: {'clean' if clean else 'not clean'}")
    check(clean, "store verifies clean")

    put = store.put_bytes(b"hello from Python", ref="examples/python-hello")
    back = store.read(put["id"])
    print(f"put {put['id']} ({put['size']} bytes), read back {back!r}")
    check(back == b"hello from Python", "bytes read back equal bytes put")

    try:
        store.read("examples/no-such-ref")
    except volt.NotFoundError as e:
        print(f"missing ref: {type(e).__name__} {e.kind} (exit code {e.code}): {e}")
        check(isinstance(e, FileNotFoundError) and e.code == 3, "missing ref raises NotFoundError")
    else:
        check(False, "missing ref raises NotFoundError")

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
