#ifndef TIMBRE_CFFTW_H
#define TIMBRE_CFFTW_H
#include <fftw3.h>
/* FFTW's flags are macros Swift imports only partly; name the ones timbre uses. */
static const unsigned timbre_fftw_estimate = FFTW_ESTIMATE;
static const unsigned timbre_fftw_unaligned = FFTW_UNALIGNED;
static const unsigned timbre_fftw_preserve_input = FFTW_PRESERVE_INPUT;
static const unsigned timbre_fftw_destroy_input = FFTW_DESTROY_INPUT;
#endif
