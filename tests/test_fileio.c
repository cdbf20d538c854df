/* hkref — ref/fileio.c's atomic write never replaces what is not a regular
 * file (rule 4).  Renaming over a path replaces the node itself: as root,
 * writing a result "to /dev/null" would have replaced the device with a
 * regular file.  Checked here on nodes made in a temporary directory (a FIFO,
 * a directory, a symbolic link), never on the system's own /dev/null. */
#include "hk_test.h"

#include "ref/fileio.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

START_TEST(atomic_write_never_replaces_a_non_regular_file)
{
    char dir[] = "/tmp/hkref-fileio-XXXXXX", p[4][256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p[0], sizeof p[0], "%s/fifo", dir);
    snprintf(p[1], sizeof p[1], "%s/sub", dir);
    snprintf(p[2], sizeof p[2], "%s/link", dir);
    snprintf(p[3], sizeof p[3], "%s/regular", dir);
    ck_assert_int_eq(mkfifo(p[0], 0600), 0);
    ck_assert_int_eq(mkdir(p[1], 0700), 0);
    ck_assert_int_eq(symlink("regular", p[2]), 0);
    hk_assert_ok(hk_file_write_atomic(p[3], "old", 3));
    static const char *const what[3] = {"is a FIFO, not a regular file", "is a directory, not a regular file",
                                        "is a symbolic link, not a regular file"};
    for (int i = 0; i < 3; i++) {
        hk_assert_fails(hk_file_write_atomic(p[i], "new", 3), HK_EIO, what[i]);
        ck_assert_msg(strstr(hk_error_message(), p[i]), "message does not name %s", p[i]);
        struct stat st;
        ck_assert_int_eq(lstat(p[i], &st), 0);
        ck_assert_msg(i == 0 ? S_ISFIFO(st.st_mode) : i == 1 ? S_ISDIR(st.st_mode) : S_ISLNK(st.st_mode),
                      "%s was replaced", p[i]);
    }
    ck_assert_int_eq(entries(dir), 4); /* no temporary left behind */
    /* a regular file is replaced, atomically */
    hk_assert_ok(hk_file_write_atomic(p[3], "new!", 4));
    unsigned char *buf = NULL;
    size_t len = 0;
    hk_assert_ok(hk_file_read(p[3], 100, &buf, &len));
    ck_assert_uint_eq(len, 4);
    ck_assert(!memcmp(buf, "new!", 4));
    free(buf);
    ck_assert_int_eq(entries(dir), 4);
    for (int i = 0; i < 4; i++) i == 1 ? rmdir(p[i]) : unlink(p[i]);
    rmdir(dir);
}
END_TEST

Suite *suite_fileio(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("Limits");
    tcase_add_test(tc, atomic_write_never_replaces_a_non_regular_file);
    suite_add_tcase(s, tc);
    return s;
}
