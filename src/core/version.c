/* The build's provenance, compiled into the library (CMake defines the
 * macros for the library target only), so that every program linking it,
 * the CLI included, reports the same version. */
#include "w2s/core.h"

#ifndef W2S_VERSION
#define W2S_VERSION "unknown"
#endif
#ifndef W2S_GIT_REVISION
#define W2S_GIT_REVISION "unknown"
#endif
#ifndef W2S_COMPILER
#define W2S_COMPILER "unknown"
#endif

const char *w2s_version(void) { return W2S_VERSION; }
const char *w2s_git_revision(void) { return W2S_GIT_REVISION; }
const char *w2s_compiler(void) { return W2S_COMPILER; }
