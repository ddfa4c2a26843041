#!/usr/bin/env python3
"""oci-busybox.py OUT.tar REF [CMD...]
Write a one-layer OCI image-layout tar (rootfs = Debian's busybox-static + a few applet links),
loadable with `ctr images import OUT.tar` (and `podman load`, `skopeo copy oci-archive:`). Stdlib only;
the output is byte-for-byte reproducible (mtime 0, fixed owners, sorted JSON)."""
import gzip, hashlib, io, json, sys, tarfile

def entry(tar, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, target=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, target
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

def tar_bytes(fill, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        fill(tar)
    return buf.getvalue()

def canon(obj):                       # canonical JSON: sorted keys, no spaces
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()

def main():
    out, ref, cmd = sys.argv[1], sys.argv[2], sys.argv[3:] or ["sh"]
    busybox = open("/bin/busybox", "rb").read()          # from package busybox-static
    applets = "sh ash echo cat ls id env sleep true false hostname ps kill ip ifconfig wget nc httpd".split()

    def rootfs(tar):
        for d in ("bin", "dev", "etc", "proc", "root", "run", "sys", "tmp", "var"):
            entry(tar, d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        entry(tar, "bin/busybox", data=busybox, mode=0o755)
        for a in applets:
            entry(tar, "bin/" + a, tarfile.SYMTYPE, mode=0o777, target="busybox")
        entry(tar, "etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        entry(tar, "etc/group", data=b"root:x:0:\nnobody:x:65534:\n")

    layer = tar_bytes(rootfs)                            # uncompressed layer -> diff_id
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(layer)
    layer_gz = gz.getvalue()                             # compressed layer -> blob digest

    blobs = {}
    def put(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    config = canon({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": cmd, "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    })
    manifest = canon({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": put(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [put(layer_gz, "application/vnd.oci.image.layer.v1.tar+gzip")],
    })
    desc = put(manifest, "application/vnd.oci.image.manifest.v1+json")
    last = ref.rsplit("/", 1)[-1]
    desc["platform"] = {"architecture": "amd64", "os": "linux"}
    desc["annotations"] = {"io.containerd.image.name": ref,
                           "org.opencontainers.image.ref.name": last.split(":", 1)[1] if ":" in last else "latest"}
    index = canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]})

    def layout(tar):
        entry(tar, "blobs", tarfile.DIRTYPE, mode=0o755)
        entry(tar, "blobs/sha256", tarfile.DIRTYPE, mode=0o755)
        for digest in sorted(blobs):
            entry(tar, "blobs/sha256/" + digest.split(":", 1)[1], data=blobs[digest])
        entry(tar, "oci-layout", data=canon({"imageLayoutVersion": "1.0.0"}))
        entry(tar, "index.json", data=index)
    with open(out, "wb") as f:
        f.write(tar_bytes(layout, tarfile.USTAR_FORMAT))
    print(out, ref, desc["digest"])

if __name__ == "__main__":
    main()
