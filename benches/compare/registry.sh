#!/usr/bin/env bash
# `volt registry serve` against Debian's docker-registry (the CNCF distribution server), same
# work, same run, both on 127.0.0.1:
#   push:   skopeo copy of a ~200 MB image (4 gzip layers) from an OCI layout to the registry
#   pull:   skopeo copy back out of the registry into a fresh OCI layout
#   http:   the same blobs pushed (POST, PATCH, PUT) and pulled (GET) with curl: the registry's
#           own share, without skopeo's client-side work (which dominates the skopeo numbers)
#   small:  manifest HEAD (ab), manifest GET and tags/list (wrk): requests/s and p99 latency
#   memory: peak resident set of each server (VmHWM) after all of the above
#   reuse:  volt image pull of an image whose blobs are already in the store: bytes transferred
# Every push and pull starts from empty registries (fresh storage, restarted servers) so nothing
# is mounted or skipped; the sides alternate each round and the median of ROUNDS is reported.
#
# Usage: benches/compare/registry.sh        Environment: ROUNDS (default 3), SIZE_MB (200),
#        WRK_SECONDS (10), VOLT (binary; default builds target/release/volt).
# Needs: skopeo, docker-registry, wrk, ab (apache2-utils), python3 (bash scripts/setup.sh bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SIZE_MB=${SIZE_MB:-200}
WRK_SECONDS=${WRK_SECONDS:-10}
if [ -z "${VOLT:-}" ]; then
    cargo build --release -q -p volt-cli
    VOLT=$PWD/target/release/volt
fi
for tool in skopeo docker-registry wrk ab python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (bash scripts/setup.sh bench)" >&2; exit 10; }
done
work=$(mktemp -d /var/tmp/volt-regbench.XXXXXX)
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop_all; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer at $1" >&2; exit 1; }

# The image: SIZE_MB of incompressible file content in 4 layers, gzip level 1, as an OCI layout.
python3 - "$work/layout" "$SIZE_MB" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
out, size_mb = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{out}/blobs/sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d
layers, diff_ids = [], []
per_layer = size_mb * (1 << 20) // 4
for i in range(4):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        left, n = per_layer, 0
        while left > 0:
            chunk = min(left, 8 << 20)
            info = tarfile.TarInfo(f"layer{i}/file{n}.bin"); info.size = chunk; info.mtime = 0
            t.addfile(info, io.BytesIO(os.urandom(chunk)))
            left -= chunk; n += 1
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    gz = gzip.compress(raw, compresslevel=1, mtime=0)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz), "size": len(gz)})
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
    "layers": layers}).encode()
