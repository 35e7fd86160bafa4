#!/usr/bin/env bash
# Volt's networking against podman's (netavark 1.4, aardvark-dns 1.4) on the same work, in one
# run (as root). Everything happens inside a network and mount namespace this script makes
# (`unshare --net --mount`): bridges, veths, nft/iptables tables, DNS servers and workload
# namespaces live only there, none has a route out, and all of it is removed at the end.
#   attach:  Volt's SDK `Networks::attach(net, w, netns, "eth0", true)` then `release(net, w)`
#            (timed separately) against `netavark setup NETNS` then `teardown` with the network
#            options podman sends, for one endpoint on a bridge network that already exists
#            (a keeper endpoint stays attached on each side so neither creates or deletes its
#            bridge, firewall chains or DNS server inside the timing). Both sides do: veth pair,
#            workload end into the namespace as eth0, address, lo and eth0 up, default route,
#            DNS name served (Volt: the lease it records, read by its running DNS server;
#            netavark: a line in aardvark's config and SIGHUP to the running aardvark-dns),
#            firewall (Volt: no rule per endpoint, its table matches bridges and subnets, and
#            is re-applied only when forwards or allowances naming the workload change or a
#            bridge had to be re-made; netavark: its iptables-nft chains, checked with one
#            iptables process per rule).
#            Address management: Volt's attach reserves the address
#            in its persistent lease file (flock, fsync); netavark is handed a static address,
#            as podman's own IPAM (not timed here) would. Volt is timed three ways: the SDK call
#            in a process that stays (as `volt container start` makes it), one process per call
#            (volt-netbench attach-one: process start + Volt::open + attach, like netavark's
#            process per call), and step by step (where the time goes); then a probe of the
#            kernel's cost of the two ways to put a veth end into a namespace (moved after
#            creation, or created there, as volt-net and netavark both do).
#   dns:     queries/s and latency for NAMES workload names: Volt's DNS server (volt-supervisor
#            dns, started by `volt network create`, names from the lease file) against
#            aardvark-dns (started by netavark, names in its config file), each asked from a
#            workload namespace on its own bridge, by volt-netbench dns-load (one client
#            thread, C sockets with one query in flight each, random names, every answer
#            checked), once with C=1 (unloaded latency) and once with C=DNS_C.
#   tcp:     iperf3 throughput (one stream) between two workloads on a Volt bridge (both
#            attached by the SDK) against two namespaces joined by a bare veth pair (the limit),
#            with the namespace's bridge-nf-call-iptables as it comes (1 where br_netfilter is
#            loaded, as on most container hosts) and only Volt's nft table in the namespace;
#            for where the difference goes, the same bridge with Volt's table removed and, if
#            the sysctl was 1, with it at 0.
# The sides alternate within each round; medians are reported with the ratios the targets are
# stated in (attach: netavark / Volt >= 2; TCP: bridge within 5% of bare veth).
#
# Usage: sudo benches/compare/network.sh
# Environment: ROUNDS (attach rounds, default 30), WARMUP (3), NAMES (DNS names, 100),
#              DNS_C (concurrent DNS clients, 32), DNS_SECONDS (5), DNS_ROUNDS (5),
#              TCP_SECONDS (5), TCP_ROUNDS (5), PHASES ("attach dns tcp"),
#              VOLT, NETBENCH (binaries; default: built from this tree).
# Needs: netavark and aardvark-dns in /usr/lib/podman (Debian's podman), iptables, nft, ip,
#        nsenter/unshare (util-linux), jq, iperf3.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (namespaces, bridges, firewall)" >&2; exit 10; }
NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
AARDVARK=${AARDVARK:-/usr/lib/podman/aardvark-dns}
for tool in "$NETAVARK" "$AARDVARK"; do
    [ -x "$tool" ] || { echo "missing $tool (apt-get install podman)" >&2; exit 10; }
done
for tool in iptables nft ip nsenter unshare jq iperf3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (bash scripts/setup.sh bench)" >&2; exit 10; }
done

if [ -z "${VOLT_NETBENCH_INSIDE:-}" ]; then
    if [ -z "${VOLT:-}" ]; then
        cargo build --release -q -p volt-cli
        VOLT=$PWD/target/release/volt
    fi
    if [ -z "${NETBENCH:-}" ]; then
        cargo build --release -q -p volt-benches --bin volt-netbench
        NETBENCH=$PWD/target/release/volt-netbench
    fi
    export VOLT NETBENCH VOLT_NETBENCH_INSIDE=1
    # A network namespace of our own (no interface but lo, no route out) and a private mount
    # namespace (namespace files and the tmpfs stay here).
    exec unshare --net --mount --propagation private "$0" "$@"
