#!/usr/bin/env bash
# Real OCI clients against `volt registry serve`, and `volt image pull` against a second real
# registry (Debian's docker-registry, the CNCF distribution server). Everything listens on
# 127.0.0.1; nothing leaves the machine.
#   skopeo: push with a bearer token and with a token-flow login, pull, cross-repository copy
#   podman: login, pull, push (own storage root under the test directory)
#   oras (PyPI): artifact push and pull
#   docker-registry: volt image pull (and a re-pull that must not fetch a single blob); with
#   htpasswd, pull and push with basic credentials
# Usage: tests/registry/clients.sh [path/to/volt]   (default target/debug/volt)
set -euo pipefail
cd "$(dirname "$0")/../.."
VOLT_BIN=$(realpath "${1:-target/debug/volt}")
ORAS_PY=${ORAS_PY:-target/tools-venv/bin/python}
for tool in skopeo podman docker-registry busybox curl htpasswd "$ORAS_PY"; do
    command -v "$tool" >/dev/null || { echo "clients.sh: missing $tool (run scripts/setup.sh)" >&2; exit 10; }
done

W=$(mktemp -d /tmp/volt-clients.XXXXXX)
export VOLT_ROOT=$W/root
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    podman --root "$W/podman" --runroot "$W/podrun" --storage-driver vfs rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

