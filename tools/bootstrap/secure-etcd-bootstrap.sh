#!/bin/sh
# secure-etcd-bootstrap: installs this etcd member's files from its signed bundle in Secrets Manager
# (components/secretStore/bundle.ts), checking everything before writing anything. What it verifies and
# refuses, and the way out of a stuck node: docs/node-bootstrap-security.md.
# Env: SECURE_ETCD_SECRET_ID, _REGION, _MEMBER, _CLUSTER, _ENVIRONMENT, _SIGNING_KEY (base64 DER public
# key); optional _ENDPOINT_URL, _ROOT (/), _STATE_DIR (/var/lib/secure-etcd), _OWNER (root:root),
# _TIMEOUT (s per AWS call, 30), _ACCEPT_KEYS=1 (take encryption keys the rotation check holds back).
# Exit: 0 installed/unchanged, 64 bad config, 65 refused (nothing written), 74 could not write (nothing
# changed), 75 retry later (or interrupted), 79 installed but the EncryptionConfiguration held back.
# Never prints a secret or a value read from the bundle: no set -x.
set -eu
umask 077
P=secure-etcd-bootstrap
M=${SECURE_ETCD_MEMBER:-}
ID=${SECURE_ETCD_SECRET_ID:-}
say() { printf '%s: %s: %s\n' "$P" "$M" "$*"; }
die() {
  c=$1
  shift
  printf '%s: %s: %s\n' "$P" "$M" "$*" >&2
  exit "$c"
}
no() { die 65 "refused: $*; nothing written"; }
for v in SECRET_ID REGION MEMBER CLUSTER ENVIRONMENT SIGNING_KEY; do
  eval "x=\${SECURE_ETCD_$v:-}"
  [ -n "$x" ] || die 64 "set SECURE_ETCD_$v (the user data's /etc/secure-etcd/bootstrap.env has it)"
done
# An absolute path of letters, digits and . _ / + - with no '.', '..' or empty part.
clean() {
  case $1 in /*) ;; *) return 1 ;; esac
  case $1 in *[!A-Za-z0-9._/+-]* | */../* | */.. | */./* | */. | *//*) return 1 ;; esac
}
R=${SECURE_ETCD_ROOT:-/}
R=${R%/}
SD=${SECURE_ETCD_STATE_DIR:-/var/lib/secure-etcd}
O=${SECURE_ETCD_OWNER:-root:root}
TO=${SECURE_ETCD_TIMEOUT:-30}
[ -d "$R/" ] || die 64 "SECURE_ETCD_ROOT $R/ is not a directory"
clean "$SD" || die 64 "SECURE_ETCD_STATE_DIR must be an absolute path of letters, digits and . _ / + - (no '..')"
case $TO in '' | *[!0-9]*) die 64 "SECURE_ETCD_TIMEOUT must be whole seconds" ;; esac
case $SECURE_ETCD_SIGNING_KEY in *[!A-Za-z0-9+/=]*) die 64 "SECURE_ETCD_SIGNING_KEY must be base64" ;; esac
command -v aws >/dev/null || die 64 "the AWS CLI (aws) is not installed"
command -v openssl >/dev/null || die 64 "openssl is not installed"
S=$R$SD
RR=$(cd -P -- "$R/" && pwd -P)
[ "$RR" != / ] || RR=
D=${TMPDIR:-/dev/shm}
[ -d "$D" ] && [ -w "$D" ] || D=/tmp
T=$(mktemp -d "$D/$P.XXXXXX")
C=
unstage() { [ -n "$C" ] || [ ! -f "$T/swap" ] || while read -r w d; do rm -f "$w"; done <"$T/swap"; }
trap 'unstage; rm -rf "$T"' EXIT
trap 'die 75 "interrupted; the next run completes or redoes the install"' HUP INT TERM
{ printf -- '-----BEGIN PUBLIC KEY-----\n' && printf '%s\n' "$SECURE_ETCD_SIGNING_KEY" | fold -w 64 &&
  printf -- '-----END PUBLIC KEY-----\n'; } >"$T/k0"
openssl pkey -pubin -in "$T/k0" -out "$T/key" 2>/dev/null || die 64 "SECURE_ETCD_SIGNING_KEY is not a public key"

# 0. An install a crash interrupted after it was committed (the journal) is completed first.
fin() {
  while read -r w d; do [ ! -e "$w" ] || mv -f "$w" "$d"; done <"$S/swap"
  rm -f "$S/swap"
}
if [ -f "$S/swap" ]; then
  fin
  say "completed an install that was interrupted"
  [ ! -s "$S/notices" ] || while read -r l; do say "$l"; done <"$S/notices"
