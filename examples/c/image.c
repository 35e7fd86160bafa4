/*
 * Images and the built-in registry from C (the same scenario as examples/rust/image.rs and
 * examples/python/image.py): import a directory as the image example/app:1, inspect it, serve
 * the store as an OCI registry on a free loopback port, push the image there with a bearer
 * token, pull it back into a second, empty store, check that the root filesystem tree came back
 * identical, export the copy as an OCI image layout and stop the registry.
 *
 * Usage: image WORK DIR
 *   WORK  an empty scratch directory: the stores are WORK/first and WORK/second (every Volt path
 *         relocated under each), the export goes to WORK/app.oci
 *   DIR   the root filesystem to import
 * Exit status 0 only if every step and check passed. run.sh builds and runs it on a scratch tree.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volt.h"

#define NAME "example/app:1"

/* Report a failed call and free its error. Returns 1 if `err` was an error. */
static int failed(const char *what, volt_error_t *err) {
    if (err == NULL) {
        return 0;
    }
    fprintf(stderr, "%s: %s (%d): %s\n", what, volt_error_kind_name(err), volt_error_kind(err),
            volt_error_message(err));
    volt_error_free(err);
    return 1;
}

/* Copy the string value of the first "key" in a JSON document into out (enough for digests).
 * The library's JSON is compact (no spaces), so a strstr for "key":" finds it; a real program
 * would use a JSON parser. */
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

/* The number value of the first "key" in a JSON document (0 if absent). */
static uint64_t json_number(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *start = strstr(json, pattern);
    return start == NULL ? 0 : strtoull(start + strlen(pattern), NULL, 10);
}

