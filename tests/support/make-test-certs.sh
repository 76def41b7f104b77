#!/usr/bin/env bash
# Makes a throwaway PKI for the TLS tests in DIR: never use it for anything else.
#
#   ca.pem ca.key                the test CA
#   server.pem server.key        signed by it, for 127.0.0.1 and localhost
#   client.pem client.key        a client certificate signed by it (mTLS)
#   other-ca.pem other-ca.key    an unrelated CA
#   other-client.pem .key        a client certificate signed by the unrelated CA
#   expired.pem expired.key      a server certificate signed by the test CA that expired a day ago
#
# EC P-256 keys, valid for two days. Usage: make-test-certs.sh DIR (created if missing).
set -euo pipefail

dir=${1:?usage: make-test-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

new_key_and_csr() {  # name subject
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
}

new_ca() {  # name subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.pem" -days 2 -subj "$2" 2>/dev/null
}

sign() {  # name ca days extensions
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days "$3" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

readonly server_ext='subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth'
readonly client_ext='extendedKeyUsage=clientAuth'

new_ca ca "/CN=vecmirror test CA"
new_ca other-ca "/CN=vecmirror unrelated test CA"
new_key_and_csr server "/CN=localhost"
sign server ca 2 "$server_ext"
new_key_and_csr client "/CN=vecmirror-test-client"
sign client ca 2 "$client_ext"
new_key_and_csr other-client "/CN=vecmirror-unrelated-client"
sign other-client other-ca 2 "$client_ext"
new_key_and_csr expired "/CN=localhost"
sign expired ca -1 "$server_ext"
chmod 600 ./*.key
