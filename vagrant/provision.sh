#!/bin/sh
# Provisions one VM of the Vagrant lab (run as root by Vagrant, from the Vagrantfile):
#   provision.sh server NODE_IP
#   provision.sh agent NODE_IP SERVER_IP
# Runs the README's command (sh scripts/up.sh ...) from the synced checkout, then
# builds the lab's images and imports them, so pods of the ClusterIP lab start
# without internet access to a registry.
set -eu
ROLE=$1 NODE_IP=$2 SERVER_IP=${3:-}
cd /vagrant
[ -s vagrant/token ] || { echo "provision: /vagrant/vagrant/token is missing (written by the Vagrantfile on 'vagrant up')" >&2; exit 1; }
TOKEN=$(cat vagrant/token)

case $ROLE in
server)
	sh scripts/up.sh --node-ip "$NODE_IP" --tls-san "$NODE_IP" --token "$TOKEN"
	# kubectl for root and the vagrant user
	install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.kube
	install -m 0600 -o vagrant -g vagrant /etc/minik8s/kubeconfig /home/vagrant/.kube/config
	# root reads the kubeconfig in place; vagrant uses its copy in ~/.kube/config
	# shellcheck disable=SC2016 # written for the login shell to expand
	echo 'if [ "$(id -u)" = 0 ]; then export KUBECONFIG=/etc/minik8s/kubeconfig; fi' >/etc/profile.d/minik8s.sh
	;;
agent)
	URL=https://$SERVER_IP:6443
	echo "provision: waiting for the server at $URL ..."
	i=0
	until curl -ksf -m 3 "$URL/healthz" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "provision: no answer from $URL/healthz after 10 minutes (is the server VM up? vagrant up server)" >&2; exit 1; }
		sleep 3
	done
	sh scripts/up.sh --server "$URL" --token "$TOKEN" --node-ip "$NODE_IP"
	;;
*)
	echo "usage: provision.sh server NODE_IP | agent NODE_IP SERVER_IP" >&2
	exit 2
	;;
esac

# the lab's images (examples/images/build.sh needs these Debian packages)
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends busybox-static curl dnsutils jq >/dev/null
bash examples/images/build.sh
minik8s image import examples/images/out/*.tar
minik8s status || true