checks=0
fails=0
check() { # description command...
    local what=$1; shift
    checks=$((checks + 1))
    if "$@" >"$W/last.out" 2>&1; then
        echo "ok   $what"
    else
        fails=$((fails + 1))
        echo "FAIL $what"
        sed 's/^/     /' "$W/last.out" | tail -20
    fi
}
volt() { "$VOLT_BIN" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "nothing answers at $1" >&2
    return 1
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
tree_of() { volt -o json image inspect "$1" | json '["tree"]'; }

# A busybox root filesystem, imported as busybox:1.
mkdir -p "$W/rootfs/bin" "$W/rootfs/etc" "$W/rootfs/tmp"
cp "$(command -v busybox)" "$W/rootfs/bin/busybox"
for a in sh ls cat echo true; do ln -s busybox "$W/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$W/rootfs/etc/passwd"
volt -q image import "$W/rootfs" --name busybox:1 >/dev/null
TREE=$(tree_of busybox:1)
volt -q image export busybox:1 "$W/oci" >/dev/null

P=$(free_port)
"$VOLT_BIN" registry serve --port "$P" 2>"$W/serve.log" &
SERVE=$!
pids+=("$SERVE")
R=127.0.0.1:$P
wait_http "http://$R/v2/"
T=$(volt -q registry token create --repo '*' --actions pull,push,delete --ttl 1h)
PULL_ONLY=$(volt -q registry token create --repo busybox --actions pull --ttl 1h)
SK=(skopeo --override-os linux --override-arch amd64)

echo "--- skopeo"
check "skopeo push with a bearer token" "${SK[@]}" copy -q --dest-tls-verify=false --dest-registry-token "$T" oci:"$W/oci":1 "docker://$R/busybox:1"
check "skopeo push through the token endpoint (--dest-creds)" "${SK[@]}" copy -q --dest-tls-verify=false --dest-creds "anyone:$T" oci:"$W/oci":1 "docker://$R/team/busybox:1"
check "skopeo inspect" sh -c "\"\$@\" inspect --tls-verify=false docker://$R/busybox:1 | grep -q '\"Architecture\": \"amd64\"'" _ "${SK[@]}"
check "skopeo list-tags" sh -c "\"\$@\" list-tags --tls-verify=false docker://$R/busybox | grep -q '\"1\"'" _ "${SK[@]}"
check "skopeo pull" "${SK[@]}" copy -q --src-tls-verify=false "docker://$R/busybox:1" oci:"$W/pulled":1
check "what skopeo pulled is the same tree" sh -c "\"$VOLT_BIN\" -q image import '$W/pulled' --name skopeo-pulled:1 >/dev/null && [ \"\$(\"$VOLT_BIN\" -o json image inspect skopeo-pulled:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"tree\"])')\" = '$TREE' ]"
before=$(volt -o json cas status | json '["objects"]')
check "skopeo copy between repositories" "${SK[@]}" copy -q --src-tls-verify=false --dest-tls-verify=false --dest-registry-token "$T" "docker://$R/busybox:1" "docker://$R/copy/busybox:1"
after=$(volt -o json cas status | json '["objects"]')
check "the copy stored nothing new ($before objects before, $after after)" [ "$before" = "$after" ]
check "a pull-only token cannot push" sh -c "! \"\$@\" copy -q --dest-tls-verify=false --dest-registry-token '$PULL_ONLY' oci:'$W/oci':1 docker://$R/busybox:2" _ "${SK[@]}"
check "a forged token is refused" sh -c "! \"\$@\" copy -q --dest-tls-verify=false --dest-registry-token 'volt1.e30.AAAA' oci:'$W/oci':1 docker://$R/busybox:3" _ "${SK[@]}"
check "a repository name with .. is refused" sh -c "! \"\$@\" copy -q --dest-tls-verify=false --dest-registry-token '$T' oci:'$W/oci':1 'docker://$R/a/../b:1'" _ "${SK[@]}"
check "the registry keeps serving" sh -c "curl -sf -H 'Authorization: Bearer $T' http://$R/v2/ >/dev/null"

echo "--- volt image push / pull (round trip into a fresh root)"
check "volt image push" volt -q image push busybox:1 "$R/volt/busybox:1" --token "$T"
check "volt image pull into a fresh root" env VOLT_ROOT="$W/root2" "$VOLT_BIN" -q image pull "$R/volt/busybox:1" --name rt:1
check "round trip keeps the tree digest" sh -c "[ \"\$(VOLT_ROOT='$W/root2' \"$VOLT_BIN\" -o json image inspect rt:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"tree\"])')\" = '$TREE' ]"
check "a pushed image is usable locally without a download" sh -c "\"$VOLT_BIN\" -q image pull $R/volt/busybox:1 --name local-again:1 && \"$VOLT_BIN\" -o json image inspect local-again:1 | grep -q '$TREE'"

echo "--- podman"
PODMAN=(podman --root "$W/podman" --runroot "$W/podrun" --storage-driver vfs --cgroup-manager cgroupfs)
check "podman pull (anonymous)" "${PODMAN[@]}" pull -q --tls-verify=false "$R/busybox:1"
check "podman login with a token as the password" "${PODMAN[@]}" login --tls-verify=false -u any -p "$T" "$R"
check "podman push" "${PODMAN[@]}" push -q --tls-verify=false "$R/busybox:1" "$R/podman/busybox:1"
check "podman's push is listed" sh -c "curl -sf -H 'Authorization: Bearer $T' http://$R/v2/podman/busybox/tags/list | grep -q '\"1\"'"

echo "--- oras"
printf 'an artifact\n' >"$W/artifact.txt"
check "oras login, push and pull" "$ORAS_PY" - "$R" "$T" "$W" <<'EOF'
import os, sys
import oras.client
reg, token, work = sys.argv[1:4]
c = oras.client.OrasClient(hostname=reg, insecure=True)
c.login(username="any", password=token, hostname=reg)
os.chdir(work)
r = c.push(target=f"{reg}/artifacts/notes:v1", files=["artifact.txt"])
assert r.status_code == 201, r.status_code
os.makedirs("oras-out", exist_ok=True)
files = c.pull(target=f"{reg}/artifacts/notes:v1", outdir="oras-out")
assert open(files[0]).read() == "an artifact\n", files
EOF

echo "--- docker-registry (a second real registry) as a pull source"
Q=$(free_port)
cat >"$W/dr.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/dr}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$Q}
EOF
docker-registry serve "$W/dr.yml" >"$W/dr.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$Q/v2/"
check "skopeo fills docker-registry" "${SK[@]}" copy -q --dest-tls-verify=false oci:"$W/oci":1 "docker://127.0.0.1:$Q/library/busybox:1"
check "volt image pull from docker-registry" env VOLT_ROOT="$W/root3" "$VOLT_BIN" -q image pull "127.0.0.1:$Q/library/busybox:1" --name dr:1
check "same tree as the original" sh -c "[ \"\$(VOLT_ROOT='$W/root3' \"$VOLT_BIN\" -o json image inspect dr:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"tree\"])')\" = '$TREE' ]"
# Remove every blob from docker-registry (manifests are links there; blob data lives under
# blobs/): a re-pull can only succeed if it downloads no blob at all.
find "$W/dr/docker/registry/v2/blobs" -name data -size +2k -delete
check "re-pull with all layers present transfers no blob" env VOLT_ROOT="$W/root3" "$VOLT_BIN" -q image pull "127.0.0.1:$Q/library/busybox:1" --name dr:again
check "pull of a missing tag exits 3" sh -c "VOLT_ROOT='$W/root3' \"$VOLT_BIN\" image pull 127.0.0.1:$Q/library/busybox:nope; [ \$? -eq 3 ]"

echo "--- docker-registry with basic auth (htpasswd)"
B=$(free_port)
htpasswd -Bbn alice s3cret >"$W/htpasswd"
cat >"$W/dra.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/dra}}
http: {addr: 127.0.0.1:$B}
auth: {htpasswd: {realm: volt-test, path: $W/htpasswd}}
EOF
docker-registry serve "$W/dra.yml" >"$W/dra.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$B/v2/"
check "skopeo fills the basic-auth registry" "${SK[@]}" copy -q --dest-tls-verify=false --dest-creds alice:s3cret oci:"$W/oci":1 "docker://127.0.0.1:$B/busybox:1"
check "volt image pull with basic credentials" env VOLT_ROOT="$W/root4" "$VOLT_BIN" -q image pull "127.0.0.1:$B/busybox:1" --creds alice:s3cret
check "wrong password exits 5" sh -c "VOLT_ROOT='$W/root4' \"$VOLT_BIN\" image pull 127.0.0.1:$B/busybox:1 --creds alice:wrong --name x; [ \$? -eq 5 ]"
check "no credentials exits 5" sh -c "VOLT_ROOT='$W/root4' \"$VOLT_BIN\" image pull 127.0.0.1:$B/busybox:1 --name y; [ \$? -eq 5 ]"
check "volt image push with basic credentials" "$VOLT_BIN" -q image push busybox:1 "127.0.0.1:$B/pushed:1" --creds alice:s3cret

echo "--- shutdown"
kill -TERM "$SERVE"
serve_rc=0
wait "$SERVE" || serve_rc=$?
check "SIGTERM stops the registry cleanly (exit $serve_rc)" sh -c "[ $serve_rc -eq 0 ] || { cat '$W/serve.log'; exit 1; }"
check "the store verifies after all of it" volt -q cas verify

echo
echo "registry clients: $((checks - fails))/$checks checks passed"
[ "$fails" -eq 0 ]
