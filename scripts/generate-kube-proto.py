#!/usr/bin/env python3
"""Regenerates services/apiserver/Sources/KubeProtobuf/Generated/KubeProtoSchemaTable.swift: the protobuf schema of the
built-in Kubernetes types the API server serves, as one compact text table that the KubeProtobuf module reads at
first use (a text table compiles in a second and costs no code; a dictionary literal of ~2000 fields does not).

Kubernetes' protobuf messages (k8s.io/api `generated.proto`, proto2) are generated from Go structs, and the JSON a
client sees comes from the same structs, so a field needs both: the proto file gives numbers and types, the Go struct
tags give the JSON name, `omitempty`, `,inline` and whether the Go field is a pointer (gogo-protobuf writes every
non-pointer field, zero or not, and only non-nil pointers; encoding/json omits only what `omitempty` allows).

Usage:
    scripts/generate-kube-proto.py K8S_IO_DIR [OUT_FILE]
K8S_IO_DIR is a directory holding k8s.io/api and k8s.io/apimachinery sources at the Kubernetes version the API
server follows (1.26), e.g. the vendor/k8s.io directory of kubeedge/kubeedge at tag v1.15.4
(`git archive v1.15.4 vendor/k8s.io | tar -x`). Nothing from it is kept in this repository; only the table is.
Standard library only; CI never runs this.
"""
import os
import re
import sys

# (proto package, directory under K8S_IO_DIR, alias used in the table)
PACKAGES = [
    ("k8s.io.apimachinery.pkg.apis.meta.v1", "apimachinery/pkg/apis/meta/v1", "meta"),
    ("k8s.io.apimachinery.pkg.runtime", "apimachinery/pkg/runtime", "runtime"),
    ("k8s.io.apimachinery.pkg.api.resource", "apimachinery/pkg/api/resource", "resource"),
    ("k8s.io.apimachinery.pkg.util.intstr", "apimachinery/pkg/util/intstr", "intstr"),
    ("k8s.io.api.core.v1", "api/core/v1", "core"),
    ("k8s.io.api.apps.v1", "api/apps/v1", "apps"),
    ("k8s.io.api.coordination.v1", "api/coordination/v1", "coordination"),
    ("k8s.io.api.autoscaling.v1", "api/autoscaling/v1", "autoscaling"),
    ("k8s.io.api.authorization.v1", "api/authorization/v1", "authorization"),
    ("k8s.io.api.events.v1", "api/events/v1", "events"),
    ("k8s.io.api.policy.v1", "api/policy/v1", "policy"),
]
SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float"}

MESSAGE_RE = re.compile(r"^message (\w+) \{")
FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
MAP_RE = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")
STRUCT_RE = re.compile(r"^type (\w+) struct \{")
GO_FIELD_RE = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")


def parse_proto(path, package):
    messages = {}
    current = None
    with open(path) as f:
        for line in f:
            line = line.split("//")[0]
            m = MESSAGE_RE.match(line)
            if m:
                current = []
                messages[m.group(1)] = current
                continue
            if current is None:
                continue
            if line.startswith("}"):
                current = None
                continue
            m = MAP_RE.match(line)
            if m:
                current.append({"name": m.group(3), "number": int(m.group(4)), "map": (m.group(1), m.group(2))})
                continue
            m = FIELD_RE.match(line)
            if m:
                current.append({"name": m.group(3), "number": int(m.group(4)), "type": m.group(2),
                                "repeated": m.group(1) == "repeated"})
    return messages


def parse_go(directory):
    structs = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_") or name == "generated.pb.go":
            continue
        current = None
        with open(os.path.join(directory, name)) as f:
            for line in f:
                m = STRUCT_RE.match(line)
                if m:
                    current = []
                    structs[m.group(1)] = current
                    continue
                if current is None:
                    continue
                if line.startswith("}"):
                    current = None
                    continue
                stripped = line.strip()
                if stripped.startswith("//"):
                    continue
                m = GO_FIELD_RE.match(line)
                if not m:
                    continue
                tags = m.group(3)
                proto = re.search(r'protobuf:"([^"]*)"', tags)
                if not proto:
                    continue
                parts = proto.group(1).split(",")
                if len(parts) < 2:
                    continue  # `protobuf:"-"`: the field has a hand-written encoding (Time)
                proto_number = int(parts[1])
                js = re.search(r'json:"([^"]*)"', tags)
                json_parts = (js.group(1) if js else "").split(",")
                current.append({
                    "number": proto_number,
                    "json": json_parts[0],
                    "omitempty": "omitempty" in json_parts[1:],
                    "inline": "inline" in json_parts[1:],
                    "pointer": m.group(2).startswith("*"),
                })
    return structs


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "services", "apiserver", "Sources", "KubeProtobuf", "Generated", "KubeProtoSchemaTable.swift")
    alias = {pkg: a for pkg, _, a in PACKAGES}

    def short(type_name, package):
        if type_name in SCALARS:
            return type_name
        full = type_name.lstrip(".") if "." in type_name else package + "." + type_name
        pkg, _, message = full.rpartition(".")
        if pkg not in alias:
            sys.exit(f"{full}: package {pkg} is not in PACKAGES")
        return alias[pkg] + "." + message

    lines = []
    for package, directory, a in PACKAGES:
        path = os.path.join(root, directory)
        messages = parse_proto(os.path.join(path, "generated.proto"), package)
        structs = parse_go(path)
        lines.append(f"P {a} {package}")
        for message in sorted(messages):
            fields = messages[message]
            go = {f["number"]: (i, f) for i, f in enumerate(structs.get(message, []))}
            # Go struct order is the order encoding/json writes members in.
            fields.sort(key=lambda f: (go[f["number"]][0] if f["number"] in go else 1000 + f["number"]))
            lines.append(f"M {message}")
            for field in fields:
                info = go.get(field["number"], (0, None))[1]
                if info is None and structs.get(message):
                    sys.exit(f"{package}.{message}.{field['name']}: no Go field with this protobuf number")
                flags = ""
                if info:
                    flags += "p" if info["pointer"] else ""
                    flags += "o" if info["omitempty"] else ""
                    flags += "i" if info["inline"] else ""
                json_name = (info["json"] if info and info["json"] else field["name"])
                if "map" in field:
                    key, value = field["map"]
                    type_text = f"map:{short(key, package)}:{short(value, package)}"
                else:
                    type_text = short(field["type"], package)
                    flags += "r" if field["repeated"] else ""
                lines.append(f"{field['number']} {json_name} {type_text} {flags or '-'}".rstrip())
    body = "\n".join(lines)
    swift = f'''// GENERATED by scripts/generate-kube-proto.py from k8s.io/api and k8s.io/apimachinery v0.26.15
// (generated.proto + the Go struct tags). Do not edit; rerun the script.
//
// Format, one record per line:
//   P <alias> <proto package>          a package and its short alias
//   M <message>                        a message of the last package
//   <number> <json name> <type> <flags>   a field; type is a scalar, alias.Message or map:<key>:<value>;
//                                      flags: p Go pointer, o omitempty, i JSON-inline, r repeated, - none

extension KubeProtoSchema {{
    static let table = """
{body}
"""
}}
'''
    with open(out, "w") as f:
        f.write(swift)
    print(f"wrote {out}: {sum(1 for l in lines if l.startswith('M '))} messages, "
          f"{sum(1 for l in lines if l[0].isdigit())} fields")


if __name__ == "__main__":
    main()
