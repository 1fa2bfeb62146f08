#!/bin/sh
# secure-etcd-bootstrap: installs this node's etcd files from its Secrets Manager bundle
# (components/secretStore/bundle.ts), checking everything before writing anything.
# Env: SECURE_ETCD_SECRET_ID, _REGION, _MEMBER; optional _ENDPOINT_URL, _ROOT (/),
# _STATE_DIR (/var/lib/secure-etcd), _OWNER (root:root), _TIMEOUT (s per AWS call, 30).
# Exit: 0 installed/unchanged, 64 bad config, 65 refused (nothing written), 75 retry later.
# Never prints a secret: no set -x.
set -eu
umask 077
P=secure-etcd-bootstrap
M=${SECURE_ETCD_MEMBER:-}
ID=${SECURE_ETCD_SECRET_ID:-}
say() { printf '%s: %s: %s\n' "$P" "$M" "$*"; }
die() { c=$1; shift; printf '%s: %s: %s\n' "$P" "$M" "$*" >&2; exit "$c"; }
no() { die 65 "refused: $*; nothing written"; }
if [ -z "$ID" ] || [ -z "${SECURE_ETCD_REGION:-}" ] || [ -z "$M" ]; then
  die 64 "set SECURE_ETCD_SECRET_ID, SECURE_ETCD_REGION and SECURE_ETCD_MEMBER"
fi
R=${SECURE_ETCD_ROOT:-/}
R=${R%/}
S=${SECURE_ETCD_STATE_DIR:-/var/lib/secure-etcd}
O=${SECURE_ETCD_OWNER:-root:root}
TO=${SECURE_ETCD_TIMEOUT:-30}
case $S in /*) ;; *) die 64 "SECURE_ETCD_STATE_DIR must be an absolute path" ;; esac
[ -d "$R/" ] || die 64 "SECURE_ETCD_ROOT $R/ is not a directory"
case $TO in '' | *[!0-9]*) die 64 "SECURE_ETCD_TIMEOUT must be whole seconds" ;; esac
command -v aws >/dev/null || die 64 "the AWS CLI (aws) is not installed"
command -v openssl >/dev/null || die 64 "openssl is not installed"
S=$R$S
D=${TMPDIR:-/dev/shm}
[ -d "$D" ] && [ -w "$D" ] || D=/tmp
T=$(mktemp -d "$D/$P.XXXXXX")
W=
trap 'rm -rf "$T"; [ -z "$W" ] || rm -f "$W"' EXIT
trap 'exit 1' HUP INT TERM

# 1. Fetch: the current version's id, then that version (a version published in between cannot mix in).
export AWS_PAGER=
sm() {
  aws ${SECURE_ETCD_ENDPOINT_URL:+--endpoint-url "$SECURE_ETCD_ENDPOINT_URL"} --region "$SECURE_ETCD_REGION" \
    --cli-connect-timeout "$TO" --cli-read-timeout "$TO" --output text \
    secretsmanager get-secret-value --secret-id "$ID" "$@" 2>"$T/err" && return
  e=$(grep . "$T/err" | tail -n 1) || e="aws failed"
  case $e in
  *ResourceNotFound*) die 75 "secret $ID (or its current version) does not exist yet; retry later" ;;
  *) die 75 "cannot read secret $ID (${e#"${e%%[! ]*}"}); retry later" ;;
  esac
}
V=$(sm --query VersionId)
case $V in '' | None | *[!A-Za-z0-9_-]*) die 75 "secret $ID has no current version yet; retry later" ;; esac
sm --version-id "$V" --query SecretString >"$T/raw"
B=$T/b
grep -v '^$' "$T/raw" >"$B" || true

# 2. Check the bundle.
[ "$(head -n 1 "$B")" = "secure-etcd-node-bundle 1" ] || no "the secret is not a secure-etcd-node-bundle 1"
L=$(tail -n 1 "$B")
case $L in "end "*) ;; *) no "bundle is truncated (no end line)" ;; esac
sed '$d' "$B" >"$T/body"
n=$(printf '%s\n' "$L" | cut -d' ' -f2)
[ "$(printf '%s\n' "$L" | cut -d' ' -f3)" = "$(sha256sum <"$T/body" | cut -d' ' -f1)" ] ||
  no "bundle is truncated or edited (the end line's sha256 does not match)"
[ "$(grep -c '^file ' "$T/body")" = "$n" ] || no "bundle's end line counts $n files, the bundle differs"
bm=$(sed -n 's/^member //p' "$T/body")
[ "$bm" = "$M" ] || no "bundle is for member '$bm', this node is '$M'"
okp() {
  case $1 in /*) ;; *) no "$2: path is not absolute" ;; esac
  case $1 in *[!A-Za-z0-9._/-]* | */../* | */.. | *//*) no "$2: path has unsafe characters" ;; esac
}
K=
: >"$T/dirs"
: >"$T/files"
tail -n +2 "$T/body" >"$T/lines"
while IFS=' ' read -r k a b c d e; do
  case $k in
  cluster | environment | member) ;;
  keys) K=$a ;;
  dir)
    okp "$b" "dir $b"
    case $a in 0700 | 0755) ;; *) no "dir $b: mode $a" ;; esac
    echo "$a $b" >>"$T/dirs"
    ;;
  file)
    case $a in
    ca-cert | server-cert | server-key | peer-cert | peer-key | healthcheck-client-cert | healthcheck-client-key | \
      apiserver-etcd-client-cert | apiserver-etcd-client-key | encryption-config | etcd-manifest) ;;
    kms-plugin-manifest-*[!a-z0-9-]* | kms-plugin-manifest-) no "file role $a: bad kms key name" ;;
    kms-plugin-manifest-*) ;;
    *) no "unknown file role $a" ;;
    esac
    case $a in *-cert) ;; *) [ "$b" = 0600 ] || no "file $a: mode $b (must be 0600)" ;; esac
    case $b in 0600 | 0644) ;; *) no "file $a: mode $b" ;; esac
    okp "$d" "file $a"
    [ ! -e "$T/f.$a" ] || no "file role $a appears twice"
    printf '%s' "$e" | base64 -d >"$T/f.$a" 2>/dev/null || no "file $a: content is not base64"
    [ "$(sha256sum <"$T/f.$a" | cut -d' ' -f1)" = "$c" ] || no "file $a: content does not match its sha256"
    echo "$a $b $d" >>"$T/files"
    ;;
  *) no "bundle has an unknown line kind" ;;
  esac
