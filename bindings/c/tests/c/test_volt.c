/*
 * C-side tests of libvolt: the ABI conventions (NULL arguments, error kinds, out parameters left
 * untouched on failure, free functions accepting NULL) and the store operations end to end.
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
    volt_store_free(store);

    printf("C: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
