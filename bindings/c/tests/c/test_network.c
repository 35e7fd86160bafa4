/*
 * C-side tests of libvolt's networks: volt_network_* and volt_container_connect/disconnect.
 *
 * Argument errors are checked first, in the calling process (they touch no kernel object).
 * Everything that makes networks runs in a network namespace of its own: the program runs
 * itself again under `unshare --net --` (VOLT_NETNS_CHILD=1 marks that child), so the host's
 * links, nftables ruleset and sysctls are never touched. There, networks are created, listed,
 * inspected, given firewall allowances and deleted; a container is created on a network with a
 * port forward (its record shows the address), started (the address is on its eth0, the
 * forward in nftables, the gateway answers), connected to a second, internal network while it
 * runs (eth1 gets the address in the record; that gateway only serves DNS) and disconnected.
 * Each network's DNS server (a `volt-supervisor dns` process) must be gone once the network is
 * deleted, and at the end the namespace has no link but lo and no nft table `volt`. The calling
 * process then checks that the host's links are what they were.
 *
 * Networks need root, `unshare`, `nft` and VOLT_SUPERVISOR (the DNS server); the container
 * part also /bin/busybox and systemd-nspawn. Without them those parts are skipped, saying why;
 * with CI=true a skip is a failure.
 *
 * Usage: test_network SCRATCH_DIR   (an empty, writable directory)
 * Prints "ok N - ..." / "not ok N - ..." lines and a final "C network: N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "volt.h"

static int passed, failed;

static void check(int cond, const char *desc) {
    int n = passed + failed + 1;
    if (cond) {
        passed++;
        printf("ok %d - %s\n", n, desc);
    } else {
        failed++;
        printf("not ok %d - %s\n", n, desc);
    }
    fflush(stdout);
}

/* Consume an error and return its kind (VOLT_OK for NULL), showing unexpected details. */
static int kind_of(volt_error_t *err) {
    int kind = volt_error_kind(err);
    if (err != NULL) {
        printf("# %s (%d): %s\n", volt_error_kind_name(err), kind, volt_error_message(err));
    }
    volt_error_free(err);
    return kind;
}

static int contains(const char *s, const char *needle) {
    return s != NULL && strstr(s, needle) != NULL;
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

/* Copy the string value of the first "key":"..." at or after `from` in a JSON text ("" if
 * absent). */
static void json_string(const char *from, const char *key, char *out, size_t cap) {
    char pattern[64];
    out[0] = '\0';
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = from != NULL ? strstr(from, pattern) : NULL;
    if (start == NULL) {
        return;
    }
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    size_t n = end != NULL ? (size_t)(end - start) : 0;
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, start, n);
    out[n] = '\0';
}

/* The number after "dns_pid": in a network record, or 0 (null or absent). */
static long dns_pid_of(const char *json) {
    const char *p = json != NULL ? strstr(json, "\"dns_pid\":") : NULL;
    return p != NULL ? strtol(p + strlen("\"dns_pid\":"), NULL, 10) : 0;
}

/* Is process `pid` alive? A zombie (ended, not reaped yet by whoever adopted it) is not. */
static int process_alive(long pid) {
    char path[64], buf[512];
    if (pid <= 0) {
        return 0;
    }
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    return close_paren != NULL && close_paren[1] == ' ' && close_paren[2] != 'Z' && close_paren[2] != 'X';
}

/* Processes in this network namespace other than this one (their pids, space-separated, in
 * out; the count returned). A zombie has no namespaces any more and is not counted. */
