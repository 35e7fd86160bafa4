/*
 * C-side tests of libvolt's VMs: volt_vm_* and volt_kernel_*.
 *
 * Argument errors come first (NULL handles and names, bad option JSON, a file that is not a
 * kernel, a kernel profile that is not installed). Then the test guest (VOLT_TEST_GUEST: the
 * directory tests/vm/guest.sh builds, with vmlinuz, initrd.img and disk.qcow2) is imported and
 * booted for real under the accelerator Volt's probe picks: the guest's marker appears in the
 * serial log, QEMU's query-status follows pause and resume, the console answers, a snapshot is
 * taken (a second one of the same name is refused), the guest is stopped through ACPI, the
 * snapshot restored, vCPU pinning recorded, a kernel in use refused removal, and everything
 * deleted. No network is used, so nothing of the host's networking is touched.
 *
 * VMs need root, qemu-system-x86_64, VOLT_SUPERVISOR and VOLT_TEST_GUEST; without them that
 * part is skipped, saying why; with CI=true a skip is a failure.
 *
 * Usage: test_vm SCRATCH_DIR   (an empty, writable directory)
 * Prints "ok N - ..." / "not ok N - ..." lines and a final "C vm: N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Consume an error and return its kind (VOLT_OK for NULL), showing its details. */
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

static int on_path(const char *prog) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until the VM's serial log contains `marker` at least `times` times. */
static int wait_log(volt_store_t *store, const char *vm, const char *marker, int times, int secs) {
    for (int i = 0; i < secs * 10; i++) {
        char *text = NULL;
        if (volt_vm_logs(store, vm, -1, &text) == NULL) {
            int n = 0;
            for (const char *p = text; (p = strstr(p, marker)) != NULL; p += strlen(marker)) {
                n++;
            }
            volt_string_free(text);
            if (n >= times) {
                return 1;
            }
        }
        sleep_ms(100);
    }
    return 0;
}

static int status_is(volt_store_t *store, const char *vm, const char *want) {
    char *s = NULL;
    if (kind_of(volt_vm_query_status(store, vm, &s)) != VOLT_OK) {
        return 0;
    }
    int ok = strcmp(s, want) == 0;
    if (!ok) {
        printf("# query-status: %s\n", s);
    }
    volt_string_free(s);
    return ok;
}

static void test_arguments(volt_store_t *store) {
    char *json = (char *)"untouched";
    check(kind_of(volt_vm_create(NULL, "a", NULL, &json)) == VOLT_ERR_USAGE, "NULL store is a usage error");
    check(kind_of(volt_vm_create(store, NULL, NULL, &json)) == VOLT_ERR_USAGE, "NULL name is a usage error");
    check(kind_of(volt_vm_create(store, "a", "{\"memroy\": \"1G\"}", &json)) == VOLT_ERR_USAGE,
          "an unknown option is a usage error");
    check(kind_of(volt_vm_create(store, "a", "{\"kernel\": \"server\"}", &json)) == VOLT_ERR_DEPENDENCY,
          "a kernel profile that is not installed is a missing dependency");
    check(kind_of(volt_vm_create(store, "a", "{\"kernel\": \"nope\"}", &json)) == VOLT_ERR_NOT_FOUND,
          "an unknown kernel is not found");
    check(kind_of(volt_vm_inspect(store, "nope", &json)) == VOLT_ERR_NOT_FOUND, "an unknown VM is not found");
    check(kind_of(volt_kernel_import(store, "/etc/hostname", "k", NULL, NULL, &json)) == VOLT_ERR_USAGE,
          "a file that is not a kernel is refused");
    check(strcmp(json, "untouched") == 0, "failed calls leave *json_out alone");
    char *list = NULL;
    check(kind_of(volt_vm_list(store, &list)) == VOLT_OK && strcmp(list, "[]") == 0, "no VMs to begin with");
    volt_string_free(list);
}

