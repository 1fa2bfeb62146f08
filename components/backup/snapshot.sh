#!/bin/sh
# secure-etcd snapshot job: one verified, encrypted etcd snapshot in S3, or a loud failure.
#
# The CronJob runs this exact file (`sh /scripts/snapshot.sh`); the integration tests and the rehearsal's
# backup drill run it too. POSIX sh (dash, busybox ash), shellcheck-clean.
#
# Steps:
#   1. try the members of ETCD_ENDPOINTS in order; the first that answers `etcdctl endpoint health` on its
#      own (a snapshot must name ONE endpoint) is snapshotted; a member whose health check, snapshot or
#      integrity check fails is skipped and the next one is tried;
#   2. `etcdctl snapshot save` with the backup client certificate;
#   3. integrity check: `etcdutl snapshot status -w json` (etcd >= 3.5 with etcdutl present) or
#      `etcdctl snapshot status -w json` (3.4/3.5; etcdctl lost it in 3.6) -> hash, revision, totalKey;
#   4. gzip (GZIP_LEVEL, + `gzip -t`), SHA-256 of the compressed object and of the raw snapshot, in one pass;
#   5. upload with SSE-KMS to s3://$S3_BUCKET/$S3_PREFIX<UTC timestamp>-<run id>-<member>.db.gz (a key
#      no other run can pick: two runs in the same second never write, or clean up, each other's object)
#      with metadata hash, revision, etcd-version, sha256 (+ db-sha256, total-key, member, and
#      encryption-keys: the EncryptionConfiguration keys in force, which a restore needs);
#   6. verify the uploaded object (head-object: size, sha256 metadata, SSE-KMS; with VERIFY_DOWNLOAD=true
#      also download it again and re-hash);
#   7. only then write the marker $S3_PREFIX/latest.json {time, key, size, revision, sha256, ...}, which
#      monitoring reads to alert on stale snapshots — unless it already names a newer snapshot (a slower
#      run finishing last must not move it back).
#
# On any failure: exit 1 with exactly ONE line `snapshot: FAILED: <reason>` on stderr (tool output is
# captured, never passed through), the marker is never touched, and an object that was (or may have been)
# written but not verified is deleted; where the writer role may not delete (the IAM writer policy grants
# no s3:DeleteObject), it is overwritten with an empty object marked `snapshot-status=failed`, which the
# restore tool refuses (no sha256 metadata, empty). Progress lines go to stdout. The work directory
# (a private directory under WORK_DIR) is removed on every exit.
#
# Environment (required unless a default is shown):
#   ETCD_ENDPOINTS    comma list of client URLs in member order, `https://10.0.1.10:2379,...`; an entry may
#                     name its member as `cp-1=https://10.0.1.10:2379` (otherwise the name is read from
#                     `etcdctl member list`)
#   CLUSTER, ENVIRONMENT  cluster and environment names (S3_PREFIX defaults to `$CLUSTER/$ENVIRONMENT/`)
#   S3_BUCKET         bucket name
#   S3_PREFIX         key prefix, `<cluster>/<env>/` (a missing trailing `/` is added)
#   KMS_KEY_ID        KMS key id/ARN/alias for SSE-KMS (`--sse aws:kms --sse-kms-key-id`)
#   ETCD_VERSION      target etcd version, e.g. 3.5.16 (picks etcdutl vs etcdctl); default: the server's
#   AWS_REGION        region (also exported as AWS_DEFAULT_REGION for awscli v1)
#   ETCD_CACERT, ETCD_CERT, ETCD_KEY  default /etc/etcd-backup/{ca.crt,tls.crt,tls.key}
#   WORK_DIR          default /work (an emptyDir; needs room for the snapshot, its .gz and, with
#                     VERIFY_DOWNLOAD=true, a second .gz)
#   ETCDCTL, ETCDUTL, AWS_CLI   binaries, default etcdctl, etcdutl, aws
#   AWS_ENDPOINT_URL  optional S3 endpoint (tests, S3-compatible stores); path-style is what awscli uses
#                     for custom endpoints
#   ETCD_DIAL_TIMEOUT (5s), ETCD_COMMAND_TIMEOUT (5s)   per-member health/status limits (a dead member
#                     costs about ETCD_COMMAND_TIMEOUT before the next one is tried)
#   ETCD_SNAPSHOT_TIMEOUT (600)  seconds one `snapshot save` may take (etcdctl applies no timeout of its
#                     own to it, etcd-io/etcd#10298; ~100 MiB/s makes 8 GiB about 80 s); enforced with
#                     `timeout` where installed, then the next member is tried
#   VERIFY_DOWNLOAD   true|false (false): also download the object again and compare its SHA-256
#   GZIP_LEVEL        1-9 (1): gzip -1 is ~1.5x faster than gzip's default -6 and only slightly larger on
#                     etcd data (npm run bench, README "Benchmarks"); raise it to trade time for storage
#   ENCRYPTION_KEYS   optional, the EncryptionConfiguration's keys in order as `<provider>:<name> …`
#                     (no key material): recorded on the object so a restore names the keys it needs;
#                     a kms key is `kms:<name>=<AWS key ARN>` (the envelope key a restore checks first)
#   Large databases (etcd allows up to 8 GiB): awscli uploads above S3_MULTIPART_THRESHOLD (64MB) as
#   multipart uploads of S3_MULTIPART_CHUNKSIZE (64MB) parts, S3_MAX_CONCURRENT_REQUESTS (4) at a time,
#   each part its own request with its own retries, so no single request carries gigabytes; 8 GiB is 128
#   parts (S3 allows 10,000). S3_READ_TIMEOUT (300 s) is the per-socket-read timeout (awscli's default 60 s
#   is too short while S3 assembles a large CompleteMultipartUpload). The s3 settings are written to a
#   private AWS config file in the work dir, unless AWS_CONFIG_FILE is set or ~/.aws/config exists (then
#   that file's own s3 settings apply). Credentials come from the usual chain (IRSA web identity env,
#   instance profile, env vars); this script never reads or prints them.
#
# Exit status: 0 = snapshot uploaded, verified and marker updated; 1 = failure (one-line reason).
set -eu