static int processes_here(char *out, size_t cap) {
    char mine[128] = {0}, theirs[128], path[300];
    int n = 0;
    out[0] = '\0';
    if (readlink("/proc/self/ns/net", mine, sizeof mine - 1) <= 0) {
        return -1;
    }
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long pid = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || pid == (long)getpid()) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
        memset(theirs, 0, sizeof theirs);
        if (readlink(path, theirs, sizeof theirs - 1) > 0 && strcmp(mine, theirs) == 0) {
            size_t used = strlen(out);
            snprintf(out + used, cap - used, "%ld ", pid);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Wait up to 3 s until neither DNS server runs and no other process is in this namespace (a
 * server that released its lock may still be exiting). */
static int nothing_running(long dns1, long dns2, char *left, size_t cap) {
    for (int i = 0; i < 150; i++) {
        if (!process_alive(dns1) && !process_alive(dns2) && processes_here(left, cap) == 0) {
            return 1;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* The names of this network namespace's links, space-separated ("lo " in a fresh one).
 * /proc/net/dev belongs to the reader's namespace (/sys/class/net would show the mounter's). */
static void links(char *out, size_t cap) {
    char line[512];
    out[0] = '\0';
    FILE *f = fopen("/proc/net/dev", "r");
    if (f == NULL) {
        snprintf(out, cap, "?");
        return;
    }
    for (int i = 0; fgets(line, sizeof line, f) != NULL; i++) {
        char *colon = strchr(line, ':');
        if (i < 2 || colon == NULL) {
            continue;
        }
        *colon = '\0';
        char *name = line;
        while (*name == ' ') {
            name++;
        }
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s ", name);
    }
    fclose(f);
}

/* Is `name` an executable file in one of the PATH directories? */
static int on_path(const char *name) {
    const char *path = getenv("PATH");
    char dir[4096], full[4200];
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
            snprintf(full, sizeof full, "%s/%s", dir, name);
            if (access(full, X_OK) == 0) {
                return 1;
            }
        }
        path = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* The namespace's whole ruleset (`nft list ruleset`; only Volt's table lives in the test's
 * private namespace, named volt_<hash> for a relocated root): 1 if there is any, its text (up
 * to cap) in out. */
static int nft_table(char *out, size_t cap) {
    out[0] = '\0';
    FILE *p = popen("nft list ruleset 2>/dev/null", "r");
    if (p == NULL) {
        return 0;
    }
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "table ip volt") != NULL;
}

/* Why a part of the tests cannot run here (NULL: it can). With CI=true a skip is a failure. */
static int can_run(const char *what, const char *why) {
    if (why == NULL) {
        return 1;
    }
    const char *ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0) {
        char desc[256];
        snprintf(desc, sizeof desc, "%s can run (CI=true): %s", what, why);
        check(0, desc);
    }
    printf("# skip %s: %s\n", what, why);
    return 0;
}

/* ---- argument errors (no network is made) ---- */

