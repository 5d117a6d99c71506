#ifndef TIMBRE_CSOXR_H
#define TIMBRE_CSOXR_H
#include <soxr.h>

/* soxr_error_t is a const char *; NULL means success. These wrap the
   function-like macros Swift cannot import. */
static inline soxr_io_spec_t timbre_soxr_io_spec_float_split(void) {
    return soxr_io_spec(SOXR_FLOAT32_S, SOXR_FLOAT32_S);
}
static inline soxr_quality_spec_t timbre_soxr_quality_vhq(void) {
    return soxr_quality_spec(SOXR_VHQ, 0);
}
static inline soxr_quality_spec_t timbre_soxr_quality_hq(void) {
    return soxr_quality_spec(SOXR_HQ, 0);
}
#endif
