# Certificates, tokens and kubeconfigs for the local control plane (sourced, not run).
# EC P-256 keys: generating them takes milliseconds where RSA takes a noticeable share of the
# ~2 s startup budget, and kube-apiserver, kubectl and OpenSSL clients all accept them.

# pki_generate DIR: CA, serving cert (SAN 127.0.0.1 / localhost), service-account keypair,
# tokens. Fresh every time so a stale state dir never carries an expired or foreign CA.
pki_generate() {
  local dir="$1"
  mkdir -p "$dir"
  (
    cd "$dir"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=arl-local-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null

    openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key 2>/dev/null
    openssl req -new -key apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
      "extendedKeyUsage=serverAuth" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "basicConstraints=critical,CA:FALSE" > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    rm -f apiserver.csr apiserver.ext ca.srl

    openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
    openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null

    openssl rand -hex 24 > admin.token
    openssl rand -hex 24 > controller-manager.token
    # token,user,uid,"groups": both identities are cluster admins; this is a local test cluster.
    {
      printf '%s,arl-admin,arl-admin,"system:masters"\n' "$(cat admin.token)"
      printf '%s,system:kube-controller-manager,kcm,"system:masters"\n' "$(cat controller-manager.token)"
    } > tokens.csv
  )
  [[ -s "$dir/apiserver.crt" && -s "$dir/sa.pub" && -s "$dir/tokens.csv" ]] || {
    echo "control-plane: generating certificates in $dir failed (is openssl installed?)" >&2
    return 1
  }
}

# pki_kubeconfig OUT SERVER CA_FILE TOKEN_FILE USER: a kubeconfig with embedded CA data and a
# bearer token, namespace default.
pki_kubeconfig() {
  local out="$1" server="$2" ca="$3" token_file="$4" user="$5"
  local ca_data token
  ca_data="$(base64 -w0 < "$ca")"
  token="$(cat "$token_file")"
  (
    umask 077
    cat > "$out.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: arl-local
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: $user
  user:
    token: $token
contexts:
- name: arl-local
  context:
    cluster: arl-local
    user: $user
    namespace: default
current-context: arl-local
preferences: {}
EOF
    mv "$out.tmp" "$out"
  )
}
