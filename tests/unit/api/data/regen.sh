#!/bin/sh
# Regenerates the protobuf request bodies (*.pb) used by tests/unit/api/test_protobuf.c
# from their text-format sources (*.txtpb) with protoc's --encode (protoc-c is protoc
# with the C generator added; the plain `protoc` works the same).
#
# Each .txtpb starts with header comments:
#   # type: k8s.Deployment            message type of the object (proto/k8s.proto)
#   # typemeta: apps/v1 Deployment    apiVersion and kind put in the runtime.Unknown
#   # append-hex: 1a020a00            optional bytes appended to the encoded object
#                                     (fields outside our subset, e.g. status, as Go
#                                     encodes them; protobuf messages concatenate)
# The body written is "k8s\0" + Unknown{typeMeta, raw, contentEncoding "", contentType ""},
# the same layout kubectl 1.32 sends.
set -eu
cd "$(dirname "$0")"
root=../../../..
PROTOC=${PROTOC:-$(command -v protoc || command -v protoc-c)}
octal() { od -An -v -to1 | tr -d ' \n' | sed 's/\([0-7]\{3\}\)/\\\1/g'; }
unhex() { # hex string to bytes, without xxd
	h=$1
	while [ -n "$h" ]; do
		rest=${h#??}
		# shellcheck disable=SC2059
		printf "$(printf '\\%03o' "0x${h%"$rest"}")"
		h=$rest
	done
}
for src in *.txtpb; do
	type=$(sed -n 's/^# type: *//p' "$src")
	set -- $(sed -n 's/^# typemeta: *//p' "$src")
	api_version=$1 kind=$2
	append=$(sed -n 's/^# append-hex: *//p' "$src")
	raw=$( { grep -v '^#' "$src" | "$PROTOC" --proto_path="$root/proto" --encode="$type" k8s.proto
		 [ -n "$append" ] && unhex "$append"; } | octal)
	out=${src%.txtpb}.pb
	printf 'k8s\000' >"$out"
	printf 'typeMeta { apiVersion: "%s" kind: "%s" }\nraw: "%s"\ncontentEncoding: ""\ncontentType: ""\n' \
		"$api_version" "$kind" "$raw" |
		"$PROTOC" --proto_path="$root/proto" --encode=k8s.Unknown k8s.proto >>"$out"
	echo "$out: $(wc -c <"$out") bytes"
done