fi

ROUNDS=${ROUNDS:-30}
WARMUP=${WARMUP:-3}
NAMES=${NAMES:-100}
DNS_C=${DNS_C:-32}
DNS_SECONDS=${DNS_SECONDS:-5}
DNS_ROUNDS=${DNS_ROUNDS:-5}
TCP_SECONDS=${TCP_SECONDS:-5}
TCP_ROUNDS=${TCP_ROUNDS:-5}
PHASES=${PHASES:-attach dns tcp}
ip link set lo up
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /var/tmp/volt-netbench.XXXXXX)
# Private copies of the binaries (a rebuild elsewhere must not swap them mid-run); the SDK finds
# volt-supervisor (the DNS server) beside the running binary.
mkdir -p "$work/bin" "$work/ns" "$work/nv"
cp "$VOLT" "$work/bin/volt"
cp "${VOLT_SUPERVISOR:-$(dirname "$VOLT")/volt-supervisor}" "$work/bin/volt-supervisor"
cp "$NETBENCH" "$work/bin/volt-netbench"
unset VOLT_SUPERVISOR VOLT_CONFIG
export RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0
V=$work/bin/volt
NB=$work/bin/volt-netbench
# netavark's --config is a tmpfs, as podman's /run/containers/networks is.
mount -t tmpfs -o size=16m volt-netbench "$work/nv"
NVC=$work/nv
export VOLT_ROOT=$work/volt
pids=()

