#ifndef TIMBRE_CSNDFILE_H
#define TIMBRE_CSNDFILE_H
#include <sndfile.h>
#endif