static void test_arguments(volt_store_t *store) {
    char *json = (char *)"untouched";
    check(kind_of(volt_network_create(store, "Bad Net", NULL, &json)) == VOLT_ERR_USAGE &&
              strcmp(json, "untouched") == 0,
          "network create with a bad name is ERR_USAGE, out untouched");
    check(kind_of(volt_network_create(store, "abcdefghijklmnop", NULL, &json)) == VOLT_ERR_USAGE,
          "network create with a 16-character name is ERR_USAGE");
    check(kind_of(volt_network_create(store, "cn", "{\"subnets\":\"10.0.0.0/24\"}", &json)) == VOLT_ERR_USAGE,
          "network create with an unknown option key is ERR_USAGE");
    check(kind_of(volt_network_create(store, "cn", "{\"internal\":", &json)) == VOLT_ERR_USAGE,
          "network create with malformed options JSON is ERR_USAGE");
    check(kind_of(volt_network_create(store, "cn", "{\"subnet\":\"10.91.0.1/24\"}", &json)) == VOLT_ERR_USAGE,
          "network create with host bits in the subnet is ERR_USAGE");
    check(kind_of(volt_network_create(store, "cn", "{\"gateway\":\"10.91.0.1\"}", &json)) == VOLT_ERR_USAGE,
          "network create with a gateway but no subnet is ERR_USAGE");
    check(kind_of(volt_network_create(store, "cn", "{\"dns_upstreams\":[\"dns.example\"]}", &json)) ==
              VOLT_ERR_USAGE,
          "network create with a bad DNS upstream is ERR_USAGE");
    check(kind_of(volt_network_create(NULL, "cn", NULL, &json)) == VOLT_ERR_USAGE &&
              kind_of(volt_network_create(store, NULL, NULL, &json)) == VOLT_ERR_USAGE &&
              kind_of(volt_network_create(store, "cn", NULL, NULL)) == VOLT_ERR_USAGE,
          "network create with a NULL store, name or json_out is ERR_USAGE");
    check(kind_of(volt_network_inspect(store, "cn-none", &json)) == VOLT_ERR_NOT_FOUND &&
              strcmp(json, "untouched") == 0,
          "network inspect of an unknown network is ERR_NOT_FOUND (3)");
    check(kind_of(volt_network_inspect(store, "a/b", &json)) == VOLT_ERR_USAGE,
          "network inspect of a malformed name is ERR_USAGE");
    check(kind_of(volt_network_delete(store, "cn-none")) == VOLT_ERR_NOT_FOUND,
          "network delete of an unknown network is ERR_NOT_FOUND");
    check(kind_of(volt_network_firewall_allow(store, "cn-a", "cn-b", NULL, NULL)) == VOLT_ERR_NOT_FOUND,
          "firewall allow between unknown networks is ERR_NOT_FOUND");
    check(kind_of(volt_network_firewall_deny(store, "cn-a", "cn-b", NULL)) == VOLT_ERR_NOT_FOUND,
          "firewall deny of a rule that does not exist is ERR_NOT_FOUND");
    check(kind_of(volt_network_firewall_allow(store, NULL, "cn-b", NULL, NULL)) == VOLT_ERR_USAGE &&
              kind_of(volt_network_firewall_list(store, NULL)) == VOLT_ERR_USAGE,
          "firewall with a NULL from or json_out is ERR_USAGE");
    check(kind_of(volt_container_connect(store, "c-none", "cn-a", NULL)) == VOLT_ERR_NOT_FOUND &&
              kind_of(volt_container_disconnect(store, "c-none", "cn-a", NULL)) == VOLT_ERR_NOT_FOUND,
          "connect and disconnect of an unknown container are ERR_NOT_FOUND");
    check(kind_of(volt_container_connect(store, "c-none", NULL, NULL)) == VOLT_ERR_USAGE,
          "connect with a NULL network is ERR_USAGE");
    check(kind_of(volt_container_create(store, "c-net", "c/none:1", "{\"ports\":[\"80:99999\"]}", &json)) ==
              VOLT_ERR_USAGE,
          "container create with a bad port is ERR_USAGE");
    check(kind_of(volt_container_create(store, "c-net", "c/none:1", "{\"networks\":[\"Bad Net\"]}", &json)) ==
              VOLT_ERR_USAGE,
          "container create with a bad network name is ERR_USAGE");
    json = NULL;
    check(kind_of(volt_network_list(store, &json)) == VOLT_OK && strcmp(json, "[]") == 0, "no network: list is []");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_network_firewall_list(store, &json)) == VOLT_OK && strcmp(json, "[]") == 0,
          "no allowance: firewall list is []");
    volt_string_free(json);
}

/* ---- in the private network namespace ---- */

/* Copy a file (the busybox binary into the test root filesystem). */
static int copy_file(const char *from, const char *to, mode_t mode) {
    char buf[65536];
    FILE *in = fopen(from, "rb");
    if (in == NULL) {
        return -1;
    }
    FILE *out = fopen(to, "wb");
    if (out == NULL) {
        fclose(in);
        return -1;
    }
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            rc = -1;
            break;
        }
    }
    fclose(in);
    if (fclose(out) != 0) {
        rc = -1;
    }
    return rc == 0 ? chmod(to, mode) : rc;
}

/* Run a command in a running container: its exit status (-1 for an error), stdout in out. */
static int exec_in(volt_store_t *store, const char *name, const char *const *argv, size_t argc, char *out,
                   size_t cap) {
    int status = -1;
    uint8_t *o = NULL, *e = NULL;
    size_t olen = 0, elen = 0;
    volt_error_t *err = volt_container_exec_output(store, name, argv, argc, &status, &o, &olen, &e, &elen);
    int ok = kind_of(err) == VOLT_OK;
    if (out != NULL) {
        size_t n = ok && olen < cap ? olen : 0;
        memcpy(out, o != NULL ? (const char *)o : "", n);
        out[n] = '\0';
    }
    volt_bytes_free(o, olen);
    volt_bytes_free(e, elen);
    return ok ? status : -1;
}

