/* The registry of representation sources: adding a source is one new file
 * plus one line in each list below. */
#include <stdio.h>
#include <string.h>

#include "w2s/repr.h"

extern const w2s_repr_source w2s_repr_source_target;
extern const w2s_repr_source w2s_repr_source_perturb;
extern const w2s_repr_source w2s_repr_source_random;
extern const w2s_repr_source w2s_repr_source_pretrain;

const w2s_repr_source *const w2s_repr_sources[] = {
    &w2s_repr_source_target,
    &w2s_repr_source_perturb,
    &w2s_repr_source_random,
    &w2s_repr_source_pretrain,
    NULL,
};

const w2s_repr_source *w2s_repr_source_find(const char *name) {
  for (int k = 0; w2s_repr_sources[k]; ++k)
    if (strcmp(w2s_repr_sources[k]->name, name) == 0)
      return w2s_repr_sources[k];
  return NULL;
}

void w2s_repr_source_list(char *buf, size_t n) {
  size_t used = 0;
  if (n) buf[0] = '\0';
  for (int k = 0; w2s_repr_sources[k] && used < n; ++k)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", k ? "|" : "",
                             w2s_repr_sources[k]->name);
}
