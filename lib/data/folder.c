/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* folder.c — a folder per class (DIR/<label>/<clip>) into a data list. */
#include "data-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Non-hidden entries of dir, byte-sorted; want_dir picks directories or
 * regular files (symbolic links followed). -1 with errno on failure. */
static int
list_entries (const char *dir, int want_dir, char ***out, int *n_out)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char **names = NULL;
  int n = 0, cap = 0;

  *out = NULL;
  *n_out = 0;
  if (!d)
    return -1;
  while ((e = readdir (d)) != NULL) {
    struct stat st;
    if (e->d_name[0] == '.')
      continue;
    char *full = udml_data_printf ("%s/%s", dir, e->d_name);
    if (!full)
      goto nomem;
    int ok = stat (full, &st) == 0
        && (want_dir ? S_ISDIR (st.st_mode) : S_ISREG (st.st_mode));
    free (full);
    if (!ok)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc (names, (size_t) cap * sizeof *nn);
      if (!nn)
        goto nomem;
      names = nn;
    }
    if (!(names[n] = udml_data_strdup (e->d_name)))
      goto nomem;
    n++;
  }
  closedir (d);
  if (n > 0)                    /* qsort wants a non-NULL base */
    qsort (names, (size_t) n, sizeof *names, cmp_names);
  *out = names;
  *n_out = n;
  return 0;
nomem:
  closedir (d);
  for (int i = 0; i < n; i++)
    free (names[i]);
  free (names);
  errno = ENOMEM;
  return -1;
}

static void
free_names (char **names, int n)
{
  for (int i = 0; i < n; i++)
    free (names[i]);
  free (names);
}

/* The items of one class folder. */
static UdmlStatus
add_class (UdmlDataList * list, int *cap, const char *dir, const char *label,
    UdmlError * err)
{
  char *cdir = udml_data_printf ("%s/%s", dir, label);
  char **files = NULL;
  int n = 0;
  UdmlStatus st = UDML_OK;

  if (!cdir || list_entries (cdir, 0, &files, &n)) {
    st = udml_error_set (err, errno == ENOMEM || !cdir ? UDML_ERR_NOMEM :
        UDML_ERR_IO, "%s/%s: %s", dir, label, strerror (errno));
    goto out;
  }
  if (list->n_items + n > *cap) {
    int nc = list->n_items + n + 64;
    UdmlDataItem *ni = realloc (list->items, (size_t) nc * sizeof *ni);
    if (!ni) {
      st = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", dir);
      goto out;
    }
    list->items = ni;
    *cap = nc;
  }
  for (int i = 0; i < n; i++) {
    UdmlDataItem *it = &list->items[list->n_items];
    memset (it, 0, sizeof *it);
    it->y = -1;
    it->end_s = -1.0;
    it->a_path = udml_data_printf ("%s/%s", cdir, files[i]);
    it->v_path = it->a_path;
    it->label = udml_data_strdup (label);
    list->n_items++;
    if (!it->a_path || !it->label) {
      st = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", dir);
      goto out;
    }
    /* names and sizes are hashed by the cache key; the layout here */
    list->digest = udml_data_hash (list->digest, label, strlen (label) + 1);
    list->digest = udml_data_hash (list->digest, files[i],
        strlen (files[i]) + 1);
  }
out:
  free_names (files, n);
  free (cdir);
  return st;
}

UdmlStatus
udml_data_list_read_folder (UdmlDataList * list, const char *dir,
    UdmlError * err)
{
  char **classes = NULL;
  int n = 0, cap = 0;
  UdmlStatus st = UDML_OK;

  memset (list, 0, sizeof *list);
  list->digest = udml_data_hash (UDML_DATA_HASH_INIT, "folder", 7);
  if (!(list->origin = udml_data_strdup (dir)))
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", dir);
  if (list_entries (dir, 1, &classes, &n)) {
    st = udml_error_set (err, errno == ENOMEM ? UDML_ERR_NOMEM : UDML_ERR_IO,
        "%s: %s", dir, strerror (errno));
    goto out;
  }
  if (n == 0) {
    st = udml_error_set (err, UDML_ERR_FORMAT, "%s: %s, but without class "
        "folders (expected DIR/<label>/<clip>, or give a CSV manifest)", dir,
        strerror (EISDIR));
    goto out;
  }
  for (int i = 0; i < n && st == UDML_OK; i++)
    st = add_class (list, &cap, dir, classes[i], err);
  if (st == UDML_OK && list->n_items == 0)
    st = udml_error_set (err, UDML_ERR_FORMAT,
        "%s: no clips in the class folders", dir);
out:
  free_names (classes, n);
  if (st != UDML_OK)
    udml_data_list_clear (list);
  return st;
}

UdmlStatus
udml_data_list_read (UdmlDataList * list, const char *path, UdmlError * err)
{
  struct stat st;
  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
    return udml_data_list_read_folder (list, path, err);
  return udml_data_list_read_manifest (list, path, err);
}
