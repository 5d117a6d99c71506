#ifndef TIMBRE_CJACK_H
#define TIMBRE_CJACK_H
#include <jack/jack.h>
#endif
