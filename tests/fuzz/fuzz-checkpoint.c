/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-checkpoint.c — libFuzzer target for the training checkpoint loader
 * (udml_checkpoint_load) against the tiny model of fuzz-common.h, the model
 * the seed checkpoints are written from.
 *
 * Input: one mode byte, then the file. Mode bit 0 recomputes the header and
 * tensor CRCs first, so mutations reach the parser behind the checksums. */
#include "fuzz-common.h"
#include "internal.h"

static FuzzFile file;
static UdmlModel *model;
static float *momentum;
static size_t n_momentum;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  UdmlConfig cfg;

  fuzz_quiet ();
  fuzz_tiny_config (&cfg);
  model = udml_model_new (&cfg, 1, NULL);
  if (!model || fuzz_file_open (&file) != 0)
    fuzz_fail ("harness setup or scratch file write failed");
  udml_model_params (model, &n_momentum);
  momentum = calloc (n_momentum, sizeof (float));
  if (!momentum)
    fuzz_fail ("harness setup or scratch file write failed");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  UdmlCheckpointState st;
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

  /* the trainer's call: momentum of the model's parameter count */
  udml_checkpoint_load (file.path, model, &st, momentum, n_momentum, &err);
  return 0;
}