fi

# 1. Fetch: the current version's id and value, from one answer.
export AWS_PAGER=
sm() {
  aws ${SECURE_ETCD_ENDPOINT_URL:+--endpoint-url "$SECURE_ETCD_ENDPOINT_URL"} --region "$SECURE_ETCD_REGION" \
    --cli-connect-timeout "$TO" --cli-read-timeout "$TO" --output text \
    secretsmanager get-secret-value --secret-id "$ID" "$@" 2>"$T/err" && return
  e=$(grep . "$T/err" | tail -n 1) || e="aws failed"
  case $e in
  *ResourceNotFound*) die 75 "secret $ID (or its current version) does not exist yet; retry later" ;;
  *AccessDenied*) die 75 "this node's role may not read secret $ID (AccessDenied); retry later" ;;
  *) die 75 "cannot read secret $ID (${e#"${e%%[! ]*}"}); retry later" ;;
  esac
}
sm --query '[VersionId,SecretString]' >"$T/raw"
V=$(head -n 1 "$T/raw" | cut -f1)
case $V in '' | None | *[!A-Za-z0-9_-]*) die 75 "secret $ID has no current version yet; retry later" ;; esac
B=$T/b
{ head -n 1 "$T/raw" | cut -f2- && tail -n +2 "$T/raw"; } | grep -v '^$' >"$B" || true

# 2. The seal: the stack's signing key signed this body (a self-signed certificate naming its sha256),
#    and its generation (the seal's notBefore) is not older than the installed one's.
[ "$(head -n 1 "$B")" = "secure-etcd-node-bundle 2" ] || no "the secret is not a secure-etcd-node-bundle 2"
L=$(tail -n 1 "$B")
case $L in "end "*) ;; *) no "the bundle is truncated (no end line)" ;; esac
sed '$d' "$B" >"$T/body"
set -f
# shellcheck disable=SC2086 # split the end line into its fields
set -- $L
set +f
[ $# = 4 ] || no "the bundle's end line is malformed"
n=$2 dg=$3
[ "$dg" = "$(sha256sum <"$T/body" | cut -d' ' -f1)" ] ||
  no "the bundle is truncated or edited (the end line's sha256 does not match)"
printf '%s' "$4" | base64 -d >"$T/seal.der" 2>/dev/null || :
openssl x509 -inform der -in "$T/seal.der" -out "$T/seal" 2>/dev/null || no "the bundle's seal is not a certificate"
openssl x509 -noout -pubkey -startdate -ext subjectAltName -in "$T/seal" >"$T/si" 2>/dev/null || :
sed -n '/-BEGIN PUBLIC KEY-/,/-END PUBLIC KEY-/p' "$T/si" | cmp -s - "$T/key" ||
  no "the bundle is signed by another key than this node's SECURE_ETCD_SIGNING_KEY"
openssl verify -check_ss_sig -no_check_time -CAfile "$T/seal" "$T/seal" >/dev/null 2>&1 ||
  no "the bundle's signature does not verify"
grep -Fqx "    URI:urn:secure-etcd:node-bundle:sha256:$dg" "$T/si" || no "the bundle's seal is for another bundle"
set -f
# shellcheck disable=SC2046 # notBefore=Mon DD HH:MM:SS YYYY GMT
set -- $(sed -n 's/^notBefore=//p' "$T/si" | tr : ' ')
set +f
mo=0
for x in Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec; do
  mo=$((mo + 1))
  [ "$x" != "$1" ] || break
done
G=$(printf '%s%02d%02d%s%s%s' "$6" "$mo" "$2" "$3" "$4" "$5")
case $G in *[!0-9]*) G= ;; ??????????????) ;; *) G= ;; esac
[ -n "$G" ] || no "the bundle's seal has no readable date"
IG=
[ ! -f "$S/installed-generation" ] || IG=$(cat "$S/installed-generation")
ig=${IG%% *}
case $ig in '' | *[!0-9]*) ig=0 ;; esac
[ "$G" -ge "$ig" ] || no "the bundle is older than the installed one (an old version re-staged or re-written)"
[ "$G" != "$ig" ] || [ "$dg" = "${IG#* }" ] || no "the bundle differs from the installed one of the same generation"

