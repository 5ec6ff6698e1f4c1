/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-manifest.c — libFuzzer target for the manifest (CSV) parser.
 *
 * Input: the manifest text, parsed from memory
 * (udml_data_list_parse_manifest) and bound to the tiny model's labels
 * (udml_data_list_bind). Nothing is opened or decoded: the target exercises
 * the header and field splitting, the row errors and the label lookup, and
 * checks what the extractor relies on. */
#include "fuzz-common.h"
#include "udml-data.h"

static UdmlConfig cfg;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_quiet ();
  fuzz_tiny_config (&cfg);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  UdmlDataList list;
  UdmlError err = { 0 };
  int prev_line = 0;

  if (udml_data_list_parse_manifest (&list, "fuzz/m.csv", (const char *) data,
          size, &err) != UDML_OK) {
    /* a failed parse leaves nothing to free */
    if (list.n_items != 0 || list.items || list.origin)
      fuzz_fail ("failed parse left items behind");
    return 0;
  }
  if (list.n_items < 1)
    fuzz_fail ("parsed manifest without items");
  if (udml_data_list_bind (&list, &cfg, &err) != UDML_OK)
    fuzz_fail ("bind failed without running out of memory");
  for (int i = 0; i < list.n_items; i++) {
    const UdmlDataItem *it = &list.items[i];
    /* what udml_data_extract and the trainer rely on */
    if (it->y < -1 || it->y >= cfg.n_classes)
      fuzz_fail ("bound item with a label outside the model's classes");
    if (it->y < 0 && !it->error)
      fuzz_fail ("usable item without a label");
    if (!it->a_path || !it->v_path || !it->label)
      fuzz_fail ("item without paths or label text");
    if (it->line <= prev_line)
      fuzz_fail ("item lines not increasing");
    prev_line = it->line;
  }
  udml_data_list_clear (&list);
  return 0;
}
