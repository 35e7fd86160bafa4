/*
 * Stellarium from C: build a directory into the store, check it out, verify, round-trip bytes,
 * and handle an error.
 *
 * Usage: cas STORE_ROOT DIR
 *   STORE_ROOT  every Volt path is relocated under it (the store is STORE_ROOT/var/lib/volt/cas)
 *   DIR         a directory to store as a tree
 * Exit status 0 only if every check passed. run.sh builds and runs it on a scratch tree.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volt.h"

static int failures;

/* Report a failed call, free its error and count the failure. Returns 1 if `err` was an error. */
static int failed(const char *what, volt_error_t *err) {
    if (err == NULL) {
        return 0;
    }
    fprintf(stderr, "%s: %s (%d): %s\n", what, volt_error_kind_name(err), volt_error_kind(err),
            volt_error_message(err));
    volt_error_free(err);
    failures++;
    return 1;
}

/* Copy the string value of "key" from a flat JSON object into out (enough for digests). */
static int json_string(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (start == NULL) {
        return 0;
    }
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (end == NULL || (size_t)(end - start) >= size) {
        return 0;
    }
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s STORE_ROOT DIR\n", argv[0]);
        return 2;
    }
    const char *root = argv[1];
    const char *dir = argv[2];
    volt_store_t *store = NULL;
    char *json = NULL;

    if (failed("open", volt_store_open(root, &store))) {
        return 1;
    }

    /* Build the directory as a tree named "examples/c". */
    char tree[80] = "";
    if (!failed("build", volt_store_build(store, dir, "examples/c", &json))) {
        if (json_string(json, "root", tree, sizeof tree)) {
            printf("tree:     %s\n", tree);
        } else {
            fprintf(stderr, "build: no root in %s\n", json);
            failures++;
        }
        volt_string_free(json);
    }

    if (!failed("status", volt_store_status(store, &json))) {
        printf("status:   %s\n", json);
        volt_string_free(json);
    }

    /* Check it out by ref name, hardlinking files to the store (read-only by convention). */
    char dest[4096];
    snprintf(dest, sizeof dest, "%s/checkout", root);
    if (!failed("checkout", volt_store_checkout(store, "examples/c", dest, "hardlink", &json))) {
        printf("checkout: %s\n", json);
        volt_string_free(json);
    }

    if (!failed("verify", volt_store_verify(store, NULL, &json))) {
        int clean = strstr(json, "\"corrupt\":[]") && strstr(json, "\"missing\":[]") &&
                    strstr(json, "\"broken_refs\":[]");
        printf("verify:   %s\n", clean ? "clean" : json);
        if (!clean) {
            failures++;
        }
        volt_string_free(json);
    }

    /* Bytes in, bytes out. */
    const char *hello = "hello from C";
    char *digest = NULL;
    if (!failed("put", volt_store_put_bytes(store, (const uint8_t *)hello, strlen(hello), "examples/c-hello",
                                            &digest))) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (!failed("read", volt_store_read(store, digest, &data, &len))) {
            int same = len == strlen(hello) && memcmp(data, hello, len) == 0;
            printf("bytes:    %s -> %s\n", digest, same ? "read back identical" : "MISMATCH");
            if (!same) {
                failures++;
            }
            volt_bytes_free(data, len);
        }
        volt_string_free(digest);
    }

    /* Errors carry a kind (the CLI's exit code) and a message. */
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/missing", root);
    volt_error_t *err = volt_store_checkout(store, "examples/does-not-exist", missing, NULL, &json);
    if (err == NULL) {
        fprintf(stderr, "checkout of a missing ref succeeded\n");
        volt_string_free(json);
        failures++;
    } else {
        printf("error:    %s: %s\n", volt_error_kind_name(err), volt_error_message(err));
        if (volt_error_kind(err) != VOLT_ERR_NOT_FOUND) {
            fprintf(stderr, "expected VOLT_ERR_NOT_FOUND (%d), got %d\n", VOLT_ERR_NOT_FOUND, volt_error_kind(err));
            failures++;
        }
        volt_error_free(err);
    }

    volt_store_free(store);
    printf("%s\n", failures == 0 ? "all checks passed" : "some checks FAILED");
    return failures == 0 ? 0 : 1;
}
