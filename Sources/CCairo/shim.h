#ifndef TIMBRE_CCAIRO_H
#define TIMBRE_CCAIRO_H
#include <cairo/cairo.h>
#endif
