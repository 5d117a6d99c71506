#ifndef TIMBRE_CJACK_H
#define TIMBRE_CJACK_H
#include <jack/jack.h>
#include <stddef.h>

// jack_client_open is variadic, which Swift cannot call: pass the server name (or NULL) here.
static inline jack_client_t *timbre_jack_client_open(const char *name, jack_options_t options,
                                                     jack_status_t *status, const char *server) {
    if (server != NULL) {
        return jack_client_open(name, (jack_options_t)(options | JackServerName), status, server);
    }
    return jack_client_open(name, options, status);
}

// JACK_DEFAULT_AUDIO_TYPE is a macro.
static inline const char *timbre_jack_audio_type(void) { return JACK_DEFAULT_AUDIO_TYPE; }
#endif