done <"$T/lines"
f() { [ -e "$T/f.$1" ]; }
for p in server peer healthcheck-client apiserver-etcd-client; do
  f "$p-cert" || f "$p-key" || continue
  f "$p-cert" || no "$p-key has no $p-cert"
  f "$p-key" || no "$p-cert has no $p-key"
  f ca-cert || no "bundle has no ca-cert to verify $p-cert"
  openssl x509 -noout -pubkey -in "$T/f.$p-cert" >"$T/pc" 2>/dev/null || no "$p-cert is not a PEM certificate"
  openssl pkey -pubout -passin pass: -in "$T/f.$p-key" >"$T/pk" 2>/dev/null </dev/null ||
    no "$p-key is not a readable private key"
  cmp -s "$T/pc" "$T/pk" || no "$p-cert does not match $p-key (different public keys)"
  if ! openssl verify -CAfile "$T/f.ca-cert" "$T/f.$p-cert" >"$T/v" 2>&1; then
    e=$(sed -n 's/^error [0-9]* at [0-9]* depth lookup: //p' "$T/v" | head -n 1)
    no "$p-cert does not verify against the bundle's ca-cert (${e:-openssl verify failed})"
  fi
done

# Encryption keys: only the safe rotation order (DESIGN.md "Encryption providers").
st() { # state of key <provider:name> in list $2
  IFS=,
  for x in $2; do [ "${x#*:}" != "$1" ] || { echo "${x%%:*}"; break; }; done
  unset IFS
}
prim() { # the primary's provider:name in list $1, and how many primaries
  pn=0 pk=
  IFS=,
  for x in $1; do [ "${x%%:*}" != primary ] || { pn=$((pn + 1)) pk=${x#*:}; }; done
  unset IFS
}
prim "$K"
[ "$pn" = 1 ] || no "keys: the bundle must have exactly one primary key, it has $pn"
np=$pk
OK=
[ ! -f "$S/installed-keys" ] || OK=$(cat "$S/installed-keys")
if [ -n "$OK" ]; then
  prim "$OK"
  op=$pk
  if [ "$np" != "$op" ]; then
    case $(st "$np" "$OK") in staged | retired) ;; *)
      no "unsafe key rotation: ${np#*:} becomes primary without being staged first; publish it as staged, restart every kube-apiserver, then make it primary" ;;
    esac
  fi
  IFS=,
  for x in $OK; do
    s=${x%%:*} i=${x#*:}
    case $s in primary | staged) ;; *) continue ;; esac
    case $(st "$i" "$K") in primary | staged | retired) continue ;; esac
    [ "$i" != "$op" ] ||
      no "unsafe key rotation: ${i#*:} is dropped in the same step that makes ${np#*:} primary; keep it retired until every object is rewritten with ${np#*:}, then drop it"
    no "unsafe key rotation: ${i#*:} is installed as $s and would be dropped; mark it retired, rewrite every object, then drop it"
  done
  unset IFS
