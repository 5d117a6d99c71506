#ifndef TIMBRE_CAUBIO_H
#define TIMBRE_CAUBIO_H
#include <aubio/aubio.h>
#endif