REASON=""
STEP="starting"
TMP=""
KEY=""
OBJECT_STARTED=0
OBJECT_VERIFIED=0

log() { printf 'snapshot: %s\n' "$*"; }

# Records the reason and exits; the EXIT trap cleans up and prints the one FAILED line.
fail() {
  REASON=$*
  exit 1
}

# Last non-empty line of a captured stderr file, one line, at most 300 characters.
last_line() {
  if [ -s "$1" ]; then
    grep -v '^[[:space:]]*$' "$1" | tail -n 1 | tr -d '\r' | cut -c1-300
  fi
}

now_s() { date -u +%s; }

on_exit() {
  rc=$?
  set +e
  trap - EXIT
  if [ "$rc" -ne 0 ]; then
    [ -n "$REASON" ] || REASON="unexpected error (exit $rc) while $STEP"
    if [ "$OBJECT_STARTED" = 1 ] && [ "$OBJECT_VERIFIED" != 1 ]; then
      remove_unverified_object
    fi
    REASON=$(printf '%s' "$REASON" | tr '\n\r\t' '   ')
    printf 'snapshot: FAILED: %s\n' "$REASON" >&2
  fi
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then rm -rf "$TMP"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'REASON="interrupted by a signal while $STEP"; exit 1' INT TERM HUP

awsc() {
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    "$AWS_CLI" --endpoint-url "$AWS_ENDPOINT_URL" --cli-read-timeout "$S3_READ_TIMEOUT" \
      --cli-connect-timeout "$S3_CONNECT_TIMEOUT" "$@" </dev/null
  else
    "$AWS_CLI" --cli-read-timeout "$S3_READ_TIMEOUT" --cli-connect-timeout "$S3_CONNECT_TIMEOUT" "$@" </dev/null
  fi
}

etcdctl_at() {
  endpoint=$1
  shift
  ETCDCTL_API=3 "$ETCDCTL" --endpoints="$endpoint" --cacert="$ETCD_CACERT" --cert="$ETCD_CERT" \
    --key="$ETCD_KEY" --dial-timeout="$ETCD_DIAL_TIMEOUT" --command-timeout="$ETCD_COMMAND_TIMEOUT" "$@" </dev/null
}

# An object was (maybe) written but never verified: make sure nothing looks like a complete snapshot.
remove_unverified_object() {
  target="s3://$S3_BUCKET/$KEY"
  err="$TMP/cleanup.err"
  if awsc s3api head-object --bucket "$S3_BUCKET" --key "$KEY" >/dev/null 2>"$err"; then
    if awsc s3api delete-object --bucket "$S3_BUCKET" --key "$KEY" >/dev/null 2>"$err"; then
      REASON="$REASON; removed the unverified object $target"
    else
      why=$(last_line "$err")
      : >"$TMP/empty"
      if awsc s3api put-object --bucket "$S3_BUCKET" --key "$KEY" --body "$TMP/empty" \
        --server-side-encryption aws:kms --ssekms-key-id "$KMS_KEY_ID" \
        --metadata snapshot-status=failed >/dev/null 2>"$err"; then
        REASON="$REASON; could not delete the unverified object $target ($why), overwrote it with an empty object marked snapshot-status=failed"
      else
        REASON="$REASON; WARNING: the unverified object $target could not be removed ($why; $(last_line "$err"))"
      fi
    fi
  elif absent_error "$err"; then
    : # nothing was written (without s3:ListBucket on the key, S3 answers 403 for a missing key)
  else
    REASON="$REASON; could not check whether a partial object $target exists ($(last_line "$err"))"
  fi
}

# head-object's error for a key that does not exist (without s3:ListBucket on it, S3 answers 403, not 404).
absent_error() { grep -q -E '404|Not Found|NoSuchKey|403|Forbidden|AccessDenied' "$1" 2>/dev/null; }

# 8 random hex characters: this run's part of the object key.
run_id() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

# version_at_least VERSION MAJOR MINOR
version_at_least() {
  v=${1#v}
  maj=${v%%.*}
  rest=${v#*.}
  min=${rest%%.*}
  case "$maj" in '' | *[!0-9]*) return 1 ;; esac
  case "$min" in '' | *[!0-9]*) return 1 ;; esac
  [ "$maj" -gt "$2" ] || { [ "$maj" -eq "$2" ] && [ "$min" -ge "$3" ]; }
}

json_number() { # json_number FIELD FILE
  sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1
}

file_size() { wc -c <"$1" | tr -d ' '; }

sha256_of() { sha256sum "$1" | cut -d ' ' -f 1; }

# ---------------------------------------------------------------------------------------------- config
STEP="checking the configuration"
WORK_DIR=${WORK_DIR:-/work}
ETCDCTL=${ETCDCTL:-etcdctl}
ETCDUTL=${ETCDUTL:-etcdutl}
AWS_CLI=${AWS_CLI:-aws}
ETCD_CACERT=${ETCD_CACERT:-/etc/etcd-backup/ca.crt}
ETCD_CERT=${ETCD_CERT:-/etc/etcd-backup/tls.crt}
ETCD_KEY=${ETCD_KEY:-/etc/etcd-backup/tls.key}
ETCD_DIAL_TIMEOUT=${ETCD_DIAL_TIMEOUT:-5s}
ETCD_COMMAND_TIMEOUT=${ETCD_COMMAND_TIMEOUT:-5s}
ETCD_SNAPSHOT_TIMEOUT=${ETCD_SNAPSHOT_TIMEOUT:-600}
S3_MULTIPART_THRESHOLD=${S3_MULTIPART_THRESHOLD:-64MB}
S3_MULTIPART_CHUNKSIZE=${S3_MULTIPART_CHUNKSIZE:-64MB}
S3_MAX_CONCURRENT_REQUESTS=${S3_MAX_CONCURRENT_REQUESTS:-4}
S3_READ_TIMEOUT=${S3_READ_TIMEOUT:-300}
S3_CONNECT_TIMEOUT=${S3_CONNECT_TIMEOUT:-30}
VERIFY_DOWNLOAD=${VERIFY_DOWNLOAD:-false}
GZIP_LEVEL=${GZIP_LEVEL:-1}
ETCD_VERSION=${ETCD_VERSION:-}
KMS_KEY_ID=${KMS_KEY_ID:-}
ENCRYPTION_KEYS=${ENCRYPTION_KEYS:-}

[ -n "${ETCD_ENDPOINTS:-}" ] || fail "ETCD_ENDPOINTS is not set (comma list of https://<member-ip>:2379 in member order)"
[ -n "${S3_BUCKET:-}" ] || fail "S3_BUCKET is not set"
[ -n "$KMS_KEY_ID" ] || fail "KMS_KEY_ID is not set (snapshots are only uploaded with SSE-KMS)"
if [ -z "${S3_PREFIX:-}" ]; then
  { [ -n "${CLUSTER:-}" ] && [ -n "${ENVIRONMENT:-}" ]; } ||
    fail "S3_PREFIX is not set and CLUSTER/ENVIRONMENT are not both set to derive <cluster>/<env>/"
  S3_PREFIX="$CLUSTER/$ENVIRONMENT/"
fi
case "$S3_PREFIX" in */) ;; *) S3_PREFIX="$S3_PREFIX/" ;; esac
case "$S3_PREFIX" in /* | *..*) fail "S3_PREFIX '$S3_PREFIX' must be relative like <cluster>/<env>/ without '..'" ;; esac
case "$VERIFY_DOWNLOAD" in true | false) ;; *) fail "VERIFY_DOWNLOAD must be true or false (got '$VERIFY_DOWNLOAD')" ;; esac
case "$GZIP_LEVEL" in [1-9]) ;; *) fail "GZIP_LEVEL must be 1 to 9 (got '$GZIP_LEVEL')" ;; esac
case "$ENCRYPTION_KEYS" in *[!A-Za-z0-9:._/=\ -]*) fail "ENCRYPTION_KEYS must be '<provider>:<name>' or 'kms:<name>=<key ARN>' words (got '$ENCRYPTION_KEYS')" ;; esac
for size in "$S3_MULTIPART_THRESHOLD" "$S3_MULTIPART_CHUNKSIZE"; do
  case "$size" in '' | *[!0-9KMGB]* | [!0-9]*) fail "S3 multipart sizes must look like 64MB (got '$size')" ;; esac
done
for n in "$S3_MAX_CONCURRENT_REQUESTS" "$S3_READ_TIMEOUT" "$S3_CONNECT_TIMEOUT" "$ETCD_SNAPSHOT_TIMEOUT"; do
  case "$n" in '' | *[!0-9]*) fail "S3_MAX_CONCURRENT_REQUESTS, S3_READ_TIMEOUT, S3_CONNECT_TIMEOUT and ETCD_SNAPSHOT_TIMEOUT must be whole numbers (got '$n')" ;; esac
done
for f in "$ETCD_CACERT" "$ETCD_CERT" "$ETCD_KEY"; do
  [ -r "$f" ] || fail "cannot read $f (backup client CA/cert/key: ETCD_CACERT, ETCD_CERT, ETCD_KEY)"
done
for tool in "$ETCDCTL" "$AWS_CLI" gzip sha256sum mkfifo tee; do
  command -v "$tool" >/dev/null 2>&1 || fail "required tool '$tool' not found in PATH"
done
{ [ -d "$WORK_DIR" ] && [ -w "$WORK_DIR" ]; } || fail "WORK_DIR $WORK_DIR is not a writable directory"
TMP=$(mktemp -d "$WORK_DIR/etcd-snapshot.XXXXXX") || fail "cannot create a work directory under $WORK_DIR"
chmod 700 "$TMP"

export ETCDCTL_API=3
export AWS_PAGER=""
if [ -n "${AWS_REGION:-}" ] && [ -z "${AWS_DEFAULT_REGION:-}" ]; then export AWS_DEFAULT_REGION="$AWS_REGION"; fi
if [ -z "${AWS_CONFIG_FILE:-}" ] && [ ! -e "${HOME:-/nonexistent}/.aws/config" ]; then
  profile=${AWS_PROFILE:-default}
  section="profile $profile"
  [ "$profile" = default ] && section=default
  {
    printf '[%s]\n' "$section"
    [ -z "${AWS_REGION:-}" ] || printf 'region = %s\n' "$AWS_REGION"
    printf 's3 =\n  multipart_threshold = %s\n  multipart_chunksize = %s\n  max_concurrent_requests = %s\n' \
      "$S3_MULTIPART_THRESHOLD" "$S3_MULTIPART_CHUNKSIZE" "$S3_MAX_CONCURRENT_REQUESTS"
  } >"$TMP/aws-config"
  export AWS_CONFIG_FILE="$TMP/aws-config"
  log "s3 uploads: multipart above $S3_MULTIPART_THRESHOLD in $S3_MULTIPART_CHUNKSIZE parts, $S3_MAX_CONCURRENT_REQUESTS at a time, read timeout ${S3_READ_TIMEOUT}s"
else
  log "s3 uploads: using the s3 settings of ${AWS_CONFIG_FILE:-$HOME/.aws/config}, read timeout ${S3_READ_TIMEOUT}s"
fi

# ---------------------------------------------------------------------------------------------- snapshot
# Tries one member: health, snapshot, integrity check. Returns non-zero with $MEMBER_ERROR set.
try_member() {
  entry=$1
  SERVER_VERSION=""
  case "$entry" in
    *=*) MEMBER=${entry%%=*} ENDPOINT=${entry#*=} ;;
    *) MEMBER="" ENDPOINT=$entry ;;
  esac
  case "$ENDPOINT" in
    https://?*) ;;
    *)
      MEMBER_ERROR="'$ENDPOINT' is not an https:// client URL"
      return 1
      ;;
  esac
  label=${MEMBER:-$ENDPOINT}
  STEP="checking the health of $label"
  if ! etcdctl_at "$ENDPOINT" endpoint health >"$TMP/health.out" 2>"$TMP/health.err"; then
    MEMBER_ERROR="not healthy ($(last_line "$TMP/health.err"))"
    return 1
  fi
  if etcdctl_at "$ENDPOINT" endpoint status -w simple >"$TMP/status.out" 2>"$TMP/status.err"; then
    member_id=$(head -n 1 "$TMP/status.out" | cut -d, -f2 | tr -d ' ')
    SERVER_VERSION=$(head -n 1 "$TMP/status.out" | cut -d, -f3 | tr -d ' ')
    if [ -z "$MEMBER" ] && [ -n "$member_id" ] &&
      etcdctl_at "$ENDPOINT" member list -w simple >"$TMP/members.out" 2>"$TMP/members.err"; then
      MEMBER=$(grep "^$member_id," "$TMP/members.out" | head -n 1 | cut -d, -f3 | tr -d ' ')
    fi
  fi
  if [ -z "$MEMBER" ]; then
    MEMBER=$(printf '%s' "$ENDPOINT" | sed -e 's|^https://||' -e 's|[:/].*$||' -e 's|^\[||' -e 's|\]$||')
  fi
  MEMBER=$(printf '%s' "$MEMBER" | tr -c 'A-Za-z0-9._-' '-')
  log "member $MEMBER ($ENDPOINT) is healthy; saving a snapshot"

  STEP="saving a snapshot from $MEMBER"
  DB="$TMP/snapshot.db"
  rm -f "$DB" "$DB.part"
  started=$(now_s)
  if command -v timeout >/dev/null 2>&1; then
    set -- timeout "$ETCD_SNAPSHOT_TIMEOUT"
  else
    set --
  fi
  save_rc=0
  ETCDCTL_API=3 "$@" "$ETCDCTL" --endpoints="$ENDPOINT" --cacert="$ETCD_CACERT" --cert="$ETCD_CERT" \
    --key="$ETCD_KEY" --dial-timeout="$ETCD_DIAL_TIMEOUT" snapshot save "$DB" \
    >"$TMP/save.out" 2>"$TMP/save.err" </dev/null || save_rc=$?
  if [ "$save_rc" -eq 124 ] && [ "$#" -gt 0 ]; then
    MEMBER_ERROR="snapshot save took longer than ETCD_SNAPSHOT_TIMEOUT=${ETCD_SNAPSHOT_TIMEOUT}s"
    return 1
  elif [ "$save_rc" -ne 0 ]; then
    MEMBER_ERROR="snapshot save failed ($(last_line "$TMP/save.err"))"
    return 1
  fi
  if [ ! -s "$DB" ]; then
    MEMBER_ERROR="snapshot save wrote no data"
    return 1
  fi
  DB_SIZE=$(file_size "$DB")
  log "saved $DB_SIZE bytes from $MEMBER in $(($(now_s) - started))s"

  STEP="checking the snapshot's integrity"
  [ -n "$ETCD_VERSION" ] || ETCD_VERSION=$SERVER_VERSION
  if version_at_least "$ETCD_VERSION" 3 5 && command -v "$ETCDUTL" >/dev/null 2>&1; then
    status_tool="etcdutl"
    "$ETCDUTL" snapshot status "$DB" -w json >"$TMP/check.out" 2>"$TMP/check.err" </dev/null ||
      status_failed=1
  elif version_at_least "$ETCD_VERSION" 3 6; then
    MEMBER_ERROR="etcd $ETCD_VERSION needs etcdutl for 'snapshot status' (etcdctl lost it in 3.6); '$ETCDUTL' not found"
    return 1
  else
    status_tool="etcdctl"
    ETCDCTL_API=3 "$ETCDCTL" snapshot status "$DB" -w json >"$TMP/check.out" 2>"$TMP/check.err" </dev/null ||
      status_failed=1
  fi
  if [ "${status_failed:-0}" = 1 ]; then
    MEMBER_ERROR="$status_tool snapshot status rejected the snapshot ($(last_line "$TMP/check.err"))"
    return 1
  fi
  SNAP_HASH=$(json_number hash "$TMP/check.out")
  SNAP_REVISION=$(json_number revision "$TMP/check.out")
  SNAP_TOTAL_KEY=$(json_number totalKey "$TMP/check.out")
  if [ -z "$SNAP_HASH" ] || [ -z "$SNAP_REVISION" ] || [ -z "$SNAP_TOTAL_KEY" ] || [ "$SNAP_REVISION" -lt 1 ]; then
    MEMBER_ERROR="$status_tool snapshot status gave no usable hash/revision/totalKey ($(head -c 200 "$TMP/check.out" | tr '\n' ' '))"
    return 1
  fi
  log "integrity ok ($status_tool): hash $SNAP_HASH, revision $SNAP_REVISION, $SNAP_TOTAL_KEY keys"
  return 0
}

ENDPOINT_COUNT=0
FAILURES=""
SNAPSHOT_OK=0
old_ifs=$IFS
IFS=,
set -f
# shellcheck disable=SC2086 # split the comma list on purpose
set -- $ETCD_ENDPOINTS
set +f
IFS=$old_ifs
for entry in "$@"; do
  entry=$(printf '%s' "$entry" | tr -d ' ')
  [ -n "$entry" ] || continue
  ENDPOINT_COUNT=$((ENDPOINT_COUNT + 1))
  MEMBER_ERROR=""
  status_failed=0
  if try_member "$entry"; then
    SNAPSHOT_OK=1
    break
  fi
  log "skipping ${MEMBER:-$entry}: $MEMBER_ERROR"
  FAILURES="${FAILURES:+$FAILURES; }${MEMBER:-$entry}: $MEMBER_ERROR"
done
[ "$ENDPOINT_COUNT" -gt 0 ] || fail "ETCD_ENDPOINTS lists no endpoint"
[ "$SNAPSHOT_OK" = 1 ] || fail "no member produced a verified snapshot ($FAILURES)"

# ---------------------------------------------------------------------------------------------- compress
STEP="compressing the snapshot"
# One pass over the data: the raw snapshot's SHA-256 runs beside gzip (on another core), and the
# compressed stream is hashed and checked with `gzip -t` as it is written (tee into a FIFO), instead of
# reading the .gz back twice afterwards (npm run bench measured each extra pass).
GZ="$TMP/snapshot.db.gz"
sha256_of "$DB" >"$TMP/db.sha256" 2>"$TMP/dbsha.err" &
db_sha_pid=$!
mkfifo "$TMP/gz.fifo" "$TMP/gzsha.fifo" || fail "cannot create FIFOs in $TMP"
gzip -t <"$TMP/gz.fifo" 2>"$TMP/gzipt.err" &
gzip_t_pid=$!
sha256sum <"$TMP/gzsha.fifo" >"$TMP/gz.sha256" 2>"$TMP/gzsha.err" &
gz_sha_pid=$!
{ gzip "-$GZIP_LEVEL" -c "$DB" 2>"$TMP/gzip.err" || echo "$?" >"$TMP/gzip.rc"; } |
  { tee "$TMP/gz.fifo" "$TMP/gzsha.fifo" >"$GZ" 2>"$TMP/tee.err" || echo "$?" >"$TMP/tee.rc"; }
gzip_t_rc=0
wait "$gzip_t_pid" || gzip_t_rc=$?
gz_sha_rc=0
wait "$gz_sha_pid" || gz_sha_rc=$?
db_sha_rc=0
wait "$db_sha_pid" || db_sha_rc=$?
[ ! -e "$TMP/gzip.rc" ] || fail "gzip failed ($(last_line "$TMP/gzip.err"))"
[ ! -e "$TMP/tee.rc" ] || fail "writing the compressed snapshot failed ($(last_line "$TMP/tee.err"))"
[ "$gzip_t_rc" -eq 0 ] || fail "the compressed snapshot does not pass gzip -t ($(last_line "$TMP/gzipt.err"))"
[ "$db_sha_rc" -eq 0 ] || fail "cannot hash the snapshot ($(last_line "$TMP/dbsha.err"))"
[ "$gz_sha_rc" -eq 0 ] || fail "cannot hash the compressed snapshot ($(last_line "$TMP/gzsha.err"))"
DB_SHA256=$(cat "$TMP/db.sha256")
SHA256=$(cut -d ' ' -f 1 "$TMP/gz.sha256")
rm -f "$DB"
SIZE=$(file_size "$GZ")
log "compressed to $SIZE bytes (gzip -$GZIP_LEVEL), sha256 $SHA256"

# ---------------------------------------------------------------------------------------------- upload
STEP="uploading the snapshot"
TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
STAMP=$(printf '%s' "$TIME" | tr -d ':-')
RUN=$(run_id)
[ "${#RUN}" -eq 8 ] || fail "cannot read /dev/urandom for this run's id"
KEY="${S3_PREFIX}${STAMP}-${RUN}-${MEMBER}.db.gz"
TARGET="s3://$S3_BUCKET/$KEY"
# Never write over an object that exists: it would belong to another run (and cleanup would hit it).
if awsc s3api head-object --bucket "$S3_BUCKET" --key "$KEY" >/dev/null 2>"$TMP/exists.err"; then
  fail "$TARGET already exists; refusing to overwrite another run's snapshot"
elif ! absent_error "$TMP/exists.err"; then
  fail "cannot check whether $TARGET exists ($(last_line "$TMP/exists.err"))"
fi
# JSON, not the k=v,… shorthand: ENCRYPTION_KEYS is a list.
METADATA=$(printf '{"hash":"%s","revision":"%s","etcd-version":"%s","sha256":"%s","db-sha256":"%s","total-key":"%s","member":"%s","encryption-keys":"%s"}' \
  "$SNAP_HASH" "$SNAP_REVISION" "$ETCD_VERSION" "$SHA256" "$DB_SHA256" "$SNAP_TOTAL_KEY" "$MEMBER" "$ENCRYPTION_KEYS")
log "uploading to $TARGET (SSE-KMS)"
started=$(now_s)
OBJECT_STARTED=1
awsc s3 cp "$GZ" "$TARGET" --only-show-errors --sse aws:kms --sse-kms-key-id "$KMS_KEY_ID" \
  --content-type application/gzip --metadata "$METADATA" >"$TMP/upload.out" 2>"$TMP/upload.err" ||
  fail "upload to $TARGET failed ($(last_line "$TMP/upload.err"))"
log "uploaded $SIZE bytes in $(($(now_s) - started))s"

# ---------------------------------------------------------------------------------------------- verify
STEP="verifying the uploaded object"
awsc s3api head-object --bucket "$S3_BUCKET" --key "$KEY" --output text \
  --query '[ContentLength, Metadata.sha256, ServerSideEncryption]' >"$TMP/head.out" 2>"$TMP/head.err" ||
  fail "cannot read back $TARGET ($(last_line "$TMP/head.err"))"
read -r got_size got_sha got_sse <"$TMP/head.out" || true
[ "${got_size:-}" = "$SIZE" ] || fail "uploaded object $TARGET has $got_size bytes, expected $SIZE"
[ "${got_sha:-}" = "$SHA256" ] || fail "uploaded object $TARGET carries sha256 '$got_sha', expected $SHA256"
[ "${got_sse:-}" = "aws:kms" ] || fail "uploaded object $TARGET is not SSE-KMS encrypted (ServerSideEncryption=${got_sse:-none})"
if [ "$VERIFY_DOWNLOAD" = true ]; then
  awsc s3 cp "$TARGET" "$TMP/verify.gz" --only-show-errors >/dev/null 2>"$TMP/verify.err" ||
    fail "cannot download $TARGET again to verify it ($(last_line "$TMP/verify.err"))"
  [ "$(sha256_of "$TMP/verify.gz")" = "$SHA256" ] || fail "the downloaded copy of $TARGET does not match sha256 $SHA256"
  rm -f "$TMP/verify.gz"
  log "verified: size, sha256 metadata, SSE-KMS, and a downloaded copy's sha256"
else
  log "verified: size, sha256 metadata, SSE-KMS"
fi
OBJECT_VERIFIED=1

# ---------------------------------------------------------------------------------------------- marker
STEP="updating the latest marker"
MARKER="${S3_PREFIX}latest.json"
if awsc s3 cp "s3://$S3_BUCKET/$MARKER" "$TMP/current.json" --only-show-errors >/dev/null 2>"$TMP/current.err"; then
  current_revision=$(json_number revision "$TMP/current.json")
  if [ -n "$current_revision" ] && [ "$current_revision" -gt "$SNAP_REVISION" ]; then
    log "kept the marker: it names a newer snapshot (revision $current_revision > $SNAP_REVISION)"
    log "OK $TARGET size=$SIZE revision=$SNAP_REVISION sha256=$SHA256"
    exit 0
  fi
fi
printf '{"time":"%s","bucket":"%s","key":"%s","size":%s,"revision":%s,"hash":%s,"totalKey":%s,"sha256":"%s","member":"%s","etcdVersion":"%s","encryptionKeys":"%s"}\n' \
  "$TIME" "$S3_BUCKET" "$KEY" "$SIZE" "$SNAP_REVISION" "$SNAP_HASH" "$SNAP_TOTAL_KEY" "$SHA256" "$MEMBER" "$ETCD_VERSION" "$ENCRYPTION_KEYS" \
  >"$TMP/latest.json"
awsc s3 cp "$TMP/latest.json" "s3://$S3_BUCKET/$MARKER" --only-show-errors --sse aws:kms \
  --sse-kms-key-id "$KMS_KEY_ID" --content-type application/json >/dev/null 2>"$TMP/marker.err" ||
  fail "snapshot $TARGET is uploaded and verified, but the marker s3://$S3_BUCKET/$MARKER could not be updated ($(last_line "$TMP/marker.err"))"
log "marker s3://$S3_BUCKET/$MARKER -> $KEY"
log "OK $TARGET size=$SIZE revision=$SNAP_REVISION sha256=$SHA256"
