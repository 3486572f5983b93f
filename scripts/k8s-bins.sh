#!/usr/bin/env bash
# Builds the real Kubernetes components netconform's tests run against — etcd, kube-apiserver,
# kubectl, kube-proxy (newest and oldest supported release), the CNI reference plugins and
# helm — from the Go modules under third_party/, into a cache keyed by version. Reruns reuse
# the cache. The last line of output is the absolute path of the directory holding the
# binaries, named as upstream names them (older kube-proxy releases: versions/vX.Y.Z/kube-proxy).
#
#   scripts/k8s-bins.sh                        build (or reuse) everything
#   scripts/k8s-bins.sh --kube-proxy v1.31.4   also build kube-proxy of another release (1.29+)
#   NETCONFORM_K8S_CACHE=DIR                   cache directory (default ~/.cache/netconform/k8s)
#
# The cache lives outside the checkout so every clone on a machine (CI clones afresh) shares it.
set -euo pipefail

# All of it in one function, read whole before it runs: editing this file while a build
# runs cannot change what the running build does next.
main() {

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
extra_proxies=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kube-proxy) [ $# -ge 2 ] || { echo "k8s-bins: --kube-proxy needs a version (vX.Y.Z)" >&2; exit 2; }
                  extra_proxies+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "k8s-bins: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
third="$repo/third_party"
cache=${NETCONFORM_K8S_CACHE:-${HOME:-/root}/.cache/netconform/k8s}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# One build at a time per cache: a second caller waits, then finds the binaries built.
exec 9>"$cache/.lock"
flock 9
# Go lives in /usr/local/go on the project's machines; a non-login shell may lack it on PATH.
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "k8s-bins: Go 1.26 is needed (https://go.dev/doc/install)" >&2; exit 2; }
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0

# The pinned releases are read from the modules themselves: one source of truth.
modver() { awk -v m="$2" '$1==m && $2 ~ /^v/ {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$1/go.mod"; }
K8S=$(modver "$third/k8s-v1.37" k8s.io/kubernetes)
K8S_OLD=$(modver "$third/k8s-v1.35" k8s.io/kubernetes)
CNI=$(modver "$third/cni" github.com/containernetworking/plugins)
HELM=$(modver "$third/helm" helm.sh/helm/v4)
ETCD=$(cd "$third/k8s-v1.37" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)

log() { printf 'k8s-bins: %s\n' "$*" >&2; }

# Sets the version the binaries print (--version, the API's /version), as upstream's
# hack/lib/version.sh does.
k8s_ldflags() {
  local v=$1 major minor
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=1970-01-01T00:00:00Z ' \
      "$p" "$v" "$p" "$major" "$p" "$minor" "$p" "$p"
  done
}

# build OUT_DIR MODULE_DIR LDFLAGS PACKAGE...: builds what is missing, each binary written
# under a temporary name and renamed, so an interrupted build never leaves a half binary.
build() {
  local out=$1 mod=$2 ldflags=$3; shift 3
  mkdir -p "$out"
  local pkg name
  for pkg in "$@"; do
    name=${pkg##*/}
    [ "$name" = etcd ] && pkg=./etcd
    if [ -x "$out/$name" ]; then continue; fi
    log "building $name ($(basename "$out")) from $mod"
    local t0=$SECONDS
    (cd "$mod" && go build -p 2 -trimpath -ldflags "-s -w $ldflags" -o "$out/.$name.tmp" "$pkg")
    mv "$out/.$name.tmp" "$out/$name"
    log "built $name in $((SECONDS - t0)) s"
  done
}

# A module for a kube-proxy release that third_party/ does not pin, made in the cache.
proxy_module() {
  local v=$1 minor dir="$cache/modules/kubernetes-$1"
  minor=${v#v1.}; minor=${minor%%.*}
  if [ "$minor" -lt 29 ]; then echo "k8s-bins: kube-proxy $v: nftables mode needs 1.29 or newer" >&2; exit 2; fi
  if [ ! -f "$dir/go.sum" ]; then
    mkdir -p "$dir"
    local gomod
    gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    [ -n "$gomod" ] || { echo "k8s-bins: the module proxy does not serve k8s.io/kubernetes@$v" >&2; exit 2; }
    {
      echo "module netconform.dev/cache/kubernetes-$v"
      echo; echo "go $(awk '/^go /{print $2}' "$gomod")"
      echo; echo "require k8s.io/kubernetes $v"
      echo; echo "replace ("
      grep -E '^\s*k8s.io/.* => \./staging' "$gomod" | awk -v r="v0.${v#v1.}" '{print "\t"$1" => "$1" "r}'
      echo ")"; echo; echo "tool k8s.io/kubernetes/cmd/kube-proxy"
    } > "$dir/go.mod"
    (cd "$dir" && go mod tidy >&2)
  fi
  echo "$dir"
}

k8s_out="$cache/kubernetes/$K8S"
build "$k8s_out" "$third/k8s-v1.37" "$(k8s_ldflags "$K8S")" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-proxy
build "$cache/etcd/$ETCD" "$third/k8s-v1.37" "" etcd
build "$cache/kubernetes/$K8S_OLD" "$third/k8s-v1.35" "$(k8s_ldflags "$K8S_OLD")" k8s.io/kubernetes/cmd/kube-proxy
cni_plugins=(plugins/main/bridge plugins/main/ptp plugins/main/loopback plugins/ipam/host-local plugins/meta/portmap)
build "$cache/cni/$CNI" "$third/cni" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI" \
  "${cni_plugins[@]/#/github.com/containernetworking/plugins/}"
build "$cache/helm/$HELM" "$third/helm" "-X helm.sh/helm/v4/internal/version.version=$HELM" helm.sh/helm/v4/cmd/helm
for v in "${extra_proxies[@]}"; do
  build "$cache/kubernetes/$v" "$(proxy_module "$v")" "$(k8s_ldflags "$v")" k8s.io/kubernetes/cmd/kube-proxy
done

# One directory of links, named by the set of versions it holds.
bin="$cache/bin/k8s-$K8S-etcd-$ETCD-cni-$CNI-helm-$HELM"
mkdir -p "$bin/versions"
link() { ln -sfn "$1" "$2"; }
for b in kube-apiserver kubectl kube-proxy; do link "$k8s_out/$b" "$bin/$b"; done
link "$cache/etcd/$ETCD/etcd" "$bin/etcd"
link "$cache/helm/$HELM/helm" "$bin/helm"
mkdir -p "$bin/cni"
for p in "${cni_plugins[@]}"; do link "$cache/cni/$CNI/${p##*/}" "$bin/cni/${p##*/}"; done
for v in "$K8S" "$K8S_OLD" "${extra_proxies[@]}"; do
  mkdir -p "$bin/versions/$v"; link "$cache/kubernetes/$v/kube-proxy" "$bin/versions/$v/kube-proxy"
done
cat > "$bin/versions.env" <<EOF
KUBERNETES_VERSION=$K8S
KUBERNETES_OLD_VERSION=$K8S_OLD
ETCD_VERSION=$ETCD
CNI_PLUGINS_VERSION=$CNI
HELM_VERSION=$HELM
EOF
echo "$bin"
}

main "$@"
