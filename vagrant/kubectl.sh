#!/bin/sh
# Installs the real kubectl VERSION (e.g. v1.32.4) from dl.k8s.io, checked against
# its published sha256. Optional: the Vagrantfile runs it when KUBECTL_VERSION is set.
set -eu
V=$1
ARCH=$(dpkg --print-architecture)
command -v kubectl >/dev/null && kubectl version --client 2>/dev/null | grep -q "$V" && exit 0
cd /tmp
curl -fsSLo kubectl "https://dl.k8s.io/release/$V/bin/linux/$ARCH/kubectl"
curl -fsSLo kubectl.sha256 "https://dl.k8s.io/release/$V/bin/linux/$ARCH/kubectl.sha256"
echo "$(cat kubectl.sha256)  kubectl" | sha256sum -c -
install -m 0755 kubectl /usr/local/bin/kubectl
rm -f kubectl kubectl.sha256
