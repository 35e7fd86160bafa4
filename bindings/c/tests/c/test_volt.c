/*
 * C-side tests of libvolt: the ABI conventions (NULL arguments, error kinds, out parameters left
 * untouched on failure, free functions accepting NULL), the store operations end to end, and
 * images (import, export, tag, container roots, progress callbacks) pushed to and pulled from a
 * registry served by the library itself, and real containers and named volumes from a busybox
 * image (as root, with systemd-nspawn and VOLT_SUPERVISOR; skipped otherwise, failed with CI=true).
 *
 * Usage: test_volt SCRATCH_DIR
 *   SCRATCH_DIR is an empty, writable directory. The store opened with a NULL root follows
 *   VOLT_ROOT (run_c_tests.sh points it at a temporary directory).
 * Prints "ok N - ..." / "not ok N - ..." lines and a final "C: N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

static int file_equals(const char *path, const char *text) {
    char buf[256];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

/* Several threads share one store handle. */
struct worker {
    volt_store_t *store;
    int index;
    int ok;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char text[64], ref[64];
    snprintf(text, sizeof text, "thread %d says hello", w->index);
    snprintf(ref, sizeof ref, "test/threads/%d", w->index);
    w->ok = 1;
    for (int round = 0; round < 5 && w->ok; round++) {
        char *digest = NULL;
        uint8_t *data = NULL;
        size_t len = 0;
        volt_error_t *err = volt_store_put_bytes(w->store, (const uint8_t *)text, strlen(text), ref, &digest);
        if (err == NULL) {
            err = volt_store_read(w->store, ref, &data, &len);
        }
        w->ok = err == NULL && len == strlen(text) && memcmp(data, text, len) == 0;
        volt_error_free(err);
        volt_bytes_free(data, len);
        volt_string_free(digest);
    }
    return NULL;
}

static int contains(const char *s, const char *needle) {
    return s != NULL && strstr(s, needle) != NULL;
}

/* ---- images and the registry ---- */

/* What a progress callback saw. */
struct progress_seen {
    int calls;
    int per_phase[8]; /* index = volt_progress_phase_t value; [0] counts values outside 1..6 */
    int malformed;    /* NULL item, or a total that contradicts has_total/done */
};

static void on_progress(const volt_progress_t *p, void *user_data) {
    struct progress_seen *seen = user_data;
    seen->calls++;
    if (p->phase >= VOLT_PHASE_READ && p->phase <= VOLT_PHASE_SKIP) {
        seen->per_phase[p->phase]++;
    } else {
        seen->per_phase[0]++;
    }
    if (p->item == NULL || (!p->has_total && p->total != 0) || (p->has_total && p->done > p->total)) {
        seen->malformed++;
    }
}

/* Calls in phases other than the allowed ones (a bit mask of 1 << phase). */
static int calls_outside(const struct progress_seen *seen, int allowed) {
    int n = seen->per_phase[0];
    for (int ph = VOLT_PHASE_READ; ph <= VOLT_PHASE_SKIP; ph++) {
        if (!(allowed & (1 << ph))) {
            n += seen->per_phase[ph];
        }
    }
    return n;
}