fi

# 3. Plan: what differs from the node (content, mode, owner). Reads only.
same() { # path mode
  [ "$(stat -c %a "$1")" = "${2#0}" ] && case " $(stat -c '%u:%g %U:%G' "$1") " in *" $O "*) ;; *) false ;; esac
}
fr=
[ -e "$R$(sed -n 's/^ca-cert [0-9]* //p' "$T/files")" ] || fr=1
: >"$T/plan"
while read -r a b; do
  [ -d "$R$b" ] && same "$R$b" "$a" || echo "dir $a $b" >>"$T/plan"
done <"$T/dirs"
ch=
while read -r a b d; do
  t=$R$d
  if [ -f "$t" ] && cmp -s "$T/f.$a" "$t"; then
    same "$t" "$b" || echo "file $a $b $d" >>"$T/plan"
  else
    echo "file $a $b $d" >>"$T/plan"
    [ ! -e "$t" ] || ch="$ch $a"
  fi
done <"$T/files"
printf '%s\n' "$K" >"$T/keys"
printf '%s\n' "$V" >"$T/ver"
if [ ! -s "$T/plan" ]; then
  if [ -f "$S/installed-version" ] && cmp -s "$T/ver" "$S/installed-version" && cmp -s "$T/keys" "$S/installed-keys"; then
    say "version $V already installed, nothing changed"
    exit 0
  fi
fi

# 4. Write: dirs, files (each temp + chmod + chown + fsync + rename), the manifest last, then the state.
put() { # src dst mode
  mkdir -p "${2%/*}"
  W=$(mktemp "${2%/*}/.$P.XXXXXX")
  cat "$1" >"$W"
  chmod "$3" "$W"
  chown "$O" "$W"
  sync "$W"
  mv -f "$W" "$2"
  W=
  sync "${2%/*}"
}
umask 022
while read -r k a b d; do
  [ "$k" = dir ] || continue
  mkdir -p "$R$b"
  chmod "$a" "$R$b"
  chown "$O" "$R$b"
  say "dir $b $a"
done <"$T/plan"
grep '^file ' "$T/plan" | grep -v '^file etcd-manifest ' >"$T/fp" || true
grep '^file etcd-manifest ' "$T/plan" >>"$T/fp" || true
c=0
while read -r k a b d; do
  put "$T/f.$a" "$R$d" "$b"
  c=$((c + 1))
  say "wrote $a $d $b"
done <"$T/fp"
mkdir -p "$S"
chmod 0700 "$S"
chown "$O" "$S"
cmp -s "$T/keys" "$S/installed-keys" || put "$T/keys" "$S/installed-keys" 0600
cmp -s "$T/ver" "$S/installed-version" || put "$T/ver" "$S/installed-version" 0600
say "version $V installed ($c files written)"

# 5. What must restart.
x=
for a in $ch; do
  case $a in
  ca-cert) x=1 && say "etcd must be restarted (new CA: etcd reads CA files only at start)" ;;
  encryption-config) x=1 && say "every kube-apiserver must be restarted (new EncryptionConfiguration)" \
    "unless --encryption-provider-config-automatic-reload is on" ;;
  etcd-manifest) x=1 && say "kubelet restarts etcd (new static pod manifest)" ;;
  kms-plugin-manifest-*) x=1 && say "kubelet restarts the KMS plugin of ${a#kms-plugin-manifest-} (new static pod manifest)" ;;
  esac
done
[ -n "$x" ] || [ -z "$ch" ] || say "no restart needed (etcd re-reads certificates per connection)"
[ -z "$fr" ] || say "first install: kubelet starts etcd from the manifest"
