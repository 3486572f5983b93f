#!/bin/sh
# For clusters without cert-manager: makes a netconform CA, the collector's serving
# certificate and the kube-apiserver's audit client certificate with openssl, and creates
# the Secret netconform-collector-tls (tls.crt, tls.key, ca.crt) the manifests mount.
#
#   scripts/make-certs.sh [DIR]     # writes DIR (default ./netconform-certs), then:
#   kubectl apply -f DIR/secret.yaml  (or pipe: scripts/make-certs.sh DIR && kubectl apply -f DIR/secret.yaml)
#
# Copy DIR/ca.crt, DIR/apiserver-client.crt and DIR/apiserver-client.key to the control-plane
# nodes for the audit webhook (manifests/audit/README.md). Keep DIR/ca.key offline: it signs
# certificates every agent trusts. Renew by running again before 825 days and re-applying
# (the collector reloads the files; agents verify against the same CA as long as it is kept).
set -eu
dir=${1:-./netconform-certs}
ns=${NETCONFORM_NAMESPACE:-netconform}
mkdir -p "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
if [ ! -f ca.key ]; then
  openssl req -x509 $ec -days 3650 -keyout ca.key -out ca.crt -subj "/CN=netconform-ca" 2>/dev/null
fi
openssl req $ec -keyout tls.key -out tls.csr -subj "/CN=netconform-collector.$ns.svc" 2>/dev/null
printf 'subjectAltName=DNS:netconform-collector,DNS:netconform-collector.%s,DNS:netconform-collector.%s.svc,DNS:netconform-collector.%s.svc.cluster.local,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$ns" "$ns" "$ns" > tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile tls.ext -out tls.crt 2>/dev/null
openssl req $ec -keyout apiserver-client.key -out apiserver-client.csr -subj "/CN=kube-apiserver-audit" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in apiserver-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile client.ext -out apiserver-client.crt 2>/dev/null
rm -f tls.csr apiserver-client.csr tls.ext client.ext
b64() { base64 < "$1" | tr -d '\n'; }
cat > secret.yaml <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: netconform-collector-tls
  namespace: $ns
type: kubernetes.io/tls
data:
  tls.crt: $(b64 tls.crt)
  tls.key: $(b64 tls.key)
  ca.crt: $(b64 ca.crt)
YAML
echo "wrote $dir: ca.crt ca.key tls.crt tls.key apiserver-client.crt apiserver-client.key secret.yaml" >&2