md = put(manifest)
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{out}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [{"mediaType":
    "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(manifest),
    "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}))
EOF
image_mb=$(du -sm "$work/layout" | cut -f1)

start_volt() { # -> sets VPORT, VPID, VTOKEN
    rm -rf "$work/volt"
    VPORT=$(free_port)
    VOLT_ROOT=$work/volt "$VOLT" registry serve --port "$VPORT" 2>"$work/volt.log" &
    VPID=$!
    pids+=("$VPID")
    wait_http "http://127.0.0.1:$VPORT/v2/"
    VTOKEN=$(VOLT_ROOT=$work/volt "$VOLT" -q registry token create --repo '*' --actions pull,push --ttl 1h)
}
start_dr() { # -> sets DPORT, DPID
    rm -rf "$work/dr"
    DPORT=$(free_port)
    printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
        "$work/dr" "$DPORT" >"$work/dr.yml"
    docker-registry serve "$work/dr.yml" >"$work/dr.log" 2>&1 &
    DPID=$!
    pids+=("$DPID")
    wait_http "http://127.0.0.1:$DPORT/v2/"
}
SK=(skopeo --override-os linux --override-arch amd64)
now() { date +%s%N; }
declare -A samples
timeit() { local name=$1; shift; local s; s=$(now); "$@" >/dev/null; samples[$name]="${samples[$name]:-} $(( $(now) - s ))"; }
median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
secs() { awk "BEGIN{printf \"%.3f\", $(median "$1")/1e9}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $(median "$1")/$(median "$2")}"; }

for round in $(seq "$ROUNDS"); do
    stop_all
    start_volt
    start_dr
    sync
    if [ $((round % 2)) -eq 1 ]; then order="volt dr"; else order="dr volt"; fi
    for side in $order; do
        if [ "$side" = volt ]; then
            timeit push_volt "${SK[@]}" copy -q --dest-tls-verify=false --dest-registry-token "$VTOKEN" \
                oci:"$work/layout":bench "docker://127.0.0.1:$VPORT/bench/img:1"
        else
            timeit push_dr "${SK[@]}" copy -q --dest-tls-verify=false oci:"$work/layout":bench "docker://127.0.0.1:$DPORT/bench/img:1"
        fi
    done
    for side in $order; do
        rm -rf "$work/out"
        port=$VPORT; [ "$side" = dr ] && port=$DPORT
        timeit "pull_$side" "${SK[@]}" copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench/img:1" oci:"$work/out":1
    done
done

# The registries' own share: the same blobs through plain HTTP (curl), no client-side work.
blobs=("$work"/layout/blobs/sha256/*)
http_push() { # port token repo
    local f d loc
    for f in "${blobs[@]}"; do
        d="sha256:$(basename "$f")"
        loc=$(curl -sf -D - -o /dev/null -X POST ${2:+-H "Authorization: Bearer $2"} "http://127.0.0.1:$1/v2/$3/blobs/uploads/" |
            awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
        case $loc in http*) ;; *) loc="http://127.0.0.1:$1$loc" ;; esac
        loc=$(curl -sf -D - -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' ${2:+-H "Authorization: Bearer $2"} \
            --data-binary @"$f" "$loc" | awk 'tolower($1)=="location:" {print $2}' | tr -d '\r')
        case $loc in http*) ;; *) loc="http://127.0.0.1:$1$loc" ;; esac
        case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
        curl -sf -o /dev/null -X PUT ${2:+-H "Authorization: Bearer $2"} "$loc"
    done
}
http_pull() { # port repo
    local f
    for f in "${blobs[@]}"; do curl -sf -o /dev/null "http://127.0.0.1:$1/v2/$2/blobs/sha256:$(basename "$f")"; done
}
for round in $(seq "$ROUNDS"); do
    sync
    if [ $((round % 2)) -eq 1 ]; then order="volt dr"; else order="dr volt"; fi
    for side in $order; do
        if [ "$side" = volt ]; then
            timeit http_push_volt http_push "$VPORT" "$VTOKEN" "http/r$round"
        else
            timeit http_push_dr http_push "$DPORT" "" "http/r$round"
        fi
    done
    for side in $order; do
        port=$VPORT; [ "$side" = dr ] && port=$DPORT
        timeit "http_pull_$side" http_pull "$port" "http/r$round"
    done
done

# Small requests against the image just pushed (anonymous pull is on in both).
cat >"$work/get.lua" <<'EOF'
wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"
EOF
declare -A rps p99
load() { # key url [wrk script]
    local out
    out=$(wrk -t1 -c16 -d"${WRK_SECONDS}s" --latency ${3:+-s "$3"} "$2")
    rps[$1]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99[$1]=$(awk '$1=="99%" {print $2}' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then echo "warning: $1 had non-2xx answers" >&2; fi
}
# wrk cannot time HEAD (it waits for the body Content-Length announces), so HEAD uses ab -i.
load_head() { # key url
    local out n
    n=$(( WRK_SECONDS * 2000 ))
    out=$(ab -q -k -i -c 16 -n "$n" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$2")
    rps[$1]=$(awk '/Requests per second/ {print $4}' <<<"$out")
    p99[$1]="$(awk '$1=="99%" {print $2}' <<<"$out")ms"
    if grep -q "Non-2xx responses" <<<"$out"; then echo "warning: $1 had non-2xx answers" >&2; fi
}
for side in volt dr; do
    port=$VPORT; [ "$side" = dr ] && port=$DPORT
    base="http://127.0.0.1:$port/v2/bench/img"
    load_head "head_$side" "$base/manifests/1"
    load "get_$side" "$base/manifests/1" "$work/get.lua"
    load "tags_$side" "$base/tags/list"
done
rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
vrss=$(rss_kb "$VPID")
drss=$(rss_kb "$DPID")

# Re-pull into a store that already holds every blob: count the bytes the registry served.
VOLT_ROOT=$work/volt "$VOLT" -q image pull "127.0.0.1:$DPORT/bench/img:1" --name first:1 >/dev/null
before=$(grep -E "^ *lo:" /proc/net/dev | awk '{print $2}')
s=$(now)
VOLT_ROOT=$work/volt "$VOLT" -q image pull "127.0.0.1:$DPORT/bench/img:1" --name again:1 >/dev/null
reuse_ms=$(( ($(now) - s) / 1000000 ))
after=$(grep -E "^ *lo:" /proc/net/dev | awk '{print $2}')

echo
echo "registry benchmark: ${image_mb} MiB image (4 gzip layers), median of $ROUNDS rounds"
printf '  skopeo push   volt %ss  docker-registry %ss  -> volt is %sx faster\n' \
    "$(secs push_volt)" "$(secs push_dr)" "$(ratio push_dr push_volt)"
printf '  skopeo pull   volt %ss  docker-registry %ss  -> volt is %sx faster\n' \
    "$(secs pull_volt)" "$(secs pull_dr)" "$(ratio pull_dr pull_volt)"
printf '  HTTP push     volt %ss  docker-registry %ss  -> volt is %sx faster (registry side only)\n' \
    "$(secs http_push_volt)" "$(secs http_push_dr)" "$(ratio http_push_dr http_push_volt)"
printf '  HTTP pull     volt %ss  docker-registry %ss  -> volt is %sx faster (registry side only)\n' \
    "$(secs http_pull_volt)" "$(secs http_pull_dr)" "$(ratio http_pull_dr http_pull_volt)"
for k in head get tags; do
    printf '  %-12s  volt %8s req/s (p99 %s)  docker-registry %8s req/s (p99 %s)  -> %sx\n' "$k" \
        "${rps[${k}_volt]}" "${p99[${k}_volt]}" "${rps[${k}_dr]}" "${p99[${k}_dr]}" \
        "$(awk "BEGIN{printf \"%.2f\", ${rps[${k}_volt]}/${rps[${k}_dr]}}")"
done
printf '  peak RSS      volt %s MiB  docker-registry %s MiB\n' "$((vrss / 1024))" "$((drss / 1024))"
printf '  re-pull with every blob in the store: %s ms, %s bytes over loopback (manifest requests only)\n' \
    "$reuse_ms" "$((after - before))"