/* How many times `needle` occurs in `haystack`. */
static int count(const char *haystack, const char *needle) {
    int n = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/*
 * The progress callback: one line per report. It may run on a library thread, but never twice
 * at once and never after the call that took it has returned, so it can update `user_data`
 * (here a counter of reports) without a lock. `p` and `p->item` are only valid during the call.
 */
static void show_progress(const volt_progress_t *p, void *user_data) {
    static const char *const phases[] = {"?", "read", "download", "upload", "apply", "write", "skip"};
    const char *phase = p->phase >= VOLT_PHASE_READ && p->phase <= VOLT_PHASE_SKIP ? phases[p->phase] : "?";
    /* Digests are long: the algorithm and 12 hex digits are enough to tell blobs apart here. */
    int width = strncmp(p->item, "sha256:", 7) == 0 ? 19 : (int)strlen(p->item);
    if (p->has_total) {
        printf("  %-8s %.*s %" PRIu64 "/%" PRIu64 "\n", phase, width, p->item, p->done, p->total);
    } else {
        printf("  %-8s %.*s\n", phase, width, p->item);
    }
    (*(unsigned *)user_data)++;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s WORK DIR\n", argv[0]);
        return 2;
    }
    const char *work = argv[1];
    const char *dir = argv[2];
    int ok = 0; /* set once every step has run and every check passed */
    int same_tree = 0, same_manifest = 0, complete = 0;
    unsigned reports = 0;
    volt_store_t *first = NULL, *second = NULL;
    volt_registry_t *registry = NULL;
    char *json = NULL, *token = NULL, *url = NULL;
    /* Digests ("sha256:" or "blake3:" and 64 hex digits) fit in 80 bytes. */
    char path[4096], file[4200], target[128];
    char id[80] = "", tree[80] = "", manifest[80] = "", copy_tree[80] = "", copy_manifest[80] = "";
    const char *repos[] = {"example/*"};

    /* The first store, with every Volt path under WORK/first. */
    snprintf(path, sizeof path, "%s/first", work);
    if (failed("open first store", volt_store_open(path, &first))) {
        goto done;
    }

    /* A plain directory imports as a one-layer image with a minimal config for this host. The
     * progress callback gets &reports as its user_data. */
    printf("import:   %s as %s\n", dir, NAME);
    if (failed("import", volt_image_import(first, dir, NAME, show_progress, &reports, &json))) {
        goto done;
    }
    volt_string_free(json);
    json = NULL;

    /* The record is JSON: "id" is the config digest, "tree" the root filesystem tree's digest,
     * and each entry of "layers" has one "diff_id". */
    if (failed("inspect", volt_image_inspect(first, NAME, &json))) {
        goto done;
    }
    if (!json_string(json, "id", id, sizeof id) || !json_string(json, "tree", tree, sizeof tree)) {
        fprintf(stderr, "inspect: no id or tree in %s\n", json);
        goto done;
    }
    printf("inspect:  id %s\n", id);
    /* Layers have a "size" too; the record's own "files" and "size" follow its "tree". */
    const char *totals = strstr(json, "\"tree\":");
    printf("          tree %s (%" PRIu64 " entries, %" PRIu64 " bytes)\n", tree, json_number(totals, "files"),
           json_number(totals, "size"));
    printf("          %d layer(s)\n", count(json, "\"diff_id\":"));
    volt_string_free(json);
    json = NULL;

    /* Serve the first store as an OCI registry; port 0 picks a free port, volt_registry_port
     * says which. The registry runs on threads of its own until volt_registry_stop. */
    if (failed("registry start", volt_registry_start(first, "127.0.0.1:0", NULL, NULL, &registry))) {
        goto done;
    }
    url = volt_registry_url(registry);
    printf("registry: %s\n", url);

    /* Pushing needs a token, signed with the store's key so that this registry accepts it. It is
     * a secret: never print it. */
    if (failed("token", volt_registry_token_create(first, repos, 1, "pull,push", "10m", &token))) {
        goto done;
    }

    /* The registry part of a reference is HOST:PORT. Loopback registries are spoken to in plain
     * HTTP (any other needs HTTPS unless `insecure` is true). */
    snprintf(target, sizeof target, "127.0.0.1:%u/example/app:1", (unsigned)volt_registry_port(registry));
    printf("push:     %s -> %s\n", NAME, target);
    if (failed("push", volt_image_push(first, NAME, target, NULL, NULL, token, false, show_progress, &reports,
                                       &json))) {
        goto done;
    }
    json_string(json, "manifest_digest", manifest, sizeof manifest);
    printf("          manifest %s, %" PRIu64 " blob(s) uploaded, %" PRIu64 " skipped, %" PRIu64 " bytes\n",
           manifest, json_number(json, "uploaded"), json_number(json, "skipped"), json_number(json, "bytes"));
    volt_string_free(json);
    json = NULL;

    /* A second store on its own root knows nothing of the first: everything comes over HTTP. */
    snprintf(path, sizeof path, "%s/second", work);
    if (failed("open second store", volt_store_open(path, &second))) {
        goto done;
    }
    printf("pull:     %s -> %s (second store)\n", target, NAME);
    if (failed("pull", volt_image_pull(second, target, NAME, NULL, NULL, token, false, show_progress, &reports,
                                       &json))) {
        goto done;
    }

    /* The tree digest covers the whole root filesystem (content, names, modes, links): equal
     * digests mean the image came back identical. The manifest must be the one pushed, too. */
    json_string(json, "tree", copy_tree, sizeof copy_tree);
    json_string(json, "manifest_digest", copy_manifest, sizeof copy_manifest);
    volt_string_free(json);
    json = NULL;
    same_tree = strcmp(copy_tree, tree) == 0;
    same_manifest = manifest[0] != '\0' && strcmp(copy_manifest, manifest) == 0;
    printf("compare:  tree %s %s\n", copy_tree, same_tree ? "identical" : "DIFFERS");
    printf("          manifest %s %s\n", copy_manifest, same_manifest ? "identical" : "DIFFERS");

    /* Export the pulled copy as an OCI image layout directory (skopeo, podman, ... read it; so
     * does volt_image_import). It must be absent or empty; a name ending in .tar makes a tar. */
    snprintf(path, sizeof path, "%s/app.oci", work);
    printf("export:   %s -> %s\n", NAME, path);
    if (failed("export", volt_image_export(second, NAME, path, show_progress, &reports, &json))) {
        goto done;
    }
    snprintf(file, sizeof file, "%s/oci-layout", path);
    complete = access(file, F_OK) == 0;
    printf("          %" PRIu64 " blobs, %" PRIu64 " bytes, %s\n", json_number(json, "blobs"),
           json_number(json, "bytes"), complete ? "oci-layout written" : "INCOMPLETE");
    volt_string_free(json);
    json = NULL;

    /* Stop accepting connections, give requests in flight 5 s, and wait for the server to end.
     * The handle still has to be freed (below). */
    if (failed("registry stop", volt_registry_stop(registry, 5000))) {
        goto done;
    }
    printf("registry: stopped (%u progress reports in all)\n", reports);
    ok = same_tree && same_manifest && complete && reports > 0;

done:
    /* Every free accepts NULL, so one cleanup path serves success and every failure. Freeing a
     * registry that still runs (after a failed step) stops it without a grace period. */
    volt_string_free(json);
    volt_string_free(token);
    volt_string_free(url);
    volt_registry_free(registry);
    volt_store_free(second);
    volt_store_free(first);
    printf("%s\n", ok ? "all checks passed" : "some checks FAILED");
    return ok ? 0 : 1;
}
