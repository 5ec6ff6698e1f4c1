/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-model.c — libFuzzer target for the model file loader
 * (udml_model_load, udml_model_verify).
 *
 * Input: one mode byte, then the file. Mode bit 0 recomputes the header and
 * tensor CRCs first, so mutations reach the parser behind the checksums. */
#include "fuzz-common.h"

static FuzzFile file;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_quiet ();
  if (fuzz_file_open (&file) != 0)
    fuzz_fail ("harness setup or scratch file write failed");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  UdmlModel *model = NULL;
  UdmlError err;
  uint8_t *scratch;
  size_t n;
  int fix;

  scratch = fuzz_payload (data, size, &n, &fix);
  if (!scratch)
    return 0;
  if (fix)
    fuzz_fix_udml (scratch, n);
  if (fuzz_file_set (&file, scratch, n) != 0)
    fuzz_fail ("harness setup or scratch file write failed");

  if (udml_model_load (file.path, &model, &err) == UDML_OK) {
    /* what udml-inspect shows of a loaded model */
    int dims[4];
    const char *prov = udml_model_provenance (model);
    for (int i = 0; i < udml_model_num_tensors (model); i++) {
      if (!udml_model_tensor_name (model, i)
          || udml_model_tensor_dims (model, i, dims) < 1)
        fuzz_fail ("loaded model has a tensor without name or dims");
    }
    if (prov && strlen (prov) > n)
      fuzz_fail ("provenance longer than the file");
    if (udml_model_verify (file.path, &err) != UDML_OK)
      fuzz_fail ("file loads but does not verify");
    udml_model_free (model);
  }
  return 0;
}
