#ifndef TIMBRE_CEBUR128_H
#define TIMBRE_CEBUR128_H
#include <ebur128.h>
#endif