# 3. Check the content: this cluster, environment and member; every line and file by its role.
[ "$(sed -n 2p "$T/body")" = "cluster $SECURE_ETCD_CLUSTER" ] || no "the bundle is for another cluster"
[ "$(sed -n 3p "$T/body")" = "environment $SECURE_ETCD_ENVIRONMENT" ] || no "the bundle is for another environment"
[ "$(sed -n 4p "$T/body")" = "member $M" ] || no "the bundle is for another member"
# The file roles, as components/secretStore/bundle.ts bundleFileRoles has them (a test keeps them equal):
# role, file name, mode, its pair, checks (ca, server, client, member, keys), what restarts, required.
RT='ca-cert ca.crt 0644 - ca etcd y
server-cert server.crt 0644 server-key server,client,member - y
server-key server.key 0600 server-cert - - y
peer-cert peer.crt 0644 peer-key server,client,member - y
peer-key peer.key 0600 peer-cert - - y
healthcheck-client-cert healthcheck-client.crt 0644 healthcheck-client-key client - y
healthcheck-client-key healthcheck-client.key 0600 healthcheck-client-cert - - y
apiserver-etcd-client-cert apiserver-etcd-client.crt 0644 apiserver-etcd-client-key client - y
apiserver-etcd-client-key apiserver-etcd-client.key 0600 apiserver-etcd-client-cert - - y
encryption-config encryption-config.yaml 0600 - keys apiserver y
etcd-manifest etcd.yaml 0600 - - kubelet y'
rl() { # role: sets rf (file name), rm (mode), rs (what restarts); fails for an unknown role
  # One role per kms key (its plugin's static pod), named after the key: not a row of the table.
  case $1 in kms-plugin-manifest-?*)
    rf=kms-plugin-${1#kms-plugin-manifest-}.yaml rm=0600 rs=kms-plugin
    return 0
    ;;
  esac
  while read -r r rf rm _ _ rs _; do [ "$r" != "$1" ] || return 0; done <<EOF
$RT
EOF
  return 1
}
K=
DL=
: >"$T/files"
: >"$T/sums"
tail -n +5 "$T/body" >"$T/lines"
while IFS=' ' read -r k a b c d e x; do
  [ -z "$x" ] || no "the bundle has a malformed line"
  case $k in
  keys)
    if [ -n "$K" ] || [ -z "$a" ] || [ -n "$b" ]; then no "the bundle's keys line is malformed or repeated"; fi
    K=$a
    ;;
  dir)
    if ! clean "$b" || [ "${b#/*/}" = "$b" ] || [ -n "$c" ]; then no "a dir line has an unsafe or top-level path"; fi
    case $a in 0700 | 0755) ;; *) no "a dir line has a mode other than 0700 and 0755" ;; esac
    DL="$DL$a $b
"
    ;;
  file)
    case $a in
    kms-plugin-manifest-*[!a-z0-9-]* | kms-plugin-manifest-) no "file role $a: bad kms key name" ;;
    kms-plugin-manifest-*) ;;
    *[!a-z-]* | '') no "the bundle has a file of an unknown role" ;;
    esac
    rl "$a" || no "the bundle has a file of an unknown role"
    [ "$b" = "$rm" ] || no "file $a: mode must be $rm"
    if ! clean "$d" || [ "${d##*/}" != "$rf" ]; then no "file $a: the path must be a declared directory/$rf"; fi
    [ ! -e "$T/f.$a" ] || no "file $a appears twice"
    printf '%s' "$e" | base64 -d >"$T/f.$a" 2>/dev/null || no "file $a: content is not base64"
    echo "$c  $T/f.$a" >>"$T/sums"
    echo "$a $b $d" >>"$T/files"
    ;;
  *) no "the bundle has a line of an unknown kind" ;;
  esac
done <"$T/lines"
# Fails closed: any failed line refuses the bundle; the first one names the file.
if [ -s "$T/sums" ] && ! sha256sum -c --status "$T/sums" 2>/dev/null; then
  e=$(sha256sum -c "$T/sums" 2>/dev/null | sed -n 's/^.*\/f\.\([a-z0-9-]*\): FAILED.*$/\1/p' | head -n 1)
  no "file ${e:-of the bundle}: content does not match its sha256"
fi
c=0
while read -r a b d; do
  c=$((c + 1))
  case "