/* Copy the string value of the first "key":"..." in a JSON text to out ("" if absent). */
static void json_string(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    out[0] = '\0';
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = json != NULL ? strstr(json, pattern) : NULL;
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

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void test_images(volt_store_t *store, const char *scratch) {
    char path[4096], path2[4096], dest[256];
    char tree[128], tree2[128], manifest[128];
    char *json = NULL;
    struct progress_seen seen;

    /* A tiny root filesystem: directories, files and a symlink. */
    snprintf(path, sizeof path, "%s/rootfs", scratch);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/rootfs/etc", scratch);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/rootfs/bin", scratch);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/rootfs/etc/hostname", scratch);
    write_file(path, "volt-c-test\n");
    snprintf(path, sizeof path, "%s/rootfs/bin/hello", scratch);
    write_file(path, "#!/bin/sh\necho hello\n");
    chmod(path, 0755);
    snprintf(path, sizeof path, "%s/rootfs/bin/hi", scratch);
    if (symlink("hello", path) != 0) {
        perror("symlink");
    }

    /* ---- argument errors ---- */
    snprintf(path, sizeof path, "%s/rootfs", scratch);
    json = (char *)"untouched";
    check(kind_of(volt_image_import(store, path, "Bad Name", NULL, NULL, &json)) == VOLT_ERR_USAGE &&
              strcmp(json, "untouched") == 0,
          "image import with an invalid name is kind 2, out untouched");
    check(kind_of(volt_image_inspect(store, "a/../b", &json)) == 2, "image inspect of an invalid name is kind 2");
    check(kind_of(volt_image_import(store, NULL, "c/img:1", NULL, NULL, &json)) == VOLT_ERR_USAGE,
          "image import with a NULL path is ERR_USAGE");
    check(kind_of(volt_image_list(NULL, &json)) == VOLT_ERR_USAGE, "image list with a NULL store is ERR_USAGE");
    snprintf(path2, sizeof path2, "%s/no-such-rootfs", scratch);
    check(kind_of(volt_image_import(store, path2, "c/img:1", NULL, NULL, &json)) == VOLT_ERR_NOT_FOUND,
          "image import of a nonexistent path is kind 3");
    check(kind_of(volt_image_inspect(store, "c/none:1", &json)) == VOLT_ERR_NOT_FOUND,
          "image inspect of a missing image is kind 3");
    json = NULL;

    /* ---- import with progress ---- */
    memset(&seen, 0, sizeof seen);
    check(kind_of(volt_image_import(store, path, "c/img:1", on_progress, &seen, &json)) == VOLT_OK &&
              contains(json, "\"name\":\"c/img:1\"") && contains(json, "\"source\":\"rootfs:"),
          "image import of a directory returns its record");
    json_string(json, "tree", tree, sizeof tree);
    check(strncmp(tree, "blake3:", 7) == 0 && strlen(tree) == 7 + 64, "import record has the tree digest");
    volt_string_free(json);
    json = NULL;
    check(seen.calls > 0 && seen.per_phase[VOLT_PHASE_READ] > 0 && seen.per_phase[VOLT_PHASE_APPLY] > 0,
          "import progress: READ and APPLY reports");
    check(calls_outside(&seen, 1 << VOLT_PHASE_READ | 1 << VOLT_PHASE_APPLY) == 0 && seen.malformed == 0,
          "import progress: only READ/APPLY, well-formed reports");

    check(kind_of(volt_image_list(store, &json)) == VOLT_OK && json[0] == '[' && contains(json, "\"name\":\"c/img:1\""),
          "image list contains the imported image");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_image_inspect(store, "c/img:1", &json)) == VOLT_OK && contains(json, tree) &&
              contains(json, "\"layers\":[{"),
          "image inspect has the tree and a layer");
    json_string(json, "manifest_digest", manifest, sizeof manifest);
    volt_string_free(json);
    json = NULL;

    /* ---- tag ---- */
    check(kind_of(volt_image_tag(store, "c/img:1", "c/img:alias")) == VOLT_OK, "image tag");
    check(kind_of(volt_image_inspect(store, "c/img:alias", &json)) == VOLT_OK && contains(json, tree) &&
              contains(json, "\"name\":\"c/img:alias\""),
          "the new tag names the same tree");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_image_tag(store, "c/none:1", "c/img:other")) == VOLT_ERR_NOT_FOUND,
          "tag of a missing image is kind 3");

    /* ---- export to an OCI layout and import it back ---- */
    snprintf(path, sizeof path, "%s/layout", scratch);
    memset(&seen, 0, sizeof seen);
    check(kind_of(volt_image_export(store, "c/img:1", path, on_progress, &seen, &json)) == VOLT_OK &&
              contains(json, manifest) && contains(json, "\"blobs\":"),
          "image export to a directory reports the manifest digest");
    volt_string_free(json);
    json = NULL;
    snprintf(path2, sizeof path2, "%s/layout/oci-layout", scratch);
    check(is_file(path2), "export wrote oci-layout");
    snprintf(path2, sizeof path2, "%s/layout/index.json", scratch);
    check(is_file(path2), "export wrote index.json");
    check(seen.per_phase[VOLT_PHASE_WRITE] > 0 && calls_outside(&seen, 1 << VOLT_PHASE_WRITE) == 0 &&
              seen.malformed == 0,
          "export progress: WRITE reports only");
    /* (A separate directory: a failed export into a directory removes it, see docs/c-api.md.) */
    snprintf(path2, sizeof path2, "%s/not-empty", scratch);
    mkdir(path2, 0755);
    snprintf(path2, sizeof path2, "%s/not-empty/file", scratch);
    write_file(path2, "x");
    snprintf(path2, sizeof path2, "%s/not-empty", scratch);
    check(kind_of(volt_image_export(store, "c/img:1", path2, NULL, NULL, &json)) == VOLT_ERR_USAGE,
          "export into a non-empty directory is ERR_USAGE");
    snprintf(path2, sizeof path2, "%s/missing.tar", scratch);
    check(kind_of(volt_image_export(store, "c/none:1", path2, NULL, NULL, &json)) == VOLT_ERR_NOT_FOUND &&
              access(path2, F_OK) != 0,
          "export of a missing image is kind 3 and writes nothing");

    check(kind_of(volt_image_import(store, path, "c/copy:1", NULL, NULL, &json)) == VOLT_OK &&
              contains(json, "\"source\":\"oci-layout:"),
          "import of the exported layout (no progress callback)");
    json_string(json, "tree", tree2, sizeof tree2);
    volt_string_free(json);
    json = NULL;
    check(strcmp(tree, tree2) == 0, "layout round trip keeps the tree digest");

    /* ---- container roots ---- */
    char *root = NULL;
    check(kind_of(volt_image_shared_root(store, "c/img:1", &root)) == VOLT_OK && root != NULL &&
              contains(root, tree + 7),
          "shared root is the checkout of the tree");
    if (root != NULL) {
        snprintf(path2, sizeof path2, "%s/etc/hostname", root);
        check(file_equals(path2, "volt-c-test\n"), "shared root has the image's files");
    }
    volt_string_free(root);
    snprintf(path, sizeof path, "%s/container", scratch);
    check(kind_of(volt_image_create_rootfs(store, "c/img:1", path, true, &json)) == VOLT_OK &&
              contains(json, "\"mode\":\"copy\""),
          "create_rootfs with copy makes a private copy");
    volt_string_free(json);
    json = NULL;
    snprintf(path2, sizeof path2, "%s/container/rootfs/bin/hi", scratch);
    char target[64] = {0};
    check(readlink(path2, target, sizeof target - 1) > 0 && strcmp(target, "hello") == 0,
          "container root keeps the symlink");
    check(kind_of(volt_image_create_rootfs(store, "c/img:1", path, true, &json)) == VOLT_ERR_ALREADY_EXISTS,
          "a second create_rootfs in the same directory is ERR_ALREADY_EXISTS");
    check(kind_of(volt_image_remove_rootfs(store, path)) == VOLT_OK && access(path2, F_OK) != 0,
          "remove_rootfs removes the container root");
    check(kind_of(volt_image_remove_rootfs(store, path)) == VOLT_OK, "remove_rootfs again is a no-op");
    /* Without copy: overlayfs where it can be mounted (root), otherwise a copy. */
    check(kind_of(volt_image_create_rootfs(store, "c/img:1", path, false, &json)) == VOLT_OK &&
              (contains(json, "\"mode\":\"overlay\"") || contains(json, "\"mode\":\"copy\"")),
          "create_rootfs without copy makes an overlay or a copy");
    printf("# rootfs without copy: %s\n", json != NULL ? json : "(none)");
    volt_string_free(json);
    json = NULL;
    snprintf(path2, sizeof path2, "%s/container/rootfs/etc/hostname", scratch);
    check(file_equals(path2, "volt-c-test\n"), "the container root shows the image's files");
    check(kind_of(volt_image_remove_rootfs(store, path)) == VOLT_OK && access(path2, F_OK) != 0,
          "remove_rootfs undoes it");

    /* ---- registry ---- */
    volt_registry_t *reg = NULL;
    volt_registry_free(NULL);
    check(volt_registry_port(NULL) == 0 && volt_registry_url(NULL) == NULL, "registry port/url of NULL");
    check(kind_of(volt_registry_stop(NULL, 0)) == VOLT_ERR_USAGE, "registry stop of NULL is ERR_USAGE");
    check(kind_of(volt_registry_start(store, "not an address", NULL, NULL, &reg)) == VOLT_ERR_USAGE && reg == NULL,
          "registry start with a bad bind address is ERR_USAGE");
    check(kind_of(volt_registry_start(store, "127.0.0.1:0", "cert.pem", NULL, &reg)) == VOLT_ERR_USAGE,
          "registry start with a certificate but no key is ERR_USAGE");
    check(kind_of(volt_registry_start(store, "127.0.0.1:0", NULL, NULL, &reg)) == VOLT_OK && reg != NULL,
          "registry starts on 127.0.0.1:0");
    if (reg == NULL) {
        return;
    }
    unsigned port = volt_registry_port(reg);
    char *url = volt_registry_url(reg);
    char expected[64];
    snprintf(expected, sizeof expected, "http://127.0.0.1:%u", port);
    check(port != 0 && url != NULL && strcmp(url, expected) == 0, "registry port and URL");
    volt_string_free(url);
    volt_registry_t *reg2 = NULL;
    snprintf(expected, sizeof expected, "127.0.0.1:%u", port);
    check(kind_of(volt_registry_start(store, expected, NULL, NULL, &reg2)) == VOLT_ERR_GENERAL && reg2 == NULL,
          "a second registry on the same address is ERR_GENERAL");
    snprintf(path, sizeof path, "%s/no-cert.pem", scratch);
    snprintf(path2, sizeof path2, "%s/no-key.pem", scratch);
    check(kind_of(volt_registry_start(store, "127.0.0.1:0", path, path2, &reg2)) == VOLT_ERR_NOT_FOUND && reg2 == NULL,
          "registry start with missing TLS files is ERR_NOT_FOUND");

    /* tokens */
    const char *repos[] = {"c/*"};
    const char *bad_repos[] = {"Not A Repo"};
    char *token = NULL;
    check(kind_of(volt_registry_token_create(store, repos, 0, "pull", "1h", &token)) == VOLT_ERR_USAGE,
          "token without repositories is ERR_USAGE");
    check(kind_of(volt_registry_token_create(store, bad_repos, 1, "pull", "1h", &token)) == VOLT_ERR_USAGE,
          "token for an invalid repository is ERR_USAGE");
    check(kind_of(volt_registry_token_create(store, repos, 1, "pull,fly", "1h", &token)) == VOLT_ERR_USAGE,
          "token with an unknown action is ERR_USAGE");
    check(kind_of(volt_registry_token_create(store, repos, 1, "pull", "1 fortnight", &token)) == VOLT_ERR_USAGE,
          "token with a bad ttl is ERR_USAGE");
    check(kind_of(volt_registry_token_create(store, NULL, 1, "pull", "1h", &token)) == VOLT_ERR_USAGE && token == NULL,
          "token with NULL repos is ERR_USAGE");
    check(kind_of(volt_registry_token_create(store, repos, 1, "pull,push", "1h", &token)) == VOLT_OK &&
              token != NULL && strncmp(token, "volt1.", 6) == 0,
          "token_create returns a volt1 token");
    char *pull_token = NULL;
    check(kind_of(volt_registry_token_create(store, repos, 1, NULL, NULL, &pull_token)) == VOLT_OK &&
              pull_token != NULL,
          "token_create with default actions and ttl");

    /* push */
    snprintf(dest, sizeof dest, "127.0.0.1:%u/c/test:1", port);
    check(kind_of(volt_image_push(store, "c/img:1", dest, NULL, NULL, NULL, false, NULL, NULL, &json)) ==
              VOLT_ERR_PERMISSION,
          "push without a token is kind 5");
    check(kind_of(volt_image_push(store, "c/img:1", dest, NULL, NULL, pull_token, false, NULL, NULL, &json)) ==
              VOLT_ERR_PERMISSION,
          "push with a pull-only token is kind 5");
    check(kind_of(volt_image_push(store, "c/img:1", dest, "user", NULL, NULL, false, NULL, NULL, &json)) ==
              VOLT_ERR_USAGE,
          "push with a username but no password is ERR_USAGE");
    check(kind_of(volt_image_push(store, "c/none:1", dest, NULL, NULL, token, false, NULL, NULL, &json)) ==
              VOLT_ERR_NOT_FOUND,
          "push of a missing image is kind 3");
    memset(&seen, 0, sizeof seen);
    check(kind_of(volt_image_push(store, "c/img:1", dest, NULL, NULL, token, false, on_progress, &seen, &json)) ==
                  VOLT_OK &&
              contains(json, manifest) && contains(json, "\"reference\":\"") && contains(json, "c/test:1"),
          "push with a bearer token reports the manifest digest");
    volt_string_free(json);
    json = NULL;
    check(seen.calls > 0 && calls_outside(&seen, 1 << VOLT_PHASE_UPLOAD | 1 << VOLT_PHASE_SKIP) == 0 &&
              seen.malformed == 0,
          "push progress: UPLOAD/SKIP reports only");

    /* pull into a second store on a fresh root */
    volt_store_t *store2 = NULL;
    snprintf(path, sizeof path, "%s/root2", scratch);
    check(kind_of(volt_store_open(path, &store2)) == VOLT_OK && store2 != NULL, "second store on a fresh root");
    if (store2 != NULL) {
        memset(&seen, 0, sizeof seen);
        check(kind_of(volt_image_pull(store2, dest, "c/pulled:1", NULL, NULL, token, false, on_progress, &seen,
                                      &json)) == VOLT_OK &&
                  contains(json, "\"name\":\"c/pulled:1\"") && contains(json, "\"source\":\"registry:"),
              "pull into the second store");
        json_string(json, "tree", tree2, sizeof tree2);
        volt_string_free(json);
        json = NULL;
        check(strcmp(tree, tree2) == 0, "pulled image has the pushed tree digest");
        check(seen.per_phase[VOLT_PHASE_DOWNLOAD] > 0 && seen.per_phase[VOLT_PHASE_APPLY] > 0 &&
                  calls_outside(&seen, 1 << VOLT_PHASE_DOWNLOAD | 1 << VOLT_PHASE_SKIP | 1 << VOLT_PHASE_APPLY) == 0 &&
                  seen.malformed == 0,
              "pull progress: DOWNLOAD and APPLY reports");
        check(kind_of(volt_image_pull(store2, dest, NULL, NULL, NULL, token, false, NULL, NULL, &json)) == VOLT_OK,
              "pull with the default local name");
        volt_string_free(json);
        json = NULL;
        check(kind_of(volt_image_inspect(store2, dest, &json)) == VOLT_OK && contains(json, tree),
              "default local name is the reference");
        volt_string_free(json);
        json = NULL;
        check(kind_of(volt_image_pull(store2, dest, "c/basic:1", "anyone", token, NULL, false, NULL, NULL, &json)) ==
                      VOLT_OK &&
                  contains(json, tree),
              "pull with the token as the password of a login");
        volt_string_free(json);
        json = NULL;
        check(kind_of(volt_image_pull(store2, dest, "c/anon:1", NULL, NULL, NULL, false, NULL, NULL, &json)) == VOLT_OK &&
                  contains(json, tree),
              "anonymous pull (allowed by default)");
        volt_string_free(json);
        json = NULL;
        check(kind_of(volt_image_remove(store2, "c/basic:1")) == VOLT_OK &&
                  kind_of(volt_image_remove(store2, "c/anon:1")) == VOLT_OK,
              "remove the extra pulls");
        snprintf(path, sizeof path, "127.0.0.1:%u/c/test:nope", port);
        json = (char *)"untouched";
        check(kind_of(volt_image_pull(store2, path, "c/nope:1", NULL, NULL, token, false, NULL, NULL, &json)) ==
                      VOLT_ERR_NOT_FOUND &&
                  strcmp(json, "untouched") == 0,
              "pull of a missing tag is kind 3");
        json = NULL;
        check(kind_of(volt_image_inspect(store2, "c/nope:1", &json)) == VOLT_ERR_NOT_FOUND,
              "a failed pull keeps nothing");
        check(kind_of(volt_image_pull(store2, dest, "Bad Name", NULL, NULL, token, false, NULL, NULL, &json)) ==
                  VOLT_ERR_USAGE,
              "pull under an invalid name is kind 2");
    }

    /* stop */
    check(kind_of(volt_registry_stop(reg, 1000)) == VOLT_OK, "registry stops");
    check(kind_of(volt_registry_stop(reg, 0)) == VOLT_OK, "stopping a stopped registry succeeds");
    if (store2 != NULL) {
        check(kind_of(volt_image_pull(store2, dest, "c/after:1", NULL, NULL, token, false, NULL, NULL, &json)) ==
                  VOLT_ERR_NETWORK,
              "pull from the stopped registry is ERR_NETWORK");
    }
    volt_registry_free(reg);

    /* A registry outlives the store handle it was started from; free stops it. */
    volt_store_t *store3 = NULL;
    volt_registry_t *reg3 = NULL;
    snprintf(path, sizeof path, "%s/root", scratch);
    check(kind_of(volt_store_open(path, &store3)) == VOLT_OK &&
              kind_of(volt_registry_start(store3, "127.0.0.1:0", NULL, NULL, &reg3)) == VOLT_OK,
          "registry started from another handle on the same root");
    volt_store_free(store3);
    if (reg3 != NULL && store2 != NULL) {
        char dest3[256];
        snprintf(dest3, sizeof dest3, "127.0.0.1:%u/c/test:1", volt_registry_port(reg3));
        check(kind_of(volt_image_pull(store2, dest3, "c/again:1", NULL, NULL, token, false, NULL, NULL, &json)) ==
                      VOLT_OK &&
                  contains(json, tree),
              "it serves after its store handle was freed (token from the first handle)");
        volt_string_free(json);
        json = NULL;
        check(kind_of(volt_image_remove(store2, "c/again:1")) == VOLT_OK &&
                  kind_of(volt_image_remove(store2, dest3)) == VOLT_ERR_NOT_FOUND,
              "remove the image pulled from it");
    }
    volt_registry_free(reg3);
    volt_string_free(token);
    volt_string_free(pull_token);

    /* ---- remove ---- */
    check(kind_of(volt_image_remove(store, "c/img:alias")) == VOLT_OK &&
              kind_of(volt_image_remove(store, "c/copy:1")) == VOLT_OK,
          "image remove");
    check(kind_of(volt_image_remove(store, "c/copy:1")) == VOLT_ERR_NOT_FOUND, "removing a removed image is kind 3");
    check(kind_of(volt_image_inspect(store, "c/img:alias", &json)) == VOLT_ERR_NOT_FOUND,
          "a removed image is gone");
    check(kind_of(volt_image_list(store, &json)) == VOLT_OK && contains(json, "\"name\":\"c/img:1\"") &&
              !contains(json, "c/copy:1") && !contains(json, "c/img:alias"),
          "list after remove has only the remaining image");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_image_remove(store, "c/img:1")) == VOLT_OK && kind_of(volt_image_list(store, &json)) == VOLT_OK &&
              strcmp(json, "[]") == 0,
          "removing the last image empties the list");
    volt_string_free(json);
    if (store2 != NULL) {
        json = NULL;
        check(kind_of(volt_image_remove(store2, "c/pulled:1")) == VOLT_OK &&
                  kind_of(volt_image_remove(store2, dest)) == VOLT_OK,
              "image remove in the second store");
        volt_store_free(store2);
    }
}

