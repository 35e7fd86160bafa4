#!/usr/bin/env python3
"""Volt's images and built-in registry from Python: the scenario the Rust and C examples also run.

    python image.py WORK DIR

Imports the directory DIR as the image "example/app:1" into a store under WORK/first and
inspects it, serves that store as an OCI registry on a free loopback port, pushes the image there
with a bearer token, pulls it back into a second, empty store under WORK/second, checks that the
root filesystem tree came back identical, exports the copy as an OCI image layout to WORK/app.oci
and stops the registry. Exits 1 if any check fails, 2 on bad arguments.
"""

import os
import sys

import volt
from volt.types import Progress

NAME = "example/app:1"


def show_progress(p: Progress) -> None:
    """The progress callback: one line per report. Transfers and exports count bytes, "apply"
    counts layers; ``total`` is None when it is not known in advance. It runs on worker threads
    (never two at once), so keep it short: print, bump a counter, or feed a queue."""
    # Digests are long: the algorithm and 12 hex digits are enough to tell blobs apart here.
    item = p["item"][:19] if p["item"].startswith("sha256:") else p["item"]
    if p["total"] is None:
        print(f"  {p['phase']:<8} {item}")
    else:
        print(f"  {p['phase']:<8} {item} {p['done']}/{p['total']}")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} WORK DIR", file=sys.stderr)
        return 2
    work, source = argv[1], argv[2]
    failures = 0

    def check(ok: bool, what: str) -> None:
        nonlocal failures
        print(f"{'ok' if ok else 'FAILED'}: {what}")
        failures += 0 if ok else 1

    # The first store, with every Volt path under WORK/first (as VOLT_ROOT=WORK/first would).
    first = volt.Store(os.path.join(work, "first"))

    # A plain directory imports as a one-layer image with a minimal config for this host.
    print(f"import:   {source} as {NAME}")
    first.images.import_path(source, NAME, progress=show_progress)

    rec = first.images.inspect(NAME)
    print(f"inspect:  id {rec['id']}")
    print(f"          tree {rec['tree']} ({rec['files']} entries, {rec['size']} bytes)")
    print(f"          {len(rec['layers'])} layer(s), source {rec['source']}")

    # Serve the first store as an OCI registry; port 0 picks a free port, .address says which.
    # The `with` block stops it (letting requests in flight finish) however the block is left.
    with first.serve_registry(bind="127.0.0.1:0") as registry:
        print(f"registry: {registry.url}")

        # Pushing needs a token, signed with the store's key so that this registry accepts it.
        # It is a secret: never print it.
        token = first.registry_token(["example/*"], actions="pull,push", ttl="10m", subject="example")

        # The registry part of a reference is HOST:PORT. Loopback registries are spoken to in
        # plain HTTP (any other needs HTTPS unless insecure=True).
        target = f"{registry.address}/example/app:1"
        print(f"push:     {NAME} -> {target}")
        pushed = first.images.push(NAME, target, token=token, progress=show_progress)
        print(
            f"          manifest {pushed['manifest_digest']}, {pushed['uploaded']} blob(s) uploaded, "
            f"{pushed['skipped']} skipped, {pushed['bytes']} bytes"
        )

        # A second store on its own root knows nothing of the first: everything comes over HTTP.
        second = volt.Store(os.path.join(work, "second"))
        print(f"pull:     {target} -> {NAME} (second store)")
        copy = second.images.pull(target, NAME, token=token, progress=show_progress)

        # The tree id is the digest of the whole root filesystem (content, names, modes, links):
        # equal ids mean the image came back identical. The manifest must be the one pushed, too.
        print(f"compare:  tree {copy['tree']}")
        check(copy["tree"] == rec["tree"], "the pulled tree is identical to the imported one")
        check(copy["manifest_digest"] == pushed["manifest_digest"], "the pulled manifest is the one pushed")

        # Export the pulled copy as an OCI image layout directory (skopeo, podman, ... read it; so
        # does import_path). It must be absent or empty; a name ending in .tar makes a tar.
        layout = os.path.join(work, "app.oci")
        print(f"export:   {NAME} -> {layout}")
        exported = second.images.export(NAME, layout, progress=show_progress)
        print(f"          {exported['blobs']} blobs, {exported['bytes']} bytes")
        check(os.path.isfile(os.path.join(layout, "oci-layout")), "the export is an OCI image layout")

    print(f"registry: {'running' if registry.running else 'stopped'}")
    check(not registry.running, "leaving the with block stopped the registry")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