static void test_vm(volt_store_t *store, const char *guest) {
    char kernel[4096], initrd[4096], disk[4096], opts[8192];
    snprintf(kernel, sizeof kernel, "%s/vmlinuz", guest);
    snprintf(initrd, sizeof initrd, "%s/initrd.img", guest);
    snprintf(disk, sizeof disk, "%s/disk.qcow2", guest);
    char *json = NULL;
    check(kind_of(volt_kernel_import(store, kernel, "testk", initrd, NULL, &json)) == VOLT_OK &&
              contains(json, "\"initrd\":true"),
          "import the guest kernel");
    volt_string_free(json);
    snprintf(opts, sizeof opts, "{\"kernel\": \"testk\", \"disk\": \"%s\", \"memory\": \"256M\", \"disk_size\": \"1G\"}",
             disk);
    json = NULL;
    check(kind_of(volt_vm_create(store, "cvm", opts, &json)) == VOLT_OK && contains(json, "\"status\":\"stopped\""),
          "create a VM on the guest disk");
    volt_string_free(json);
    check(kind_of(volt_vm_create(store, "cvm", opts, NULL)) == VOLT_ERR_ALREADY_EXISTS, "a taken name is refused");

    json = NULL;
    check(kind_of(volt_vm_start(store, "cvm", &json)) == VOLT_OK && contains(json, "\"status\":\"running\""),
          "start it");
    volt_string_free(json);
    check(wait_log(store, "cvm", "VOLT-GUEST-READY", 1, 90), "the guest's marker appears on its console");
    check(status_is(store, "cvm", "running"), "query-status says running");
    check(kind_of(volt_vm_start(store, "cvm", NULL)) == VOLT_ERR_CONFLICT, "a second start is a conflict");
    check(kind_of(volt_vm_pause(store, "cvm", NULL)) == VOLT_OK && status_is(store, "cvm", "paused"),
          "pause: query-status says paused");
    json = NULL;
    check(kind_of(volt_vm_inspect(store, "cvm", &json)) == VOLT_OK && contains(json, "\"status\":\"paused\""),
          "the record says paused (from QEMU's STOP event)");
    volt_string_free(json);
    check(kind_of(volt_vm_resume(store, "cvm", NULL)) == VOLT_OK && status_is(store, "cvm", "running"),
          "resume: query-status says running");
    char *out = NULL;
    check(kind_of(volt_vm_console_exchange(store, "cvm", "echo C-$((20+1))\n", "C-21", 30000, &out)) == VOLT_OK &&
              contains(out, "C-21"),
          "the console answers");
    volt_string_free(out);
    json = NULL;
    check(kind_of(volt_vm_snapshot_create(store, "cvm", "s1", &json)) == VOLT_OK && contains(json, "\"live\":true"),
          "a live snapshot");
    volt_string_free(json);
    check(kind_of(volt_vm_snapshot_create(store, "cvm", "s1", NULL)) == VOLT_ERR_ALREADY_EXISTS,
          "a snapshot name that exists is refused");
    check(kind_of(volt_vm_snapshot_restore(store, "cvm", "s1")) == VOLT_ERR_CONFLICT,
          "restoring a running VM is a conflict");
    json = NULL;
    check(kind_of(volt_vm_stop(store, "cvm", 20, &json)) == VOLT_OK && contains(json, "the guest powered off"),
          "stop powers the guest off through ACPI");
    volt_string_free(json);
    check(kind_of(volt_vm_stop(store, "cvm", -1, NULL)) == VOLT_ERR_CONFLICT, "stopping a stopped VM is a conflict");
    check(kind_of(volt_vm_snapshot_restore(store, "cvm", "s1")) == VOLT_OK, "restore the snapshot");
    check(kind_of(volt_vm_snapshot_restore(store, "cvm", "nope")) == VOLT_ERR_NOT_FOUND,
          "an unknown snapshot is not found");
    json = NULL;
    check(kind_of(volt_vm_snapshot_list(store, "cvm", &json)) == VOLT_OK && contains(json, "\"name\":\"s1\""),
          "list snapshots");
    volt_string_free(json);
    json = NULL;
    check(kind_of(volt_vm_pin_cpus(store, "cvm", "0", &json)) == VOLT_OK && contains(json, "\"cpu_pin\":[0]"),
          "pin the vCPUs (recorded for the next start)");
    volt_string_free(json);
    check(kind_of(volt_vm_pin_cpus(store, "cvm", "0-9999", NULL)) == VOLT_ERR_USAGE, "a CPU the host lacks is refused");
    check(kind_of(volt_kernel_remove(store, "testk")) == VOLT_ERR_CONFLICT, "a kernel in use stays");
    json = NULL;
    check(kind_of(volt_kernel_list(store, &json)) == VOLT_OK && contains(json, "\"name\":\"testk\""), "list kernels");
    volt_string_free(json);
    check(kind_of(volt_vm_snapshot_delete(store, "cvm", "s1")) == VOLT_OK, "delete the snapshot");
    check(kind_of(volt_vm_delete(store, "cvm", 0)) == VOLT_OK, "delete the VM");
    json = NULL;
    check(kind_of(volt_vm_list(store, &json)) == VOLT_OK && strcmp(json, "[]") == 0, "no VMs left");
    volt_string_free(json);
    check(kind_of(volt_kernel_remove(store, "testk")) == VOLT_OK, "remove the kernel");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    volt_store_t *store = NULL;
    snprintf(path, sizeof path, "%s/root", argv[1]);
    if (kind_of(volt_store_open(path, &store)) != VOLT_OK) {
        check(0, "open a store");
        printf("C vm: %d passed, %d failed\n", passed, failed);
        return 1;
    }
    test_arguments(store);
    const char *guest = getenv("VOLT_TEST_GUEST");
    const char *why = NULL;
    if (geteuid() != 0) {
        why = "not root";
    } else if (!on_path("qemu-system-x86_64")) {
        why = "qemu-system-x86_64 is not installed";
    } else if (getenv("VOLT_SUPERVISOR") == NULL) {
        why = "VOLT_SUPERVISOR is not set (run_c_tests.sh sets it)";
    } else if (guest == NULL) {
        why = "VOLT_TEST_GUEST is not set (run_c_tests.sh builds the guest with tests/vm/guest.sh)";
    }
    if (can_run("VM tests", why)) {
        test_vm(store, guest);
    }
    volt_store_free(store);
    printf("C vm: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
