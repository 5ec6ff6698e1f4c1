/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* state-cycle.h — NULL -> PLAYING -> NULL twice (start, stop, start again)
 * for an element with no pads linked, shared by the element tests. */
#ifndef UDML_TEST_STATE_CYCLE_H
#define UDML_TEST_STATE_CYCLE_H

#include <gst/check/gstcheck.h>

static void
check_state_cycle (const gchar * factory)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  GstState states[] = { GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING,
    GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_NULL
  };
  guint round, i;

  fail_unless (e != NULL, "could not make %s", factory);
  for (round = 0; round < 2; round++)
    for (i = 0; i < G_N_ELEMENTS (states); i++)
      fail_unless (gst_element_set_state (e, states[i]) !=
          GST_STATE_CHANGE_FAILURE, "%s, round %u: change to %s failed",
          factory, round, gst_element_state_get_name (states[i]));
  gst_object_unref (e);
}

#endif /* UDML_TEST_STATE_CYCLE_H */