/* A started container's init may not exist yet when start returns: wait up to 10 s. */
static int exec_ready(volt_store_t *store, const char *name) {
    const char *argv[] = {"sh", "-c", "true"};
    for (int i = 0; i < 200; i++) {
        int status = -1;
        uint8_t *out = NULL, *err_buf = NULL;
        size_t out_len = 0, err_len = 0;
        volt_error_t *err =
            volt_container_exec_output(store, name, argv, 3, &status, &out, &out_len, &err_buf, &err_len);
        int kind = volt_error_kind(err);
        volt_error_free(err);
        volt_bytes_free(out, out_len);
        volt_bytes_free(err_buf, err_len);
        if (kind == VOLT_OK) {
            return status == 0;
        }
        if (kind != VOLT_ERR_GENERAL) {
            return 0;
        }
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* A container on two networks: created on the first (10.91.0.0/24) with a forward, connected to
 * the second (internal, its gateway `gateway2`) while it runs, disconnected. */
static void test_container(volt_store_t *store, const char *scratch, const char *net1, const char *net2,
                           const char *gateway2) {
    const char *why = NULL;
    if (access("/bin/busybox", X_OK) != 0) {
        why = "no /bin/busybox";
    } else if (!on_path("systemd-nspawn")) {
        why = "no systemd-nspawn on PATH";
    }
    if (!can_run("container network tests", why)) {
        return;
    }
    char path[4096], name[64], other[64], addr[64], addr2[64], options[256], text[8192];
    char *json = NULL;
    snprintf(name, sizeof name, "c-net-%d", (int)getpid());
    snprintf(other, sizeof other, "c-net-other-%d", (int)getpid());

    /* busybox with sh, sleep, ip and ping. */
    const char *dirs[] = {"bb", "bb/bin", "bb/usr"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch, dirs[i]);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof path, "%s/bb/bin/busybox", scratch);
    int copied = copy_file("/bin/busybox", path, 0755) == 0;
    const char *applets[] = {"sh", "sleep", "ip", "ping"};
    for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++) {
        snprintf(path, sizeof path, "%s/bb/bin/%s", scratch, applets[i]);
        copied = copied && symlink("busybox", path) == 0;
    }
    snprintf(path, sizeof path, "%s/bb", scratch);
    check(copied && kind_of(volt_image_import(store, path, "c/busybox:1", NULL, NULL, &json)) == VOLT_OK,
          "busybox root filesystem imported as c/busybox:1");
    volt_string_free(json);
    json = NULL;

    /* Created on net1 with a port forward: the record has its address there. */
    snprintf(options, sizeof options,
             "{\"command\":[\"sleep\",\"1000\"],\"networks\":[\"%s\"],\"ports\":[\"8080:80\"]}", net1);
    check(kind_of(volt_container_create(store, name, "c/busybox:1", options, &json)) == VOLT_OK &&
              contains(json, "\"endpoints\":[{\"network\":\"") && contains(json, "\"address\":\"10.91.0.") &&
              contains(json, "\"interface\":\"eth0\"") &&
              contains(json, "\"ports\":[{\"host_port\":8080,\"port\":80,\"proto\":\"tcp\"}]"),
          "container created on a network: its record shows an address there and the port forward");
    json_string(json != NULL ? strstr(json, "\"endpoints\"") : NULL, "address", addr, sizeof addr);
    volt_string_free(json);
    json = NULL;
    printf("# %s has %s on %s\n", name, addr, net1);

    check(kind_of(volt_network_inspect(store, net1, &json)) == VOLT_OK && contains(json, name) &&
              addr[0] != '\0' && contains(json, addr),
          "network inspect lists the container with its address");
    volt_string_free(json);
    json = NULL;
    check(nft_table(text, sizeof text) && addr[0] != '\0' && contains(text, "dport 8080 dnat to") &&
              contains(text, addr),
          "the port forward is in nft table volt");

    /* Refused creates leave nothing. */
    snprintf(options, sizeof options, "{\"command\":[\"sh\"],\"networks\":[\"%s\"],\"ports\":[\"8080:81\"]}",
             net1);
    check(kind_of(volt_container_create(store, other, "c/busybox:1", options, &json)) == VOLT_ERR_CONFLICT &&
              kind_of(volt_container_inspect(store, other, &json)) == VOLT_ERR_NOT_FOUND,
          "a host port forwarded already is ERR_CONFLICT; nothing is kept");
    const char *unknown_net = "{\"command\":[\"sh\"],\"networks\":[\"cn-none\"]}";
    check(kind_of(volt_container_create(store, other, "c/busybox:1", unknown_net, &json)) == VOLT_ERR_NOT_FOUND &&
              kind_of(volt_container_inspect(store, other, &json)) == VOLT_ERR_NOT_FOUND,
          "an unknown network is ERR_NOT_FOUND; nothing is kept");
    const char *no_net = "{\"command\":[\"sh\"],\"ports\":[\"8081:80\"]}";
    check(kind_of(volt_container_create(store, other, "c/busybox:1", no_net, &json)) == VOLT_ERR_USAGE &&
              kind_of(volt_container_inspect(store, other, &json)) == VOLT_ERR_NOT_FOUND,
          "ports without a network are ERR_USAGE; nothing is kept");

    /* Started: the address is on its eth0. */
    check(kind_of(volt_container_start(store, name, NULL)) == VOLT_OK && exec_ready(store, name),
          "the container on a network starts and runs commands");
    {
        const char *argv[] = {"ip", "-4", "addr", "show", "dev", "eth0"};
        check(exec_in(store, name, argv, 6, text, sizeof text) == 0 && addr[0] != '\0' && contains(text, addr),
              "the recorded address is on the container's eth0");
    }

    /* Connected to net2 while it runs: eth1 with the recorded address. */
    check(kind_of(volt_container_connect(store, name, net2, &json)) == VOLT_OK &&
              contains(json, "\"network\":\"") && count(json, "\"interface\":\"eth") == 2 &&
              contains(json, "\"interface\":\"eth1\""),
          "connect puts the running container on a second network (eth1)");
    {
        char find[64];
        snprintf(find, sizeof find, "\"network\":\"%s\"", net2);
        json_string(json != NULL ? strstr(json, find) : NULL, "address", addr2, sizeof addr2);
    }
    volt_string_free(json);
    json = NULL;
    printf("# %s has %s on %s\n", name, addr2, net2);
    {
        const char *argv[] = {"ip", "-4", "addr", "show", "dev", "eth1"};
        check(exec_in(store, name, argv, 6, text, sizeof text) == 0 && addr2[0] != '\0' && contains(text, addr2),
              "the address connect returned is on the container's eth1");
        const char *ping1[] = {"ping", "-c", "1", "-W", "3", "10.91.0.1"};
        check(exec_in(store, name, ping1, 6, NULL, 0) == 0, "the container reaches the first network's gateway");
        const char *ping2[] = {"ping", "-c", "1", "-W", "2", gateway2};
        check(exec_in(store, name, ping2, 6, NULL, 0) == 1,
              "the second network is internal: its gateway answers DNS only, not ping");
    }
    check(kind_of(volt_container_connect(store, name, net2, NULL)) == VOLT_ERR_CONFLICT,
          "connect to a network it is on already is ERR_CONFLICT");
    check(kind_of(volt_network_delete(store, net1)) == VOLT_ERR_CONFLICT,
          "delete of a network a container is on is ERR_CONFLICT (9)");
    check(kind_of(volt_container_disconnect(store, name, net1, NULL)) == VOLT_ERR_CONFLICT,
          "disconnect of a running container's first network (not its last) is ERR_CONFLICT");

    check(kind_of(volt_container_disconnect(store, name, net2, &json)) == VOLT_OK &&
              count(json, "\"interface\":\"eth") == 1 && !contains(json, addr2),
          "disconnect takes the container off the second network");
    volt_string_free(json);
    json = NULL;
    {
        const char *argv[] = {"ip", "link", "show", "dev", "eth1"};
        check(exec_in(store, name, argv, 5, NULL, 0) > 0, "eth1 is gone from the container");
    }
    check(kind_of(volt_container_disconnect(store, name, net2, NULL)) == VOLT_ERR_CONFLICT,
          "disconnect from a network it is not on is ERR_CONFLICT");

    check(kind_of(volt_container_delete(store, name, true)) == VOLT_OK &&
              kind_of(volt_network_inspect(store, net1, &json)) == VOLT_OK && contains(json, "\"endpoints\":[]"),
          "deleting the container gives its address back");
    volt_string_free(json);
    json = NULL;
    check(nft_table(text, sizeof text) && !contains(text, "dnat"), "the port forward is gone from nft table volt");

    /* Cleanup, whatever failed above. */
    volt_error_free(volt_container_delete(store, name, true));
    volt_error_free(volt_container_delete(store, other, true));
    volt_error_free(volt_image_remove(store, "c/busybox:1"));
}