cleanup() {
    set +e
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    # aardvark-dns and Volt's DNS servers are daemons: end them by their pid files.
    for f in "$NVC/aardvark-dns/aardvark.pid" "$VOLT_ROOT"/var/lib/volt/networks/*/dns.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 0.2
    # Namespace files, then every link and table: all of them live in this script's namespace.
    findmnt -rn -o TARGET | grep "^$work/ns/" | while read -r m; do umount -l "$m"; done
    for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$'); do
        ip link del "$l" 2>/dev/null
    done
    nft flush ruleset 2>/dev/null
    umount -l "$NVC" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

NVARGS=(--netavark "$NETAVARK" --aardvark "$AARDVARK" --nv-config "$NVC")
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
verdict() { if awk "BEGIN{exit !($1 $2 $3)}"; then echo "met"; else echo "MISSED"; fi; }
summary=()

# ---- attach ----------------------------------------------------------------------------------
if [[ " $PHASES " == *" attach "* ]]; then
    echo "attach: setting up (Volt network vnbench 10.89.10.0/24, netavark network nvbench 10.89.20.0/24, DNS on both)"
    "$V" -q network create vnbench --subnet 10.89.10.0/24 >/dev/null
    "$NB" attach-one --network vnbench --workload keeper --netns "$work/ns/vkeeper" >/dev/null
    "$NB" netavark "${NVARGS[@]}" --nv-network nvbench --nv-subnet 10.89.20.0/24 --nv-dns \
        --ip 10.89.20.2 --name keeper --netns "$work/ns/nkeeper"
    # Both sides' DNS answers the name of an endpoint attached a moment ago (checked, not timed).
    "$NB" attach-one --network vnbench --workload check0 --netns "$work/ns/vcheck" >/dev/null
    nsenter --net="$work/ns/vkeeper" "$NB" dns-load --server 10.89.10.1:53 --prefix check --count 1 \
        --concurrency 1 --seconds 0.1 --warmup-seconds 0 >/dev/null
    "$NB" release-one --network vnbench --workload check0
    "$NB" netavark "${NVARGS[@]}" --nv-network nvbench --nv-subnet 10.89.20.0/24 --nv-dns \
        --ip 10.89.20.3 --name check0 --netns "$work/ns/ncheck"
    nsenter --net="$work/ns/nkeeper" "$NB" dns-load --server 10.89.20.1:53 --prefix check --count 1 \
        --concurrency 1 --seconds 0.1 --warmup-seconds 0 >/dev/null
    "$NB" netavark "${NVARGS[@]}" --nv-network nvbench --nv-subnet 10.89.20.0/24 --nv-dns \
        --ip 10.89.20.3 --name check0 --netns "$work/ns/ncheck" --teardown
    echo "attach: both sides' DNS answered a just-attached endpoint's name; $WARMUP warm-ups and $ROUNDS rounds"
    "$NB" attach --network vnbench --ns-dir "$work/ns" --rounds "$ROUNDS" --warmup "$WARMUP" "${NVARGS[@]}" \
        --nv-network nvbench --nv-subnet 10.89.20.0/24 --nv-dns --nv-ip 10.89.20.3 | tee "$work/attach.out" | grep -v '^RESULT'
    # Where the veth step's time goes: the kernel's cost of moving a device between namespaces.
    "$NB" veth-probe --ns-dir "$work/ns" --rounds "$ROUNDS"
    # netavark's keeper goes (its bridge, iptables chains and aardvark with it), so that later
    # phases see only their own rules.
    "$NB" netavark "${NVARGS[@]}" --nv-network nvbench --nv-subnet 10.89.20.0/24 --nv-dns \
        --ip 10.89.20.2 --name keeper --netns "$work/ns/nkeeper" --teardown
    res=$(grep '^RESULT' "$work/attach.out")
    get() { tr ' ' '\n' <<<"$res" | awk -F= -v k="$1" '$1==k {print $2}'; }
    r=$(get ratio_inproc)
    summary+=("$(printf 'attach  volt %s ms (a process per call: %s ms)   netavark setup %s ms   netavark / volt %sx (process per call: %sx)   target >= 2: %s' \
        "$(get attach_volt_ms)" "$(get attach_volt_process_ms)" "$(get setup_netavark_ms)" "$r" "$(get ratio_process)" "$(verdict "$r" '>=' 2)")")
    summary+=("$(printf 'detach  volt release %s ms (process per call: %s ms)   netavark teardown %s ms   netavark / volt %sx (%sx)' \
        "$(get release_volt_ms)" "$(get release_volt_process_ms)" "$(get teardown_netavark_ms)" "$(get ratio_teardown)" "$(get ratio_teardown_process)")")
fi

# ---- dns -------------------------------------------------------------------------------------
if [[ " $PHASES " == *" dns "* ]]; then
    echo "dns: $NAMES names on each side (Volt network vdns 10.91.0.0/16, aardvark network nvdns 10.92.0.0/16)"
    "$V" -q network create vdns --subnet 10.91.0.0/16 >/dev/null
    "$NB" leases --network vdns --count "$NAMES" --prefix n
    "$NB" attach-one --network vdns --workload dnsclient --netns "$work/ns/vdclient" >/dev/null
    "$NB" netavark "${NVARGS[@]}" --nv-network nvdns --nv-subnet 10.92.0.0/16 --nv-dns \
        --ip 10.92.0.2 --name dnsclient --netns "$work/ns/ndclient"
    # The same names in aardvark's file, in the format netavark writes (id, IPv4, IPv6, names),
    # then SIGHUP as netavark sends after each change.
    awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++)
        printf "%064x 10.92.%d.%d  n%d\n", i + 1, int(i / 250) + 1, i % 250 + 2, i }' >>"$NVC/aardvark-dns/nvdns"
    kill -HUP "$(cat "$NVC/aardvark-dns/aardvark.pid")"
    sleep 0.5
    vpid=$(cat "$VOLT_ROOT/var/lib/volt/networks/vdns/dns.pid")
    apid=$(cat "$NVC/aardvark-dns/aardvark.pid")
    echo "dns: volt-supervisor dns pid $vpid ($(ls /proc/"$vpid"/task | wc -l) threads), aardvark-dns pid $apid ($(ls /proc/"$apid"/task | wc -l) threads)"
    : >"$work/dns.jsonl"
    load() { # side concurrency
        local ns server
        if [ "$1" = volt ]; then ns=$work/ns/vdclient; server=10.91.0.1:53; else ns=$work/ns/ndclient; server=10.92.0.1:53; fi
        nsenter --net="$ns" "$NB" dns-load --server "$server" --prefix n --count "$NAMES" --concurrency "$2" \
            --seconds "$DNS_SECONDS" | jq -c --arg side "$1" '. + {side: $side}' >>"$work/dns.jsonl"
    }
    for r in $(seq "$DNS_ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="volt aardvark"; else order="aardvark volt"; fi
        for c in 1 "$DNS_C"; do
            for s in $order; do load "$s" "$c"; done
        done
    done
    dmed() { jq -r --arg s "$1" --argjson c "$2" "select(.side == \$s and .concurrency == \$c) | .$3" "$work/dns.jsonl" | median; }
    echo "dns: medians of $DNS_ROUNDS rounds of ${DNS_SECONDS}s per side and concurrency"
    for c in 1 "$DNS_C"; do
        for s in volt aardvark; do
            printf '  %-9s C=%-3s %9.0f q/s   p50 %.3f ms   p99 %.3f ms   p99.9 %.3f ms   (failed answers %s, timeouts %s)\n' \
                "$s" "$c" "$(dmed "$s" "$c" qps)" "$(dmed "$s" "$c" p50_ms)" "$(dmed "$s" "$c" p99_ms)" "$(dmed "$s" "$c" p999_ms)" \
                "$(jq -s --arg s "$s" --argjson c "$c" 'map(select(.side == $s and .concurrency == $c) | .bad) | add' "$work/dns.jsonl")" \
                "$(jq -s --arg s "$s" --argjson c "$c" 'map(select(.side == $s and .concurrency == $c) | .timeouts) | add' "$work/dns.jsonl")"
        done
    done
    # Diagnostic: the same server code with 2 runtime threads instead of volt-supervisor's 1
    # (volt-netbench dns-serve on port 5353 of the same gateway, same lease files).
    ( "$NB" dns-serve --network vdns --listen 10.91.0.1:5353 --workers 2 --seconds $((DNS_SECONDS * DNS_ROUNDS + 30)) >/dev/null ) &
    pids+=($!)
    for _ in $(seq 100); do ss -lun | grep -q '10.91.0.1:5353' && break; sleep 0.05; done
    : >"$work/dns2.jsonl"
    for r in $(seq "$DNS_ROUNDS"); do
        nsenter --net="$work/ns/vdclient" "$NB" dns-load --server 10.91.0.1:5353 --prefix n --count "$NAMES" \
            --concurrency "$DNS_C" --seconds "$DNS_SECONDS" >>"$work/dns2.jsonl"
    done
    kill "${pids[-1]}" 2>/dev/null || true
    printf '  (volt, 2 threads, C=%s %9.0f q/s   p50 %.3f ms   p99 %.3f ms: the same server with 2 runtime threads, volt-netbench dns-serve)\n' \
        "$DNS_C" "$(jq -r .qps "$work/dns2.jsonl" | median)" "$(jq -r .p50_ms "$work/dns2.jsonl" | median)" "$(jq -r .p99_ms "$work/dns2.jsonl" | median)"
    "$NB" netavark "${NVARGS[@]}" --nv-network nvdns --nv-subnet 10.92.0.0/16 --nv-dns \
        --ip 10.92.0.2 --name dnsclient --netns "$work/ns/ndclient" --teardown
    vq=$(dmed volt "$DNS_C" qps); aq=$(dmed aardvark "$DNS_C" qps)
    summary+=("$(printf 'dns     C=%s: volt %.0f q/s p99 %.3f ms   aardvark-dns %.0f q/s p99 %.3f ms   volt / aardvark %.2fx q/s; C=1 p99 volt %.3f ms aardvark %.3f ms' \
        "$DNS_C" "$vq" "$(dmed volt "$DNS_C" p99_ms)" "$aq" "$(dmed aardvark "$DNS_C" p99_ms)" "$(awk "BEGIN{print $vq/$aq}")" \
        "$(dmed volt 1 p99_ms)" "$(dmed aardvark 1 p99_ms)")")
fi

# ---- tcp -------------------------------------------------------------------------------------
if [[ " $PHASES " == *" tcp "* ]]; then
    echo "tcp: two workloads on a Volt bridge (SDK attach) vs two namespaces on a bare veth pair"
    [ -f "$VOLT_ROOT/var/lib/volt/networks/vnbench/network.json" ] || "$V" -q network create vnbench --subnet 10.89.10.0/24 >/dev/null
    ta=$("$NB" attach-one --network vnbench --workload tcpa --netns "$work/ns/tcpa")
    tb=$("$NB" attach-one --network vnbench --workload tcpb --netns "$work/ns/tcpb")
    for n in rawa rawb; do touch "$work/ns/$n"; unshare --net="$work/ns/$n" true; done
    ip link add vnbraw0 type veth peer name vnbraw1
    ip link set vnbraw0 netns "$work/ns/rawa"
    ip link set vnbraw1 netns "$work/ns/rawb"
    nsenter --net="$work/ns/rawa" sh -c 'ip link set lo up && ip link set vnbraw0 name eth0 && ip addr add 10.99.0.1/24 dev eth0 && ip link set eth0 up'
    nsenter --net="$work/ns/rawb" sh -c 'ip link set lo up && ip link set vnbraw1 name eth0 && ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up'
    echo "tcp: bridge $ta -> $tb, veth 10.99.0.1 -> 10.99.0.2; $TCP_ROUNDS rounds of ${TCP_SECONDS}s (first second omitted)"
    iperf() { # client-ns server-ns server-addr -> Gbit/s received
        nsenter --net="$2" iperf3 -s -1 -B "$3" >/dev/null 2>&1 &
        local sp=$!
        pids+=("$sp")
        for _ in $(seq 100); do nsenter --net="$2" ss -ltn | grep -q "$3:5201" && break; sleep 0.02; done
        nsenter --net="$1" iperf3 -c "$3" -t "$TCP_SECONDS" -O 1 -J >"$work/iperf.json"
        wait "$sp" || true
        jq '.end.sum_received.bits_per_second / 1e9' "$work/iperf.json"
    }
    : >"$work/tcp.txt"
    # Variants, all in every round (order rotated): the bare veth, the Volt bridge as it is, the
    # bridge with Volt's nft table taken away for the run (its share), and, where br_netfilter
    # is loaded (most container hosts; its sysctls are per namespace), the bridge with this
    # namespace's bridge-nf-call-iptables at 0 (bridged IPv4 then skips the ip hooks).
    brnf=/proc/sys/net/bridge/bridge-nf-call-iptables
    brnf_default=$(cat "$brnf" 2>/dev/null || echo absent)
    # netavark's endpoints are gone, but iptables-nft leaves its tables (nat, filter) with their
    # base chains hooked; they go, so that only Volt's table is in the way.
    nft list tables | awk '$3 !~ /^volt/ {print $2, $3}' | while read -r fam t; do nft delete table "$fam" "$t"; done
    echo "tcp: nft tables in the namespace: $(nft list tables | awk '{print $2 "/" $3}' | tr "\n" " ")"
    vtable=$(nft list tables | awk '$2 == "ip" && $3 ~ /^volt/ {print $3}' | head -1)
    nft list table ip "$vtable" >"$work/volt.nft"
    variants=(veth bridge bridge-no-table)
    [ "$brnf_default" = 1 ] && variants+=(bridge-brnf0)
    for r in $(seq "$TCP_ROUNDS"); do
        for k in $(seq 0 $((${#variants[@]} - 1))); do
            v=${variants[$(( (r + k) % ${#variants[@]} ))]}
            case $v in
                veth) g=$(iperf "$work/ns/rawa" "$work/ns/rawb" 10.99.0.2) ;;
                bridge) g=$(iperf "$work/ns/tcpa" "$work/ns/tcpb" "$tb") ;;
                bridge-no-table)
                    nft delete table ip "$vtable"
                    g=$(iperf "$work/ns/tcpa" "$work/ns/tcpb" "$tb")
                    nft -f "$work/volt.nft" ;;
                bridge-brnf0)
                    echo 0 >"$brnf"
                    g=$(iperf "$work/ns/tcpa" "$work/ns/tcpb" "$tb")
                    echo 1 >"$brnf" ;;
            esac
            echo "$v $g" >>"$work/tcp.txt"
            printf '  round %s %-16s %6.2f Gbit/s\n' "$r" "$v" "$g"
        done
    done
    tmed() { awk -v v="$1" '$1==v {print $2}' "$work/tcp.txt" | median; }
    gv=$(tmed veth)
    below() { awk "BEGIN{printf \"%.1f\", (1 - $1 / $gv) * 100}"; }
    gb=$(tmed bridge)
    pct=$(below "$gb")
    summary+=("$(printf 'tcp     volt bridge %.2f Gbit/s   bare veth %.2f Gbit/s   bridge below veth by %s%%   target <= 5%%: %s   (bridge-nf-call-iptables=%s)' \
        "$gb" "$gv" "$pct" "$(verdict "$pct" '<=' 5)" "$brnf_default")")
    line=$(printf '        bridge without Volt'"'"'s nft table %.2f Gbit/s (%s%% below veth)' "$(tmed bridge-no-table)" "$(below "$(tmed bridge-no-table)")")
    if [ "$brnf_default" = 1 ]; then
        line+=$(printf ';  bridge with bridge-nf-call-iptables=0 %.2f Gbit/s (%s%% below)' "$(tmed bridge-brnf0)" "$(below "$(tmed bridge-brnf0)")")
    fi
    summary+=("$line")
fi

echo
echo "network benchmark, $(nproc) cores, $(uname -r), netavark $("$NETAVARK" --version 2>/dev/null | awk '{print $2}'), aardvark-dns $("$AARDVARK" --version 2>/dev/null | awk '{print $2}'), $(iperf3 --version | head -1 | awk '{print $1, $2}')"
for l in "${summary[@]}"; do echo "  $l"; done
echo "  load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
