#!/usr/bin/env bash
# Regenerates the Swift code for the Kubernetes CRI v1 API (runtime.v1: RuntimeService + ImageService) that edged's
# CRIClient target compiles:
#
#   services/edged/Sources/CRIClient/Generated/api.pb.swift     messages   (protoc-gen-swift, swift-protobuf 1.39.0)
#   services/edged/Sources/CRIClient/Generated/api.grpc.swift   client stubs (protoc-gen-grpc-swift-2, grpc-swift-protobuf 2.4.1)
#
# The two files are committed; CI and normal builds never run this script. Run it by hand when the CRI version or
# the generator versions change, and commit the result together with the new pins below.
#
# Usage:
#   scripts/generate-cri.sh PATH/TO/api.proto [OUT_DIR]
#       PATH/TO/api.proto: k8s.io/cri-api's pkg/apis/runtime/v1/api.proto at tag $CRI_API_TAG (checked by sha256;
#       CRI_PROTO_SHA256= (empty) skips the check when moving to another version). The proto is NOT kept in the
#       repository: bring it yourself, e.g. from a checkout of github.com/kubernetes/cri-api
#       (git show $CRI_API_TAG:pkg/apis/runtime/v1/api.proto > api.proto).
#   scripts/generate-cri.sh --download [OUT_DIR]
#       For a developer machine with internet access only: downloads that file with curl from GitHub at
#       $CRI_API_TAG. The project's own machines and CI cannot reach GitHub; use the first form there.
#
# Everything else comes from the machine's package mirrors, nothing from the network:
#   * protoc: Debian's protobuf-compiler (3.21.12, installed with apt-get when missing). It predates the
#     `debug_redact` field option, so the script strips `[debug_redact = true]` from a temporary copy of the proto
#     (the option only affects text-format redaction, not the wire format nor the generated Swift).
#   * the plugins: built from the Swift package copies (swift-protobuf, grpc-swift-protobuf) with
#     `swift build -c release --product ...` in a throw-away scratch package (~4 min on 2 cores). Set
#     PROTOC_GEN_SWIFT and PROTOC_GEN_GRPC_SWIFT to already-built plugin binaries to skip that.
#   OUT_DIR defaults to services/edged/Sources/CRIClient/Generated in this repository.
set -euo pipefail

CRI_API_TAG="v0.34.10"                                      # k8s.io/cri-api (Kubernetes 1.34 line)
CRI_API_COMMIT="0045747a2c345b3464f90f1578eae851db64c239"   # the commit that tag points to
CRI_PROTO_SHA256="${CRI_PROTO_SHA256-aad0f475bbe2cb9709e9f1ffc020e382ba2235e09566f0f2fac7fcc2958533d5}"
# The same file with its four `[debug_redact = true]` options already stripped is accepted too.
CRI_PROTO_STRIPPED_SHA256="06745830ddcec0108778d8b660843e8a42e70e1bd0ddc92d697621b1a9a9dcef"
SWIFT_PROTOBUF_VERSION="1.39.0"
GRPC_SWIFT_PROTOBUF_VERSION="2.4.1"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d -t generate-cri.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

die() { echo "generate-cri.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 PATH/TO/api.proto [OUT_DIR]   or   $0 --download [OUT_DIR]"
if [ "$1" = "--download" ]; then
    PROTO_IN="$WORK/download.proto"
    curl -fsSL --max-time 60 -o "$PROTO_IN" \
        "https://raw.githubusercontent.com/kubernetes/cri-api/$CRI_API_TAG/pkg/apis/runtime/v1/api.proto" \
        || die "download failed (this needs internet access; pass a local api.proto instead)"
else
    PROTO_IN="$1"
    [ -f "$PROTO_IN" ] || die "no such file: $PROTO_IN"
fi
OUT="${2:-$ROOT/services/edged/Sources/CRIClient/Generated}"

if [ -n "$CRI_PROTO_SHA256" ]; then
    got="$(sha256sum "$PROTO_IN" | cut -d' ' -f1)"
    [ "$got" = "$CRI_PROTO_SHA256" ] || [ "$got" = "$CRI_PROTO_STRIPPED_SHA256" ] || die "$PROTO_IN has sha256 $got, expected $CRI_PROTO_SHA256 (cri-api $CRI_API_TAG).
Bump CRI_API_TAG/CRI_API_COMMIT/CRI_PROTO_SHA256 when changing versions, or run with CRI_PROTO_SHA256= to skip."
fi

# --- protoc (Debian) ---------------------------------------------------------------------------------------------
if ! command -v protoc >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y protobuf-compiler
fi

# The proto must be called api.proto: the output names (api.pb.swift, api.grpc.swift) come from it.
mkdir -p "$WORK/proto"
sed -E 's/[[:space:]]*\[debug_redact = true\]//' "$PROTO_IN" > "$WORK/proto/api.proto"
if grep -q 'debug_redact' "$WORK/proto/api.proto"; then
    die "a debug_redact option in an unexpected form is left in the proto; extend the sed above"
fi

# --- plugins -----------------------------------------------------------------------------------------------------
if [ -z "${PROTOC_GEN_SWIFT:-}" ] || [ -z "${PROTOC_GEN_GRPC_SWIFT:-}" ]; then
    mkdir -p "$WORK/plugins"
    cat > "$WORK/plugins/Package.swift" <<EOF
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "cri-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "$SWIFT_PROTOBUF_VERSION"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "$GRPC_SWIFT_PROTOBUF_VERSION"),
    ]
)
EOF
    echo "building protoc-gen-swift $SWIFT_PROTOBUF_VERSION and protoc-gen-grpc-swift-2 $GRPC_SWIFT_PROTOBUF_VERSION ..."
    (cd "$WORK/plugins" && swift build -c release -j "${JOBS:-1}" --product protoc-gen-swift \
        && swift build -c release -j "${JOBS:-1}" --product protoc-gen-grpc-swift-2)
    BIN="$(cd "$WORK/plugins" && swift build -c release --show-bin-path)"
    PROTOC_GEN_SWIFT="$BIN/protoc-gen-swift"
    PROTOC_GEN_GRPC_SWIFT="$BIN/protoc-gen-grpc-swift-2"
fi

# --- generate ----------------------------------------------------------------------------------------------------
mkdir -p "$WORK/out"
protoc \
    --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --plugin=protoc-gen-grpc-swift-2="$PROTOC_GEN_GRPC_SWIFT" \
    --proto_path="$WORK/proto" \
    --swift_out="$WORK/out" --swift_opt=Visibility=Public \
    --grpc-swift-2_out="$WORK/out" --grpc-swift-2_opt=Visibility=Public,Server=false \
    api.proto

mkdir -p "$OUT"
for f in api.pb.swift api.grpc.swift; do
    [ -s "$WORK/out/$f" ] || die "protoc produced no $f"
    {
        echo "// Generated by scripts/generate-cri.sh from k8s.io/cri-api $CRI_API_TAG ($CRI_API_COMMIT),"
        echo "// pkg/apis/runtime/v1/api.proto (Apache-2.0), with protoc $(protoc --version | cut -d' ' -f2),"
        echo "// swift-protobuf $SWIFT_PROTOBUF_VERSION and grpc-swift-protobuf $GRPC_SWIFT_PROTOBUF_VERSION. Do not edit."
        cat "$WORK/out/$f"
    } > "$OUT/$f"
done
echo "wrote $OUT/api.pb.swift ($(wc -c < "$OUT/api.pb.swift") bytes) and $OUT/api.grpc.swift ($(wc -c < "$OUT/api.grpc.swift") bytes)"