static int netns_child(const char *scratch) {
    char path[4096], before[4096], text[8192];
    links(before, sizeof before);
    if (strcmp(before, "lo ") != 0) {
        printf("# links here: %s\n", before);
        check(0, "the child runs in a fresh network namespace (only lo)");
        return 1;
    }
    check(1, "the child runs in a fresh network namespace (only lo)");

    volt_store_t *store = NULL;
    snprintf(path, sizeof path, "%s/netns-root", scratch);
    if (kind_of(volt_store_open(path, &store)) != VOLT_OK) {
        check(0, "open the store in the namespace");
        return 1;
    }
    const char *net1 = "cnet1", *net2 = "cnet2";
    char *json = NULL;
    long dns1 = 0, dns2 = 0;

    /* ---- create, list, inspect ---- */
    check(kind_of(volt_network_create(store, net1, "{\"subnet\":\"10.91.0.0/24\"}", &json)) == VOLT_OK &&
              contains(json, "\"name\":\"cnet1\"") && contains(json, "\"subnet\":\"10.91.0.0/24\"") &&
              contains(json, "\"gateway\":\"10.91.0.1\"") && contains(json, "\"endpoints\":[]"),
          "network create with a subnet: the record has the subnet and the gateway");
    dns1 = dns_pid_of(json);
    volt_string_free(json);
    json = NULL;
    check(process_alive(dns1), "its DNS server runs (dns_pid)");
    links(text, sizeof text);
    check(contains(text, "cnet1 "), "its bridge exists");
    check(nft_table(text, sizeof text) && contains(text, "\"cnet1\""), "nft table volt has its rules");

    check(kind_of(volt_network_create(store, net1, NULL, &json)) == VOLT_ERR_ALREADY_EXISTS,
          "network create of a taken name is ERR_ALREADY_EXISTS (4)");
    check(kind_of(volt_network_create(store, "cnet-ovl", "{\"subnet\":\"10.91.0.128/25\"}", &json)) ==
                  VOLT_ERR_CONFLICT &&
              kind_of(volt_network_inspect(store, "cnet-ovl", &json)) == VOLT_ERR_NOT_FOUND,
          "an overlapping subnet is ERR_CONFLICT (9); nothing is kept");
    check(kind_of(volt_network_create(store, net2, "{\"internal\":true}", &json)) == VOLT_OK &&
              contains(json, "\"internal\":true") && contains(json, "\"gateway\":\""),
          "network create without a subnet picks a free one from the pool");
    char gateway2[64];
    json_string(json, "gateway", gateway2, sizeof gateway2);
    dns2 = dns_pid_of(json);
    volt_string_free(json);
    json = NULL;

    check(kind_of(volt_network_list(store, &json)) == VOLT_OK && count(json, "\"bridge\":") == 2 &&
              strstr(json, "\"name\":\"cnet1\"") < strstr(json, "\"name\":\"cnet2\""),
          "network list has both, sorted by name");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_network_inspect(store, net1, &json)) == VOLT_OK && contains(json, "\"bridge\":\"cnet1\"") &&
              dns_pid_of(json) == dns1,
          "network inspect");
    volt_string_free(json);
    json = NULL;

    /* ---- firewall ---- */
    check(kind_of(volt_network_firewall_allow(store, net1, net2, "80", &json)) == VOLT_OK &&
              strcmp(json, "{\"from\":\"cnet1\",\"to\":\"cnet2\",\"port\":\"80/tcp\"}") == 0,
          "firewall allow returns the rule");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_network_firewall_allow(store, net1, net2, "80/tcp", NULL)) == VOLT_OK &&
              kind_of(volt_network_firewall_list(store, &json)) == VOLT_OK && count(json, "\"from\"") == 1,
          "allowing twice keeps one rule");
    volt_string_free(json);
    json = NULL;
    check(nft_table(text, sizeof text) && contains(text, "tcp dport 80 accept"), "the allowance is in nft table volt");
    check(kind_of(volt_network_firewall_allow(store, net1, net2, "http", NULL)) == VOLT_ERR_USAGE,
          "firewall allow with a bad port is ERR_USAGE");
    check(kind_of(volt_network_firewall_allow(store, net1, "cn-none", NULL, NULL)) == VOLT_ERR_NOT_FOUND,
          "firewall allow to an unknown network is ERR_NOT_FOUND");
    check(kind_of(volt_network_sync_rules(store)) == VOLT_OK && nft_table(text, sizeof text) &&
              contains(text, "tcp dport 80 accept"),
          "sync_rules re-applies the table");
    check(kind_of(volt_network_firewall_deny(store, net1, net2, "80/tcp")) == VOLT_OK &&
              kind_of(volt_network_firewall_list(store, &json)) == VOLT_OK && strcmp(json, "[]") == 0,
          "firewall deny removes the rule");
    volt_string_free(json);
    json = NULL;
    check(nft_table(text, sizeof text) && !contains(text, "tcp dport 80 accept"),
          "the allowance is gone from nft table volt");
    check(kind_of(volt_network_firewall_deny(store, net1, net2, "80/tcp")) == VOLT_ERR_NOT_FOUND,
          "firewall deny of a removed rule is ERR_NOT_FOUND");

    /* ---- containers ---- */
    test_container(store, scratch, net1, net2, gateway2);

    /* ---- delete ---- */
    check(kind_of(volt_network_delete(store, net1)) == VOLT_OK &&
              kind_of(volt_network_inspect(store, net1, &json)) == VOLT_ERR_NOT_FOUND,
          "network delete; inspect is then ERR_NOT_FOUND");
    check(kind_of(volt_network_delete(store, net2)) == VOLT_OK &&
              kind_of(volt_network_list(store, &json)) == VOLT_OK && strcmp(json, "[]") == 0,
          "network list is [] once both are deleted");
    volt_string_free(json);
    json = NULL;

    /* Whatever failed above, nothing may be left: delete what is there, then look. */
    volt_error_free(volt_network_delete(store, net1));
    volt_error_free(volt_network_delete(store, net2));
    volt_store_free(store);
    check(dns1 > 0 && dns2 > 0 && nothing_running(dns1, dns2, text, sizeof text),
          "both DNS servers are gone after delete, and no other process is left in the namespace");
    if (text[0] != '\0') {
        printf("# processes left: %s\n", text);
    }
    links(text, sizeof text);
    check(strcmp(text, "lo ") == 0, "no link but lo is left in the namespace");
    check(!nft_table(text, sizeof text), "nft table volt is gone");
    return failed == 0 ? 0 : 1;
}