/* ---- containers and volumes ---- */

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

/* Delete a container, running or not, ignoring every error (cleanup). */
static void force_delete(volt_store_t *store, const char *name) {
    volt_error_free(volt_container_delete(store, name, true));
}

/* A started container's init process may not exist yet when start returns ("no init process
 * yet", ERR_GENERAL): wait up to 10 s until a command can be run in it. */
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

static void test_containers(volt_store_t *store, const char *scratch) {
    const char *ci = getenv("CI");
    const char *why = NULL;
    if (geteuid() != 0) {
        why = "not root";
    } else if (access("/bin/busybox", X_OK) != 0) {
        why = "no /bin/busybox";
    } else if (!on_path("systemd-nspawn")) {
        why = "no systemd-nspawn on PATH";
    } else if (getenv("VOLT_SUPERVISOR") == NULL) {
        why = "VOLT_SUPERVISOR is not set (run_c_tests.sh sets it)";
    }
    if (why != NULL) {
        if (ci != NULL && strcmp(ci, "true") == 0) {
            check(0, "container tests can run (CI=true)");
        }
        printf("# skip container tests: %s\n", why);
        return;
    }

    char path[4096], path2[4096];
    char run[64], svc[64], vol_user[64], vol[64], generated[128];
    char *json = NULL;
    int pid = (int)getpid();
    snprintf(run, sizeof run, "c-run-%d", pid);
    snprintf(svc, sizeof svc, "c-svc-%d", pid);
    snprintf(vol_user, sizeof vol_user, "c-vol-user-%d", pid);
    snprintf(vol, sizeof vol, "c-vol-%d", pid);
    generated[0] = '\0';

    /* A busybox root filesystem: sh, echo, cat, sleep and ls. */
    const char *dirs[] = {"bb", "bb/bin", "bb/usr"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", scratch, dirs[i]);
        mkdir(path, 0755);
    }
    snprintf(path, sizeof path, "%s/bb/bin/busybox", scratch);
    int copied = copy_file("/bin/busybox", path, 0755) == 0;
    const char *applets[] = {"sh", "echo", "cat", "sleep", "ls"};
    for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++) {
        snprintf(path, sizeof path, "%s/bb/bin/%s", scratch, applets[i]);
        copied = copied && symlink("busybox", path) == 0;
    }
    snprintf(path, sizeof path, "%s/bb", scratch);
    check(copied && kind_of(volt_image_import(store, path, "c/busybox:1", NULL, NULL, &json)) == VOLT_OK,
          "busybox root filesystem imported as c/busybox:1");
    volt_string_free(json);
    json = NULL;

    /* ---- argument errors ---- */
    json = (char *)"untouched";
    check(kind_of(volt_container_create(store, "Bad Name", "c/busybox:1", NULL, &json)) == VOLT_ERR_USAGE &&
              strcmp(json, "untouched") == 0,
          "container create with a bad name is ERR_USAGE (2), out untouched");
    check(kind_of(volt_container_create(store, run, "c/busybox:1", "{\"comand\":[\"x\"]}", &json)) ==
              VOLT_ERR_USAGE,
          "container create with an unknown option key is ERR_USAGE");
    check(kind_of(volt_container_create(store, run, "c/busybox:1", "[1,2", &json)) == VOLT_ERR_USAGE,
          "container create with malformed options JSON is ERR_USAGE");
    check(kind_of(volt_container_create(store, run, "c/busybox:1", "{\"memory\":\"12Q\"}", &json)) ==
              VOLT_ERR_USAGE,
          "container create with a bad memory size is ERR_USAGE");
    check(kind_of(volt_container_create(store, run, "c/busybox:1", "{\"restart\":\"sometimes\"}", &json)) ==
              VOLT_ERR_USAGE,
          "container create with a bad restart policy is ERR_USAGE");
    check(kind_of(volt_container_create(store, run, "c/none:1", NULL, &json)) == VOLT_ERR_NOT_FOUND,
          "container create from a missing image is ERR_NOT_FOUND");
    check(kind_of(volt_container_create(store, run, NULL, NULL, &json)) == VOLT_ERR_USAGE,
          "container create with a NULL image is ERR_USAGE");
    check(kind_of(volt_container_create(store, run, "c/busybox:1", NULL, NULL)) == VOLT_ERR_USAGE,
          "container create with a NULL json_out is ERR_USAGE");
    json = (char *)"untouched";
    check(kind_of(volt_container_inspect(store, "c-no-such-container", &json)) == VOLT_ERR_NOT_FOUND &&
              strcmp(json, "untouched") == 0,
          "inspect of an unknown container is ERR_NOT_FOUND (3)");
    check(kind_of(volt_container_inspect(store, "a/b", &json)) == VOLT_ERR_USAGE,
          "inspect with a bad name is ERR_USAGE");
    check(kind_of(volt_container_start(store, "c-no-such-container", NULL)) == VOLT_ERR_NOT_FOUND,
          "start of an unknown container is ERR_NOT_FOUND");
    check(kind_of(volt_container_delete(store, "c-no-such-container", true)) == VOLT_ERR_NOT_FOUND,
          "delete of an unknown container is ERR_NOT_FOUND");
    json = NULL;

    /* ---- run attached ---- */
    check(kind_of(volt_container_run(store, run, "c/busybox:1",
                                     "{\"command\":[\"sh\",\"-c\",\"echo hello; echo oops >&2; exit 3\"]}", false,
                                     &json)) == VOLT_OK &&
              contains(json, "\"exit_code\":3") && contains(json, "\"lines\":[") && contains(json, "\"hello\"") &&
              contains(json, "\"oops\""),
          "run: exit code 3, output lines collected");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_inspect(store, run, &json)) == VOLT_OK && contains(json, "\"exit_code\":3") &&
              !contains(json, "\"status\":\"running\""),
          "run without rm keeps the ended container");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_logs(store, run, -1, NULL, &json)) == VOLT_OK && contains(json, "\"hello\"") &&
              contains(json, "\"oops\""),
          "logs: every line");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_logs(store, run, 0, NULL, &json)) == VOLT_OK && strcmp(json, "[]") == 0,
          "logs: tail 0 is no line");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_logs(store, run, -1, "1h", &json)) == VOLT_OK && contains(json, "\"hello\""),
          "logs since 1h ago: the lines just written");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_logs(store, run, -1, "2999-01-01T00:00:00Z", &json)) == VOLT_OK &&
              strcmp(json, "[]") == 0,
          "logs since a future time: no line");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_logs(store, run, -1, "yesterday", &json)) == VOLT_ERR_USAGE,
          "logs since a word is ERR_USAGE");
    check(kind_of(volt_container_delete(store, run, false)) == VOLT_OK &&
              kind_of(volt_container_inspect(store, run, &json)) == VOLT_ERR_NOT_FOUND,
          "delete of an ended container without force");

    check(kind_of(volt_container_run(store, NULL, "c/busybox:1",
                                     "{\"command\":[\"sh\",\"-c\",\"echo $GREETING from box\"],"
                                     "\"env\":[\"GREETING=hi\"]}",
                                     true, &json)) == VOLT_OK &&
              contains(json, "\"exit_code\":0") && contains(json, "hi from"),
          "run with a generated name, env and rm");
    json_string(json, "name", generated, sizeof generated);
    volt_string_free(json);
    json = NULL;
    check(generated[0] != '\0' && kind_of(volt_container_inspect(store, generated, &json)) == VOLT_ERR_NOT_FOUND,
          "run with rm deletes the container");

    /* ---- create, start, exec, stats, update, stop ---- */
    check(kind_of(volt_container_create(store, svc, "c/busybox:1",
                                        "{\"command\":[\"sleep\",\"1000\"],\"env\":[\"COLOR=blue\"],"
                                        "\"memory\":\"64M\",\"pids\":50}",
                                        &json)) == VOLT_OK &&
              contains(json, "\"status\":\"stopped\"") && contains(json, "\"memory\":67108864") &&
              contains(json, "\"pids\":50"),
          "create: a stopped container with limits");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_create(store, svc, "c/busybox:1", NULL, &json)) == VOLT_ERR_ALREADY_EXISTS,
          "create of a taken name is ERR_ALREADY_EXISTS");
    check(kind_of(volt_container_start(store, svc, &json)) == VOLT_OK && contains(json, "\"status\":\"running\""),
          "start: running");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_start(store, svc, NULL)) == VOLT_ERR_CONFLICT,
          "start of a running container is ERR_CONFLICT (9)");
    check(exec_ready(store, svc), "the started container runs commands");

    {
        const char *argv[] = {"echo", "hi"};
        int status = -1;
        uint8_t *out = NULL, *err_buf = NULL;
        size_t out_len = 0, err_len = 0;
        check(kind_of(volt_container_exec_output(store, svc, argv, 2, &status, &out, &out_len, &err_buf, &err_len)) ==
                      VOLT_OK &&
                  status == 0 && out_len == 3 && memcmp(out, "hi\n", 3) == 0 && err_buf != NULL && err_len == 0,
              "exec_output echo hi: status 0, \"hi\\n\", no stderr");
        volt_bytes_free(out, out_len);
        volt_bytes_free(err_buf, err_len);
        const char *argv2[] = {"sh", "-c", "echo $COLOR; echo bad >&2; exit 7"};
        out = err_buf = NULL;
        check(kind_of(volt_container_exec_output(store, svc, argv2, 3, &status, &out, &out_len, &err_buf,
                                                 &err_len)) == VOLT_OK &&
                  status == 7 && out_len == 5 && memcmp(out, "blue\n", 5) == 0 && err_len == 4 &&
                  memcmp(err_buf, "bad\n", 4) == 0,
              "exec_output: exit status, the container's env, stderr");
        volt_bytes_free(out, out_len);
        volt_bytes_free(err_buf, err_len);
        out = NULL;
        check(kind_of(volt_container_exec_output(store, svc, argv, 0, &status, &out, &out_len, &err_buf,
                                                 &err_len)) == VOLT_ERR_USAGE &&
                  out == NULL,
              "exec_output with no arguments is ERR_USAGE");
        check(kind_of(volt_container_exec_output(store, svc, argv, 2, NULL, &out, &out_len, &err_buf, &err_len)) ==
                  VOLT_ERR_USAGE,
              "exec_output with a NULL status_out is ERR_USAGE");
    }

    check(kind_of(volt_container_stats(store, svc, &json)) == VOLT_OK && contains(json, "\"cpu_ns\":") &&
              contains(json, "\"pids\":"),
          "stats of a running container");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_top(store, 100, &json)) == VOLT_OK && contains(json, svc) &&
              contains(json, "\"cpu_percent\":"),
          "top lists the running container");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_update(store, svc, "128M", -1, 64, &json)) == VOLT_OK &&
              contains(json, "\"memory\":134217728") && contains(json, "\"pids\":64"),
          "update: memory and pids of a running container");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_update(store, svc, "lots", -1, -1, &json)) == VOLT_ERR_USAGE,
          "update with a bad memory size is ERR_USAGE");
    check(kind_of(volt_container_update(store, svc, NULL, 0, -1, &json)) == VOLT_ERR_USAGE,
          "update with cpu 0 is ERR_USAGE");
    check(kind_of(volt_container_kill(store, svc, 0)) == VOLT_ERR_USAGE, "kill with signal 0 is ERR_USAGE");
    check(kind_of(volt_container_wait(store, svc, 200, &json)) == VOLT_ERR_TIMEOUT,
          "wait for a running container with a timeout is ERR_TIMEOUT (7)");
    check(kind_of(volt_container_delete(store, svc, false)) == VOLT_ERR_CONFLICT,
          "delete of a running container without force is ERR_CONFLICT");
    check(kind_of(volt_container_list(store, &json)) == VOLT_OK && contains(json, svc) &&
              contains(json, "\"status\":\"running\""),
          "list shows the running container");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_workload_list(store, &json)) == VOLT_OK && contains(json, svc) &&
              contains(json, "\"kind\":\"container\"") && contains(json, "\"detail\":\"c/busybox:1\""),
          "workload_list shows the running container as a container of its image");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_workload_list(store, NULL)) == VOLT_ERR_USAGE, "workload_list without json_out is ERR_USAGE");

    check(kind_of(volt_container_stop(store, svc, 5, &json)) == VOLT_OK && contains(json, "\"status\":\"stopped\""),
          "stop: stopped");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_stop(store, svc, -1, NULL)) == VOLT_ERR_CONFLICT,
          "stop of a stopped container is ERR_CONFLICT");
    {
        const char *argv[] = {"true"};
        int status = -1;
        uint8_t *out = NULL, *err_buf = NULL;
        size_t out_len = 0, err_len = 0;
        check(kind_of(volt_container_exec_output(store, svc, argv, 1, &status, &out, &out_len, &err_buf,
                                                 &err_len)) == VOLT_ERR_CONFLICT,
              "exec_output in a stopped container is ERR_CONFLICT");
    }
    check(kind_of(volt_container_stats(store, svc, &json)) == VOLT_ERR_CONFLICT,
          "stats of a stopped container is ERR_CONFLICT");
    check(kind_of(volt_container_kill(store, svc, 9)) == VOLT_ERR_CONFLICT,
          "kill of a stopped container is ERR_CONFLICT");

    check(kind_of(volt_container_restart(store, svc, 5, &json)) == VOLT_OK &&
              contains(json, "\"status\":\"running\""),
          "restart of a stopped container starts it");
    volt_string_free(json);
    json = NULL;
    check(exec_ready(store, svc), "the restarted container runs commands");
    check(kind_of(volt_container_kill(store, svc, 9)) == VOLT_OK &&
              kind_of(volt_container_wait(store, svc, 30000, &json)) == VOLT_OK &&
              !contains(json, "\"status\":\"running\"") && contains(json, "\"exit_code\":137"),
          "kill 9, then wait: ended with status 137");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_container_delete(store, svc, false)) == VOLT_OK, "delete of the killed container");

    /* ---- volumes ---- */
    check(kind_of(volt_volume_create(store, vol, &json)) == VOLT_OK && contains(json, vol) &&
              contains(json, "\"used_by\":[]"),
          "volume create");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_volume_create(store, vol, &json)) == VOLT_ERR_ALREADY_EXISTS,
          "volume create of an existing name is ERR_ALREADY_EXISTS");
    check(kind_of(volt_volume_create(store, "Bad Vol", &json)) == VOLT_ERR_USAGE,
          "volume create with a bad name is ERR_USAGE");
    check(kind_of(volt_volume_list(store, &json)) == VOLT_OK && contains(json, vol), "volume list");
    volt_string_free(json);
    json = NULL;
    snprintf(path, sizeof path,
             "{\"command\":[\"sh\",\"-c\",\"echo data > /data/f; cat /data/f\"],\"volumes\":[\"%s:/data\"]}", vol);
    check(kind_of(volt_container_run(store, vol_user, "c/busybox:1", path, false, &json)) == VOLT_OK &&
              contains(json, "\"exit_code\":0") && contains(json, "\"data\""),
          "run with a named volume mounted");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_volume_inspect(store, vol, &json)) == VOLT_OK && contains(json, vol_user),
          "volume inspect names the container using it");
    json_string(json, "path", path2, sizeof path2);
    volt_string_free(json);
    json = NULL;
    strncat(path2, "/f", sizeof path2 - strlen(path2) - 1);
    check(file_equals(path2, "data\n"), "the volume keeps what the container wrote");
    check(kind_of(volt_volume_remove(store, vol)) == VOLT_ERR_CONFLICT,
          "volume remove while a container uses it is ERR_CONFLICT");
    check(kind_of(volt_container_delete(store, vol_user, false)) == VOLT_OK &&
              kind_of(volt_volume_remove(store, vol)) == VOLT_OK,
          "volume remove once the container is gone");
    check(kind_of(volt_volume_inspect(store, vol, &json)) == VOLT_ERR_NOT_FOUND,
          "volume inspect of a removed volume is ERR_NOT_FOUND");
    check(kind_of(volt_volume_remove(store, vol)) == VOLT_ERR_NOT_FOUND,
          "volume remove of a missing volume is ERR_NOT_FOUND");

    /* Cleanup, whatever failed above. */
    force_delete(store, run);
    force_delete(store, svc);
    force_delete(store, vol_user);
    if (generated[0] != '\0') {
        force_delete(store, generated);
    }
    volt_error_free(volt_volume_remove(store, vol));
    check(kind_of(volt_container_list(store, &json)) == VOLT_OK && strcmp(json, "[]") == 0 &&
              kind_of(volt_image_remove(store, "c/busybox:1")) == VOLT_OK,
          "no container left; the image can be removed");
    volt_string_free(json);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    const char *scratch = argv[1];
    char path[4096], path2[4096];
    volt_store_t *store = NULL;
    volt_error_t *err;
    char *json = NULL;
    char *digest = NULL;

    /* ---- free functions and NULL errors ---- */
    volt_error_free(NULL);
    volt_string_free(NULL);
    volt_store_free(NULL);
    volt_bytes_free(NULL, 0);
    check(1, "volt_error_free/volt_string_free/volt_store_free/volt_bytes_free accept NULL");
    check(volt_error_kind(NULL) == VOLT_OK && strcmp(volt_error_message(NULL), "") == 0,
          "volt_error_kind(NULL) is VOLT_OK and its message is empty");

    /* ---- opening ---- */
    check(kind_of(volt_store_open(NULL, NULL)) == VOLT_ERR_USAGE, "open with NULL out is ERR_USAGE");
    check(kind_of(volt_store_open(NULL, &store)) == VOLT_OK && store != NULL,
          "open with NULL root (VOLT_ROOT) succeeds");
    volt_store_free(store);
    store = NULL;

    snprintf(path, sizeof path, "%s/root", scratch);
    check(kind_of(volt_store_open(path, &store)) == VOLT_OK && store != NULL, "open under an explicit root");
    snprintf(path2, sizeof path2, "%s/root/var/lib/volt/cas/objects", scratch);
    struct stat st;
    check(stat(path2, &st) == 0 && S_ISDIR(st.st_mode), "explicit root relocates the store under it");
    if (store == NULL) {
        printf("C: %d passed, %d failed\n", passed, failed + 1);
        return 1;
    }

    /* ---- NULL and invalid arguments ---- */
    json = (char *)"untouched";
    err = volt_store_status(NULL, &json);
    check(volt_error_kind(err) == VOLT_ERR_USAGE && contains(volt_error_message(err), "store"),
          "NULL store is ERR_USAGE naming the argument");
    volt_error_free(err);
    check(strcmp(json, "untouched") == 0, "out parameter untouched on failure");
    check(kind_of(volt_store_stat(store, NULL, &json)) == VOLT_ERR_USAGE, "NULL target is ERR_USAGE");
    check(kind_of(volt_store_stat(store, "x", NULL)) == VOLT_ERR_USAGE, "NULL json_out is ERR_USAGE");
    check(kind_of(volt_store_put_bytes(store, NULL, 3, NULL, &digest)) == VOLT_ERR_USAGE,
          "NULL data with len > 0 is ERR_USAGE");
    check(kind_of(volt_store_stat(store, "sha256:zz", &json)) == VOLT_ERR_USAGE,
          "invalid digest sha256:zz is ERR_USAGE (2)");
    check(kind_of(volt_store_ref_set(store, "a/../b", "sha256:zz")) == 2, "bad ref name a/../b is kind 2");
    check(kind_of(volt_store_put_bytes(store, (const uint8_t *)"x", 1, "a/../b", &digest)) == 2 &&
              digest == NULL,
          "put with bad ref name is kind 2 and stores no digest");
    check(kind_of(volt_store_stat(store, "\xff\xfe", &json)) == VOLT_ERR_USAGE, "invalid UTF-8 is ERR_USAGE");
    check(kind_of(volt_store_checkout(store, "blake3:00", path, "sideways", &json)) == VOLT_ERR_USAGE,
          "unknown checkout mode is ERR_USAGE");

    err = volt_store_stat(store, "no/such/ref", &json);
    check(volt_error_kind(err) == VOLT_ERR_NOT_FOUND && strcmp(volt_error_kind_name(err), "ERR_NOT_FOUND") == 0 &&
              contains(volt_error_message(err), "no/such/ref"),
          "missing ref is ERR_NOT_FOUND (3) with a message naming it");
    volt_error_free(err);
    char missing[80];
    snprintf(missing, sizeof missing, "blake3:%064d", 0);
    uint8_t *data = NULL;
    size_t len = 0;
    check(kind_of(volt_store_read(store, missing, &data, &len)) == VOLT_ERR_NOT_FOUND && data == NULL,
          "missing object is ERR_NOT_FOUND");

    /* ---- put / read / stat / get ---- */
    json = NULL;
    const char *hello = "hello, volt";
    check(kind_of(volt_store_put_bytes(store, (const uint8_t *)hello, strlen(hello), "test/hello", &digest)) ==
                  VOLT_OK &&
              digest != NULL && strncmp(digest, "blake3:", 7) == 0 && strlen(digest) == 7 + 64,
          "put_bytes returns a blake3 digest");
    {
        bool has = false, missing = true;
        check(kind_of(volt_store_has(store, digest, &has)) == VOLT_OK && has &&
                  kind_of(volt_store_has(store, "test/hello", &has)) == VOLT_OK && has &&
                  kind_of(volt_store_has(store, "test/none", &missing)) == VOLT_OK && !missing,
              "has: true for a stored digest and ref, false for a missing ref");
        check(kind_of(volt_store_has(store, "sha256:zz", &has)) == VOLT_ERR_USAGE, "has: malformed digest is ERR_USAGE");
    }
    check(kind_of(volt_store_read(store, digest, &data, &len)) == VOLT_OK && len == strlen(hello) &&
              memcmp(data, hello, len) == 0,
          "read by digest round-trips the bytes");
    volt_bytes_free(data, len);
    data = NULL;
    check(kind_of(volt_store_read(store, "test/hello", &data, &len)) == VOLT_OK && len == strlen(hello) &&
              memcmp(data, hello, len) == 0,
          "read by ref round-trips the bytes");
    volt_bytes_free(data, len);

    /* Stored without a ref: gc removes it at the end. */
    char *empty_digest = NULL;
    char unreferenced[80] = {0};
    data = NULL;
    len = 99;
    check(kind_of(volt_store_put_bytes(store, NULL, 0, NULL, &empty_digest)) == VOLT_OK &&
              kind_of(volt_store_read(store, empty_digest, &data, &len)) == VOLT_OK && len == 0 && data != NULL,
          "empty object round-trips (NULL data, len 0)");
    volt_bytes_free(data, len);
    if (empty_digest != NULL) {
        snprintf(unreferenced, sizeof unreferenced, "%s", empty_digest);
    }
    volt_string_free(empty_digest);

    check(kind_of(volt_store_stat(store, "test/hello", &json)) == VOLT_OK && contains(json, "\"size\":11") &&
              contains(json, digest),
          "stat JSON has the size and the digest as text");
    volt_string_free(json);
    json = NULL;

    snprintf(path, sizeof path, "%s/hello.out", scratch);
    check(kind_of(volt_store_get(store, digest, path)) == VOLT_OK && file_equals(path, hello),
          "get writes the object to a file");

    char *digest2 = NULL;
    check(kind_of(volt_store_put_file(store, path, NULL, &digest2)) == VOLT_OK && digest2 != NULL &&
              strcmp(digest, digest2) == 0,
          "put_file of the same bytes gives the same digest");
    volt_string_free(digest2);
    snprintf(path, sizeof path, "%s/nonexistent", scratch);
    check(kind_of(volt_store_put_file(store, path, NULL, &digest2)) == VOLT_ERR_NOT_FOUND,
          "put_file of a missing file is ERR_NOT_FOUND");

    /* ---- build / checkout / verify ---- */
    snprintf(path, sizeof path, "%s/tree", scratch);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/tree/sub", scratch);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/tree/a.txt", scratch);
    write_file(path, "alpha\n");
    snprintf(path, sizeof path, "%s/tree/sub/b.txt", scratch);
    write_file(path, "beta\n");
    snprintf(path, sizeof path, "%s/tree/link", scratch);
    if (symlink("sub/b.txt", path) != 0) {
        perror("symlink");
    }
    snprintf(path, sizeof path, "%s/tree", scratch);
    check(kind_of(volt_store_build(store, path, "test/tree", &json)) == VOLT_OK && contains(json, "\"root\":\"blake3:") &&
              contains(json, "\"reference\":\"test/tree\""),
          "build returns a report with the tree digest");
    volt_string_free(json);
    json = NULL;

    snprintf(path, sizeof path, "%s/co", scratch);
    check(kind_of(volt_store_checkout(store, "test/tree", path, NULL, &json)) == VOLT_OK &&
              contains(json, "\"mode\":\"hardlink\""),
          "checkout (NULL mode = hardlink) succeeds");
    volt_string_free(json);
    json = NULL;
    snprintf(path2, sizeof path2, "%s/co/sub/b.txt", scratch);
    check(file_equals(path2, "beta\n"), "checked-out file has the content");
    snprintf(path2, sizeof path2, "%s/co/link", scratch);
    char target[64] = {0};
    check(readlink(path2, target, sizeof target - 1) > 0 && strcmp(target, "sub/b.txt") == 0,
          "checked-out symlink points where it did");
    check(kind_of(volt_store_checkout(store, "test/tree", path, "copy", &json)) == VOLT_ERR_ALREADY_EXISTS,
          "checkout into a non-empty directory is ERR_ALREADY_EXISTS");
    snprintf(path, sizeof path, "%s/co-copy", scratch);
    check(kind_of(volt_store_checkout(store, "test/tree", path, "copy", &json)) == VOLT_OK &&
              contains(json, "\"mode\":\"copy\""),
          "checkout in copy mode succeeds");
    volt_string_free(json);
    json = NULL;
    snprintf(path, sizeof path, "%s/co-blob", scratch);
    check(kind_of(volt_store_checkout(store, "test/hello", path, NULL, &json)) == VOLT_ERR_USAGE,
          "checkout of a non-tree is ERR_USAGE");

    check(kind_of(volt_store_verify(store, NULL, &json)) == VOLT_OK && contains(json, "\"corrupt\":[]") &&
              contains(json, "\"missing\":[]") && contains(json, "\"broken_refs\":[]"),
          "verify of the whole store is clean");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_store_verify(store, "test/tree", &json)) == VOLT_OK && contains(json, "\"corrupt\":[]"),
          "verify of one tree is clean");
    volt_string_free(json);
    json = NULL;

    /* ---- refs ---- */
    check(kind_of(volt_store_ref_set(store, "test/alias", "test/tree")) == VOLT_OK, "ref_set to another ref");
    check(kind_of(volt_store_refs(store, "test/", &json)) == VOLT_OK && contains(json, "\"name\":\"test/alias\"") &&
              contains(json, "\"name\":\"test/hello\"") && contains(json, "\"target\":\"blake3:"),
          "refs lists names and digest targets");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_store_ref_delete(store, "test/alias")) == VOLT_OK, "ref_delete");
    check(kind_of(volt_store_ref_delete(store, "test/alias")) == VOLT_ERR_NOT_FOUND,
          "ref_delete of a missing ref is ERR_NOT_FOUND");

    /* ---- one handle, several threads ---- */
    struct worker workers[4];
    pthread_t threads[4];
    int started = 0, all_ok = 1;
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){store, i, 0};
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0) {
            started++;
        }
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        all_ok = all_ok && workers[i].ok;
    }
    check(started == 4 && all_ok, "one store handle used from 4 threads at once");

    /* ---- gc / status / dedup ---- */
    check(kind_of(volt_store_gc(store, true, &json)) == VOLT_OK && contains(json, "\"dry_run\""),
          "gc dry-run JSON has dry_run");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_store_status(store, &json)) == VOLT_OK && contains(json, "\"objects\"") &&
              contains(json, "\"refs\""),
          "status JSON");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_store_dedup(store, 3, &json)) == VOLT_OK && contains(json, "\"ratio\""), "dedup JSON");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_store_gc(store, false, &json)) == VOLT_OK && contains(json, "\"dry_run\":false"),
          "gc runs");
    volt_string_free(json);
    json = NULL;
    data = NULL;
    check(kind_of(volt_store_read(store, digest, &data, &len)) == VOLT_OK && len == strlen(hello),
          "referenced object survives gc");
    volt_bytes_free(data, len);
    data = NULL;
    check(kind_of(volt_store_read(store, unreferenced, &data, &len)) == VOLT_ERR_NOT_FOUND && data == NULL,
          "unreferenced object is collected by gc");

    volt_string_free(digest);

    test_images(store, scratch);
    test_containers(store, scratch);
    volt_store_free(store);

    printf("C: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