$DL" in *" ${d%/*}
"*) ;; *) no "file $a: its directory is not declared in the bundle" ;; esac
done <"$T/files"
[ "$c" = "$n" ] || no "the bundle's end line counts another number of files"
printf '%s' "$DL" >"$T/dirs"
f() { [ -e "$T/f.$1" ]; }
f ca-cert || no "the bundle has no ca-cert"
openssl x509 -noout -pubkey -ext basicConstraints -in "$T/f.ca-cert" >"$T/ci" 2>/dev/null ||
  no "ca-cert is not a PEM certificate"
grep -q '^    CA:TRUE' "$T/ci" || no "ca-cert is not a CA certificate"
sed -n '/-BEGIN PUBLIC KEY-/,/-END PUBLIC KEY-/p' "$T/ci" >"$T/ca"
while read -r a _ _ p ck _ q; do
  [ "$q" = n ] || f "$a" || no "the bundle has no $a"
  case $ck in *client* | *server*) ;; *) continue ;; esac
  f "$a" || continue
  f "$p" || no "$a has no $p"
  openssl x509 -noout -pubkey -subject -nameopt multiline -ext basicConstraints,extendedKeyUsage \
    -in "$T/f.$a" >"$T/i" 2>/dev/null || no "$a is not a PEM certificate"
  openssl pkey -pubout -passin pass: -in "$T/f.$p" >"$T/pk" 2>/dev/null </dev/null || no "$p is not a private key"
  sed -n '/-BEGIN PUBLIC KEY-/,/-END PUBLIC KEY-/p' "$T/i" | cmp -s - "$T/pk" ||
    no "$a does not match $p (different public keys)"
  ! cmp -s "$T/pk" "$T/ca" || no "$p is the CA's own key"
  ! grep -q '^    CA:TRUE' "$T/i" || no "$a is a CA certificate"
  u=client
  case $ck in *server*) u=server ;; esac
  if ! openssl verify -purpose "ssl$u" -CAfile "$T/f.ca-cert" "$T/f.$a" >"$T/v" 2>&1; then
    e=$(sed -n 's/^error [0-9]* at [0-9]* depth lookup: //p' "$T/v" | head -n 1)
    no "$a does not verify against the bundle's ca-cert for TLS $u use (${e:-openssl verify failed})"
  fi
  x=$(sed -n '/X509v3 Extended Key Usage/{n;p;}' "$T/i")
  for u in server client; do
    case $ck in *$u*) ;; *) continue ;; esac
    case $u$x in server*"Server Authentication"* | client*"Client Authentication"*) ;;
    *) no "$a is not a TLS $u certificate (extended key usage)" ;;
    esac
  done
  case $ck in *member*) ;; *) continue ;; esac
  [ "$(sed -n 's/^ *commonName *= //p' "$T/i")" = "$M" ] || no "$a is not issued to this member (its CN differs)"
done <<EOF
$RT
EOF

# 4. Encryption keys: the keys line must say exactly what the EncryptionConfiguration holds, and the node
#    knows each key by a fingerprint of its material, never by name alone. A step the rotation order does
#    not allow holds the EncryptionConfiguration back (the rest installs) until SECURE_ETCD_ACCEPT_KEYS=1.
awk '
/^(apiVersion: apiserver\.config\.k8s\.io\/v1|kind: EncryptionConfiguration|resources:|  - resources:|    providers:)$/ { next }
/^      - [a-z0-9.*-]+$/ || /^          keys:$/ || /^          apiVersion: v2$/ || /^          timeout: [0-9a-z.]+$/ { next }
/^      - (secretbox|aescbc|aesgcm|kms):$/ { p = substr($2, 1, length($2) - 1); k = ""; next }
/^      - identity: \{\}$/ { p = ""; next }
/^            - name: "?[A-Za-z0-9._-]+"?$/ && p != "kms" { k = $3; gsub(/"/, "", k); next }
/^          name: "?[A-Za-z0-9._-]+"?$/ && p == "kms" { k = $2; gsub(/"/, "", k); next }
/^              secret: [A-Za-z0-9+\/=]+$/ && p != "kms" && k != "" { print p, k, $2; k = ""; next }
/^          endpoint: [^ ]+$/ && p == "kms" && k != "" { print p, k, $2; k = ""; next }
{ exit 1 }' "$T/f.encryption-config" >"$T/ck" || no "encryption-config is not in the form secure-etcd renders"
while read -r p k s; do
  printf '%s:%s:%s\n' "$p" "$k" "$(printf '%s:%s' "$p" "$s" | sha256sum | cut -c1-64)"
done <"$T/ck" >"$T/cf"
OK=
[ ! -f "$S/installed-keys" ] || OK=$(cat "$S/installed-keys")
set -f
# shellcheck disable=SC2046 # the verdict and the new installed-keys record
set -- $(awk -F: -v K="$K" -v O="$OK" '
function bad() { print "keys"; exit }
function v(x) { if (r == "") r = x }
{ id = $1 ":" $2; c[NR] = id; fp[id] = $3; has[$3] = 1 }
END {
  for (i = 1; i <= split(K, e, ","); i++) {
    if (split(e[i], f, ":") != 3 || f[1] !~ /^(primary|staged|retired|archived)$/) bad()
    id = f[2] ":" f[3]
    if (id in st) bad()
    st[id] = f[1]
    if (f[1] == "archived") { if (id in fp) bad(); continue }
    if (!(id in fp)) bad()
    m++; rec = rec (m > 1 ? "," : "") f[1] ":" id ":" fp[id]
    if (f[1] == "primary") { np++; pid = id }
  }
  if (np != 1 || m != NR || c[1] != pid) bad()
  for (i = 1; i <= split(O, o, ","); i++) {
    split(o[i], f, ":"); id = f[2] ":" f[3]
    x = f[4] != "" ? f[4] : (id in fp ? fp[id] : "name:" id)
    if (f[4] != "" && (id in fp) && fp[id] != f[4]) v("bytes")
    if (f[1] == "primary") { oid = id; op = x }
    if (f[1] == "primary" || f[1] == "staged") keep[x] = 1
    was[x] = f[1]; seen++; if (x in has) kept++
  }
  if (seen) {
    if (fp[pid] != op && was[fp[pid]] != "staged" && was[fp[pid]] != "retired") v("unstaged")
    for (x in keep) if (!(x in has)) v(x == op ? "dropped" : "stagedDropped")
    if (r != "" && r != "bytes") r = st[oid] == "archived" ? "behind" : kept ? r : "gone"
  }
  print (r == "" ? "ok" : r), rec
}' "$T/cf")
set +f
[ "$1" != keys ] || no "the keys line does not match the EncryptionConfiguration the bundle ships"
NK=${2:-}
H=
[ "$1" = ok ] || H=$1
if [ -n "$H" ] && [ "${SECURE_ETCD_ACCEPT_KEYS:-}" = 1 ]; then
  say "taking the bundle's encryption keys as asked (SECURE_ETCD_ACCEPT_KEYS=1)"
  H=
fi
held() {
  case $H in
  '') return 0 ;;
  bytes) h="a key has an installed key's name but other key material (a new key needs a new name)" ;;
  behind) h="this node missed encryption key rotation steps while it was away (its primary key is archived)" ;;
  gone) h="none of the installed encryption keys is in the bundle (all replaced at once?)" ;;
  unstaged) h="unsafe key rotation: the new primary key was never installed here as staged" ;;
  dropped) h="unsafe key rotation: the installed primary key is dropped in the step that replaces it" ;;
  *) h="unsafe key rotation: a key installed as staged would be dropped" ;;
  esac
  die 79 "$h; the EncryptionConfiguration is held back, the rest is installed; once every other" \
    "kube-apiserver reads the bundle's keys, run this once with SECURE_ETCD_ACCEPT_KEYS=1" \
    "(docs/node-bootstrap-security.md)"
}

# 5. Plan: what differs from the node (content, mode, owner), every path confined to the root. Reads only.
inroot() { # path what: refuses a path that is a symlinked file or resolves outside the root
  q=$R$1
  [ ! -L "$q" ] || [ -d "$q" ] || no "$2 is a symbolic link"
  while [ -n "$q" ] && [ ! -e "$q" ] && [ ! -L "$q" ]; do q=${q%/*}; done
  [ -d "${q:=/}" ] || q=${q%/*}
  q=$(cd -P -- "$q/" 2>/dev/null && pwd -P) || no "$2 lies under a broken symbolic link"
  case $q/ in "$RR"/*) ;; *) no "$2 leads outside the node root (a symbolic link)" ;; esac
}
same() { # path mode
  [ "$(stat -L -c %a "$1")" = "${2#0}" ] && case " $(stat -L -c '%u:%g %U:%G' "$1") " in *" $O "*) ;; *) false ;; esac
}
inroot "$SD" "the state directory"
fr=
[ -e "$R$(sed -n 's/^ca-cert [0-9]* //p' "$T/files")" ] || fr=1
: >"$T/plan"
while read -r a b; do
  inroot "$b" "a bundle directory"
  [ -d "$R$b" ] && same "$R$b" "$a" || echo "dir $a $b" >>"$T/plan"
done <"$T/dirs"
ch=
while read -r a b d; do
  [ -z "$H" ] || [ "$a" != encryption-config ] || continue
  inroot "$d" "file $a"
  if [ -f "$R$d" ] && cmp -s "$T/f.$a" "$R$d"; then
    same "$R$d" "$b" || echo "file $a $b $d" >>"$T/plan"
  else
    echo "file $a $b $d" >>"$T/plan"
    [ ! -e "$R$d" ] || ch="$ch $a"
  fi
done <"$T/files"
printf '%s\n' "$V" >"$T/s.installed-version"
printf '%s %s\n' "$G" "$dg" >"$T/s.installed-generation"
[ -n "$H" ] || printf '%s\n' "$NK" >"$T/s.installed-keys"
for a in $ch; do
  rl "$a"
  case $rs in
  etcd) echo "etcd must be restarted (new CA: etcd reads CA files only at start)" ;;
  apiserver) echo "every kube-apiserver must be restarted (new EncryptionConfiguration) unless" \
    "--encryption-provider-config-automatic-reload is on" ;;
  kubelet) echo "kubelet restarts the static pod (new $a)" ;;
  kms-plugin) echo "kubelet restarts the KMS plugin of ${a#kms-plugin-manifest-} (new static pod manifest)" ;;
  esac
done >"$T/s.notices"
[ -s "$T/s.notices" ] || [ -z "$ch" ] || echo "no restart needed (etcd re-reads certificates per connection)" >"$T/s.notices"
[ -z "$fr" ] || echo "first install: kubelet starts etcd from the manifest" >>"$T/s.notices"
st=
for x in installed-version installed-generation installed-keys; do
  [ ! -f "$T/s.$x" ] || cmp -s "$T/s.$x" "$S/$x" || st=1
done
if [ ! -s "$T/plan" ] && [ -z "$st" ]; then
  say "version $V already installed, nothing changed"
  held
  exit 0
fi

# 6. Write: dirs; each file staged beside its target (written, chmod, chown, fsync); a journal committed;
#    then the renames, the manifest last. A failure before the journal leaves every old file whole; a crash
#    after it is completed by the next run (step 0), which repeats the notices.
umask 022
while read -r k a b d; do
  [ "$k" = dir ] || continue
  { mkdir -p "$R$b" && chmod "$a" "$R$b" && chown "$O" "$R$b"; } 2>/dev/null ||
    die 74 "could not create a bundle directory (disk full or read-only?); no file changed"
  say "dir $b $a"
done <"$T/plan"
{ mkdir -p "$S" && chmod 0700 "$S" && chown "$O" "$S"; } 2>/dev/null ||
  die 74 "could not create the state directory (disk full or read-only?); no file changed"
: >"$T/swap"
stage() { # src dst mode what
  w=${2%/*}/.$P.${2##*/}
  echo "$w $2" >>"$T/swap"
  { cat "$1" >"$w" && chmod "$3" "$w" && chown "$O" "$w" && sync "$w"; } 2>/dev/null ||
    die 74 "could not write $4 (disk full or read-only?); nothing changed"
}
# The KMS plugins first (a new EncryptionConfiguration may name their sockets), etcd's manifest last.
grep '^file kms-plugin-manifest-' "$T/plan" >"$T/fp" || true
grep '^file ' "$T/plan" | grep -v '^file etcd-manifest \|^file kms-plugin-manifest-' >>"$T/fp" || true
grep '^file etcd-manifest ' "$T/plan" >>"$T/fp" || true
while read -r k a b d; do stage "$T/f.$a" "$R$d" "$b" "$a"; done <"$T/fp"
for x in installed-version installed-generation installed-keys; do
  if [ -f "$T/s.$x" ] && ! cmp -s "$T/s.$x" "$S/$x"; then stage "$T/s.$x" "$S/$x" 0600 "the state file $x"; fi
done
[ ! -s "$T/fp" ] || stage "$T/s.notices" "$S/notices" 0600 "the state file notices"
stage "$T/swap" "$S/swap.new" 0600 "the install journal"
mv -f "$S/.$P.swap.new" "$S/swap" 2>/dev/null || die 74 "could not commit the install journal; nothing changed"
C=1
fin
sync
while read -r k a b d; do say "wrote $a $d $b"; done <"$T/fp"
say "version $V installed ($(($(wc -l <"$T/fp")))" files written")"
while read -r l; do say "$l"; done <"$T/s.notices"
held
