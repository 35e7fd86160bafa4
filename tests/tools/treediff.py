#!/usr/bin/env python3
"""Compare two directory trees entry by entry: type, mode, owner, size, mtime (ns), xattrs,
symlink targets, device numbers, file content and hardlink structure. Prints each difference
and exits 1 if there is any. Used by the tests and by the benchmark scripts."""
import hashlib
import os
import stat
import sys


def entries(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = p
    out["."] = root
    return out


def describe(p, inode_names, rel):
    st = os.lstat(p)
    d = {
        "type": stat.S_IFMT(st.st_mode),
        "mode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }
    if not stat.S_ISLNK(st.st_mode):
        d["mtime_ns"] = st.st_mtime_ns
    try:
        names = sorted(os.listxattr(p, follow_symlinks=False))
        d["xattrs"] = {n: os.getxattr(p, n, follow_symlinks=False) for n in names}
    except OSError:
        d["xattrs"] = {}
    if stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(p)
    elif stat.S_ISREG(st.st_mode):
        d["size"] = st.st_size
        h = hashlib.blake2b()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        d["content"] = h.hexdigest()
        if st.st_nlink > 1:
            inode_names.setdefault(st.st_ino, []).append(rel)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d["rdev"] = st.st_rdev
    return d


def link_groups(inode_names, within):
    # Groups of names that share an inode, restricted to names inside this tree.
    return sorted(sorted(v) for v in inode_names.values() if len(v) > 1)


def main():
    a, b = sys.argv[1], sys.argv[2]
    ea, eb = entries(a), entries(b)
    diffs = []
    for rel in sorted(set(ea) - set(eb)):
        diffs.append(f"only in {a}: {rel}")
    for rel in sorted(set(eb) - set(ea)):
        diffs.append(f"only in {b}: {rel}")
    ia, ib = {}, {}
    for rel in sorted(set(ea) & set(eb)):
        da, db = describe(ea[rel], ia, rel), describe(eb[rel], ib, rel)
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                diffs.append(f"{rel}: {k} differs: {da.get(k)!r} != {db.get(k)!r}")
    # Every hardlink group of the source must be linked together in the copy too.
    for group in link_groups(ia, a):
        inos = {os.lstat(os.path.join(b, g)).st_ino for g in group if g in eb}
        if len(inos) > 1:
            diffs.append(f"hardlink group split: {group}")
    for d in diffs[:200]:
        print(d)
    if len(diffs) > 200:
        print(f"... and {len(diffs) - 200} more")
    print(f"{len(ea)} entries compared, {len(diffs)} differences")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