/* Run this program again in a new network namespace (unshare --net) and wait for it. */
static int run_in_netns(const char *scratch) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        return -1;
    }
    self[n] = '\0';
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        setenv("VOLT_NETNS_CHILD", "1", 1);
        char *const argv[] = {"unshare", "--net", "--", self, (char *)scratch, NULL};
        execvp("unshare", argv);
        perror("exec unshare");
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    const char *scratch = argv[1];
    const char *child = getenv("VOLT_NETNS_CHILD");
    if (child != NULL && strcmp(child, "1") == 0) {
        printf("# in a network namespace of its own (numbering restarts)\n");
        int rc = netns_child(scratch);
        printf("C network (in its namespace): %d passed, %d failed\n", passed, failed);
        return rc;
    }

    char path[4096];
    volt_store_t *store = NULL;
    snprintf(path, sizeof path, "%s/args-root", scratch);
    if (kind_of(volt_store_open(path, &store)) != VOLT_OK) {
        check(0, "open a store");
        printf("C network: %d passed, %d failed\n", passed, failed);
        return 1;
    }
    test_arguments(store);
    volt_store_free(store);

    const char *why = NULL;
    if (geteuid() != 0) {
        why = "not root";
    } else if (!on_path("unshare")) {
        why = "no unshare on PATH";
    } else if (!on_path("nft")) {
        why = "no nft on PATH (apt-get install nftables)";
    } else if (getenv("VOLT_SUPERVISOR") == NULL) {
        why = "VOLT_SUPERVISOR is not set (run_c_tests.sh sets it; networks run their DNS server with it)";
    }
    if (can_run("network tests", why)) {
        char before[4096], after[4096];
        links(before, sizeof before);
        check(run_in_netns(scratch) == 0, "the network tests pass in a network namespace of their own");
        links(after, sizeof after);
        check(strcmp(before, after) == 0, "the host's links are what they were");
    }
    printf("C network: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
